"""The language server: thin glue between LSP messages and the completion runtime.

Every registered method is listed in HANDLERS and COMMANDS (one place, code actions' included),
each handler a module-level function. Handlers convert positions and documents to text +
offsets, hand the model work to the single model worker thread and convert the result back; the
event loop never runs the model.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from airgap_lsp.completion import calibration
from airgap_lsp.completion.backend import BackendError, Loaded, load_backend
from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.completer import Backend, CompletionRequest, Suggestion
from airgap_lsp.completion.power import on_battery
from airgap_lsp.completion.session import CompletionSession
from airgap_lsp.completion.settings import Settings
from airgap_lsp.completion.worker import INTERACTIVE, ModelWorker
from airgap_lsp.lsp import __version__, actions, logs
from airgap_lsp.lsp.cursor import METHOD as CURSOR
from airgap_lsp.lsp.cursor import OpenDocument, RestingPlaces
from airgap_lsp.lsp.cursor import parse as parse_cursor
from airgap_lsp.lsp.documents import Document, file_path, open_document, uri_key, use_documents
from airgap_lsp.lsp.logs import ClientLog
from airgap_lsp.lsp.options import parse_settings
from airgap_lsp.lsp.positions import LineIndex
from airgap_lsp.lsp.protocol import Protocol

if TYPE_CHECKING:
    from pygls.server import ServerErrors

log = logging.getLogger(__name__)

WARM_AFTER_LOAD = 3  # open documents whose prompt is warmed once the models are ready

STATUS = "airgap/status"
COMPLETION_STATS = "airgap/stats"
CONFIG_SECTION = "airgap"
CLIENT_TIMEOUT = 5.0  # seconds to wait for a client's answer to a server request
_LOG_LEVEL = {types.MessageType.Error: logging.ERROR, types.MessageType.Warning: logging.WARNING}


@dataclass
class State:
    settings: Settings
    backend: Backend | None = None
    load_error: str | None = None
    loading: asyncio.Future[Any] | None = None
    last_latency_ms: float | None = None
    calibration_refresh: calibration.Refresh | None = None  # measured after a first suggestion
    init_problems: list[str] = field(default_factory=list)  # told once initialized


class AirgapServer(LanguageServer):
    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__("airgap-lsp", __version__, protocol_cls=Protocol)
        self.state = State(settings or Settings())
        self.worker = ModelWorker()
        self.session = CompletionSession(self.worker)
        self.context = ContextProvider()
        self.cursors = RestingPlaces()  # where the cursor rests (airgap/cursor hints)
        self.calibration = calibration.Background(self.worker)  # after the first suggestion
        self.actions = actions.ActionState()
        self.loading_started = asyncio.Event()
        self.client_log: ClientLog | None = None  # set by `serve`: log records to the client

    # -- helpers used by the handlers -----------------------------------------------------

    def status(self, state: str, message: str = "", last: Suggestion | None = None) -> None:
        model = self.state.backend.description if self.state.backend else ""
        origin = self.state.backend.origin if self.state.backend else None
        params: dict[str, Any] = {
            "state": state,
            "message": message,
            "model": model,
            "modelSource": origin.source if origin else "",  # registry, ollama, hf, ...
            "choice": origin.choice if origin else "",  # "configured" or what auto decided
            "lastLatencyMs": self.state.last_latency_ms,
            # The last resting place of the cursor the server accepted (lsp.cursor).
            "cursor": resting.to_json() if (resting := self.cursors.latest) else None,
        }
        if last is not None:
            params["lastCompletion"] = {
                "promptTokens": last.prompt_tokens,
                "reusedTokens": last.reused_tokens,
                "generatedTokens": last.generated_tokens,
                "promptMs": round(last.prompt_ms, 1),
                "predictMs": round(last.predict_ms, 1),
                "tokensPerSecond": round(last.tokens_per_second, 2),
                "drafted": last.drafted,
                "accepted": last.accepted,
                "source": last.source,
                "shed": last.shed,
            }
        self.protocol.notify(STATUS, params)

    def tell_user(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        # Logged at the message's own level: an informational note ("cancelled") is no
        # warning, and only warnings and errors reach stderr.
        log.log(_LOG_LEVEL.get(kind, logging.INFO), "%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"airgap: {message}"))

    def report_server_error(self, error: Exception, source: ServerErrors) -> None:
        """pygls' report of a failure outside a request's own response. A message the loop
        could not read or handle is the client's doing: logged, never shown (the protocol
        answers a request with an error itself). A notification handler that failed is ours:
        shown, as pygls does."""
        if source is JsonRpcException:
            log.warning("unusable message from the client: %s", error)
            return
        super().report_server_error(error, source)

    def supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)

    async def load_models(self) -> None:
        """Load the configured models on the model worker, reporting $/progress.

        Never raises: any failure (a missing file, a calibration error, MemoryError...) is
        told to the user once, and the backend that was serving before, if any, stays.
        """
        settings = self.state.settings
        loop = asyncio.get_running_loop()
        progress = _LoadProgress(self)

        def report(message: str, percent: int) -> None:
            loop.call_soon_threadsafe(progress.report, message, percent)

        def load(_tok: object) -> Loaded | Exception:
            try:
                return load_backend(settings, report, self.context)
            except Exception as exc:  # MemoryError included; returned, told to the user once
                return exc

        # The load starts at once and the progress token is asked for meanwhile: a client
        # that never answers delays the models by CLIENT_TIMEOUT at most.
        future, _ = self.worker.submit(load, priority=INTERACTIVE - 1)
        self.status("loading", "loading models")
        progress.start()
        try:
            loaded = await asyncio.wrap_future(future)
        except Exception as exc:  # the worker closed under the load
            loaded = exc
        finally:
            await progress.settled()
            progress.end()
        if isinstance(loaded, Exception):
            self._load_failed(loaded)
            return
        previous = self.state.backend
        self.state.backend = loaded.backend
        if previous is not None:
            # After the requests queued for it: its engine's process is stopped.
            self.worker.submit(lambda _tok: previous.close(), priority=INTERACTIVE - 1)
        self.state.calibration_refresh = loaded.calibration
        self.state.load_error = None
        for warning in loaded.warnings:
            self.tell_user(warning)
        log.info("models ready in %.1f s: %s", loaded.load_seconds, loaded.backend.description)
        self.status("ready", f"loaded in {loaded.load_seconds:.1f} s")
        self._watch_engine(loaded.backend)
        # Documents opened while the models loaded (an editor's start): the newest first.
        for doc in reversed(list(self.workspace.text_documents.values())[-WARM_AFTER_LOAD:]):
            if isinstance(doc, Document):
                self.warm(doc)

    def _watch_engine(self, backend: Backend) -> None:
        """A remote engine's health: one message when it stops answering, the status while it
        is down and when it is back (its listener runs on the model worker)."""
        health = backend.health
        if health is None:
            return
        loop = asyncio.get_running_loop()
        fallback = backend.local_fallback

        def show(ok: bool, message: str) -> None:
            if self.state.backend is not backend:
                return  # replaced by a reload since
            if ok:
                self.status("ready", message)
                return
            if fallback:
                message += "; completing with the local model meanwhile"
            self.tell_user(message, types.MessageType.Error)
            self.status("ready" if fallback else "error", message)

        def told(ok: bool, message: str) -> None:  # on the model worker
            loop.call_soon_threadsafe(show, ok, message)

        health.listen(told)
        if not health.ok:  # told among the load's warnings; the status says it too
            self.status("ready" if fallback else "error", health.message)

    def _load_failed(self, exc: Exception) -> None:
        reason = _load_failure(exc)
        previous = self.state.backend
        if previous is not None:
            self.tell_user(
                f"cannot load the new model: {reason}; still using {previous.description}",
                types.MessageType.Error,
            )
            self.status("ready", f"reload failed: {reason}")
            return
        self.state.load_error = reason
        self.tell_user(f"cannot load the model: {reason}", types.MessageType.Error)
        self.status("error", reason)

    def start_loading(self) -> None:
        self.state.loading = asyncio.ensure_future(self.load_models())
        self.loading_started.set()

    async def ready_backend(self) -> Backend | None:
        """The backend once loaded; requests that arrive while models load wait for them."""
        await self.loading_started.wait()
        if self.state.loading is not None:
            try:
                await asyncio.shield(self.state.loading)
            except asyncio.CancelledError:
                raise
            except Exception:  # load_models reports its own failures; serve what is there
                pass
        return self.state.backend

    def document(self, uri: str) -> Document | None:
        """An open document, however the client spells its URI, or None (the server completes
        only what the client opened)."""
        return open_document(self.workspace, uri)

    def completes(self, doc: Document) -> bool:
        """Whether completions are on for this document's language."""
        settings = self.state.settings.completion
        return settings.enabled and (doc.language_id or "") not in settings.disabled_languages

    def request_at(self, doc: Document, text: str, offset: int) -> CompletionRequest:
        """The completion request for a place in a document's text."""
        return CompletionRequest(
            key=doc.key,
            text=text,
            offset=offset,
            path=_file_name(doc.uri),
            language=doc.language_id or "",
            lookup_texts=tuple(
                d.text
                for d in self.context.related(doc.key, doc.language_id or "", _fs_path(doc.uri))
            )[:4],
        )

    def idle_backend(self, doc: Document) -> Backend | None:
        """The backend idle work may use for a document: loaded, completions on for its
        language, pre-warming on, and not on battery."""
        backend = self.state.backend
        if backend is None or self.state.load_error is not None or not self.completes(doc):
            return None
        if not self.state.settings.completion.prewarm or on_battery():
            return None
        return backend

    def prewarm(self, doc: Document, offset: int) -> None:
        """Prepare the suggestion where the cursor rests, at low priority (never waits)."""
        backend = self.idle_backend(doc)
        if backend is None:
            return
        if self.session.prewarm(backend, self.request_at(doc, doc.index().text, offset)):
            log.debug("pre-warming %s at %d", doc.uri, offset)

    def warm(self, doc: Document) -> None:
        """Evaluate the prompt's part every place in the document shares, at low priority."""
        backend = self.idle_backend(doc)
        if backend is None:
            return
        if self.session.warm(backend, self.request_at(doc, doc.index().text, 0)):
            log.debug("warming the prompt of %s", doc.uri)

    async def suggest(
        self, doc: Document, position: types.Position
    ) -> tuple[Suggestion, int, LineIndex] | None:
        """Run one completion for a cursor; returns the suggestion, the cursor offset and the
        text it was made for (the document's text when the request came: later edits do not
        move what this answer refers to)."""
        settings = self.state.settings.completion
        if not self.completes(doc):
            return None
        index = doc.index()
        offset = index.exact_offset(position.line, position.character)
        if offset is None:
            # Past a line's end or the last line, or inside a character: the client's cursor
            # is not in the text the server has, so any place for a suggestion is a guess.
            log.debug("no suggestion at %s, not a position of %s", position, doc.uri)
            return None
        backend = await self.ready_backend()
        if backend is None:
            return None
        if settings.debounce_ms:
            await asyncio.sleep(settings.debounce_ms / 1000)
        request = self.request_at(doc, index.text, offset)
        t0 = time.monotonic()
        self.calibration.pause()  # a request comes first
        suggestion = await self.session.suggest(backend, request)
        if suggestion is None:
            return None
        self.calibration.after_suggestion(self.state.calibration_refresh)
        self.state.last_latency_ms = round((time.monotonic() - t0) * 1000, 1)
        self.status("ready", f"{suggestion.generated_tokens} tokens", last=suggestion)
        return suggestion, offset, index


class _LoadProgress:
    """`$/progress` for one model load: begins once the client has accepted the token (the
    load waits CLIENT_TIMEOUT at most for that answer), reports from the event loop, ends once."""

    def __init__(self, server: AirgapServer) -> None:
        self.server = server
        self.token = str(uuid.uuid4())
        self.begun = False
        self.ended = False
        self._task: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._begin())

    async def settled(self) -> None:
        """Wait until the client has answered the token request or CLIENT_TIMEOUT passed."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _begin(self) -> None:
        if not self.server.supports_progress():
            return
        wdp = self.server.work_done_progress
        try:
            await asyncio.wait_for(wdp.create_async(self.token), CLIENT_TIMEOUT)
        except Exception as exc:  # refused or unanswered: loading goes on without progress
            log.info("no progress for model loading: %r", exc)
            return
        wdp.begin(
            self.token, types.WorkDoneProgressBegin(title="airgap: loading models", percentage=0)
        )
        self.begun = True

    def report(self, message: str, percent: int) -> None:
        if self.begun and not self.ended:
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percent)
            )

    def end(self) -> None:
        if self.begun and not self.ended:
            end = types.WorkDoneProgressEnd(message="done")
            self.server.work_done_progress.end(self.token, end)
        self.ended = True


def _load_failure(exc: Exception) -> str:
    """What the user reads when loading failed."""
    if isinstance(exc, BackendError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (try a smaller model or models.contextSize)"
    log.error("model load failed", exc_info=exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _fs_path(uri: str) -> str:
    """The path of a file: URI; other URIs (untitled:, git:...) stand for themselves."""
    return file_path(uri) or uri


def _file_name(uri: str) -> str:
    """What a completion prompt calls the document: its file's base name (the code context
    names other files by their path in the workspace)."""
    path = _fs_path(uri)
    return path.rsplit("/", 1)[-1] if "/" in path else path


def _position(index: LineIndex, offset: int) -> types.Position:
    line, character = index.position(offset)
    return types.Position(line=line, character=character)


def _word_start(line_prefix: str) -> int:
    i = len(line_prefix)
    while i > 0 and (line_prefix[i - 1].isalnum() or line_prefix[i - 1] == "_"):
        i -= 1
    return i


# -- handlers: one module-level function per LSP method, listed in HANDLERS ----------------


def initialize(ls: AirgapServer, params: types.InitializeParams) -> None:
    """Read initializationOptions and the workspace folders."""
    use_documents(ls.protocol)  # before any didOpen: documents with LSP line ends
    if ls.client_log is not None:
        ls.client_log.connect()
    settings, problems = parse_settings(params.initialization_options, ls.state.settings)
    _apply_log_settings(ls, settings)
    ls.state.settings = settings
    ls.state.init_problems = problems
    folders = [f.uri for f in params.workspace_folders or []] or [params.root_uri or ""]
    ls.context.add_roots([p for p in map(file_path, folders) if p])


async def initialized(ls: AirgapServer, _params: types.InitializedParams) -> None:
    """Report option problems, pull workspace configuration, start loading the models."""
    for problem in ls.state.init_problems:
        ls.tell_user(problem)
    await pull_configuration(ls, reload=False)
    ls.start_loading()


async def did_change_configuration(
    ls: AirgapServer, params: types.DidChangeConfigurationParams
) -> None:
    """Apply new settings; reload the models if they changed."""
    raw = params.settings.get(CONFIG_SECTION) if isinstance(params.settings, dict) else None
    if raw is not None:
        apply_settings(ls, raw)
    else:
        await pull_configuration(ls, reload=True)


async def inline_completion(
    ls: AirgapServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    """Ghost text at the cursor."""
    doc = ls.document(params.text_document.uri)
    if doc is None:
        return None
    result = await ls.suggest(doc, params.position)
    if result is None:
        return types.InlineCompletionList(items=[])
    suggestion, offset, index = result
    cursor = types.Range(start=_position(index, offset), end=_position(index, offset))
    return types.InlineCompletionList(
        items=[types.InlineCompletionItem(insert_text=suggestion.text, range=cursor)]
    )


async def completion(
    ls: AirgapServer, params: types.CompletionParams
) -> types.CompletionList | None:
    """The suggestion as one completion item, for clients without inline completion."""
    doc = ls.document(params.text_document.uri)
    if doc is None:
        return None
    result = await ls.suggest(doc, params.position)
    if result is None:
        return types.CompletionList(is_incomplete=True, items=[])
    suggestion, offset, index = result
    line_start = index.line_start(offset)
    word_start = line_start + _word_start(index.text[line_start:offset])
    word = index.text[word_start:offset]
    first_line = suggestion.text.split("\n", 1)[0].strip() or suggestion.text.strip()
    return types.CompletionList(
        is_incomplete=True,
        items=[
            types.CompletionItem(
                label=(word + first_line)[:80],
                kind=types.CompletionItemKind.Text,
                detail="airgap",
                filter_text=word + suggestion.text,
                sort_text="0",
                preselect=True,
                text_edit=types.TextEdit(
                    range=types.Range(
                        start=_position(index, word_start), end=_position(index, offset)
                    ),
                    new_text=word + suggestion.text,
                ),
                insert_text_format=types.InsertTextFormat.PlainText,
            )
        ],
    )


def did_open(ls: AirgapServer, params: types.DidOpenTextDocumentParams) -> None:
    """Parse the document, note it as viewed and warm its prompt."""
    doc = ls.document(params.text_document.uri)
    if doc is not None:
        ls.context.open(doc.key, _fs_path(doc.uri), doc.language_id or "", doc.source)
        ls.warm(doc)


def did_change(ls: AirgapServer, params: types.DidChangeTextDocumentParams) -> None:
    """Re-parse incrementally with the very edits the document applied."""
    doc = ls.document(params.text_document.uri)
    if doc is None or ls.context.text(doc.key) is None:
        return
    # The edits carry the syntax tree forward; the text kept there is the document's own.
    ls.context.change(doc.key, doc.take_edits() or (), text=doc.source)


def did_save(ls: AirgapServer, params: types.DidSaveTextDocumentParams) -> None:
    """Refresh the saved file in the workspace index; warm the prompt of a document not yet
    asked in."""
    ls.context.saved(_fs_path(params.text_document.uri))
    doc = ls.document(params.text_document.uri)
    if doc is not None:
        ls.warm(doc)


def did_close(ls: AirgapServer, params: types.DidCloseTextDocumentParams) -> None:
    """Forget the document's trees, cached suggestions and kept prompt context."""
    key = uri_key(params.text_document.uri)
    ls.session.forget(key)
    ls.cursors.forget(key)
    ls.context.close(key)
    if ls.state.backend is not None:
        ls.state.backend.forget(key)


def cursor(ls: AirgapServer, params: Any) -> None:
    """Where the cursor rests (a hint from our own clients): kept per open document, and the
    suggestion for that place prepared at low priority."""
    hint = parse_cursor(params)
    if hint is None:
        log.debug("%s without a document, version and position: %r", CURSOR, params)
        return
    doc = ls.document(hint.uri)
    known = None if doc is None else OpenDocument(doc.key, doc.version, doc.index().exact_offset)
    resting = ls.cursors.note(hint, known)
    if resting is not None and doc is not None:
        ls.prewarm(doc, resting.offset)


async def stats(ls: AirgapServer, _params: Any) -> dict[str, int]:
    """Counters since start (requests, cache hits, cancellations, tokens...) and the KV
    memory of cached documents."""
    backend = ls.state.backend
    memory = {} if backend is None else await asyncio.to_thread(backend.memory_report)
    return dict(ls.session.stats) | memory


# Commands are declared here, where AirgapServer is defined: pygls evaluates a command
# handler's annotations to convert its arguments.
async def explain(ls: AirgapServer, *args: Any) -> None:
    """Explain code: args [uri, range]; a markdown document, else a message."""
    await actions.explain(ls, *args)


async def rewrite_selection(ls: AirgapServer, *args: Any) -> None:
    """Rewrite a selection: args [uri, range, instruction]; applied with workspace/applyEdit."""
    await actions.rewrite(ls, *args)


def shutdown(ls: AirgapServer, _params: Any) -> None:
    """Stop the model worker and the engine's process; give up the requests still waiting on
    the client."""
    ls.worker.close(timeout=2.0)
    if ls.state.backend is not None:
        ls.state.backend.close()
    assert isinstance(ls.protocol, Protocol)
    ls.protocol.cancel_pending()


# Every LSP method the server handles: (method, handler, registration options).
HANDLERS: tuple[tuple[str, Callable[..., Any], Any], ...] = (
    (types.INITIALIZE, initialize, None),
    (types.INITIALIZED, initialized, None),
    (types.WORKSPACE_DID_CHANGE_CONFIGURATION, did_change_configuration, None),
    (types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_completion, types.InlineCompletionOptions()),
    (
        types.TEXT_DOCUMENT_COMPLETION,
        completion,
        types.CompletionOptions(trigger_characters=[".", "(", " "]),
    ),
    (types.TEXT_DOCUMENT_DID_OPEN, did_open, None),
    (types.TEXT_DOCUMENT_DID_CHANGE, did_change, None),
    (types.TEXT_DOCUMENT_DID_SAVE, did_save, None),
    (types.TEXT_DOCUMENT_DID_CLOSE, did_close, None),
    (CURSOR, cursor, None),
    (COMPLETION_STATS, stats, None),
    (types.TEXT_DOCUMENT_CODE_ACTION, actions.code_action, actions.CODE_ACTION_OPTIONS),
    (types.CODE_ACTION_RESOLVE, actions.resolve, None),
    (actions.ACTION_STATS, actions.action_stats, None),
    (types.SHUTDOWN, shutdown, None),
)
# workspace/executeCommand: (command, handler).
COMMANDS: tuple[tuple[str, Callable[..., Any]], ...] = (
    (actions.EXPLAIN_COMMAND, explain),
    (actions.REWRITE_COMMAND, rewrite_selection),
)


def register(server: AirgapServer) -> None:
    """Register HANDLERS and COMMANDS on the server."""
    for method, handler, options in HANDLERS:
        server.feature(method, options)(handler)
    for command, handler in COMMANDS:
        server.command(command)(handler)


async def pull_configuration(ls: AirgapServer, reload: bool) -> None:
    workspace = ls.client_capabilities.workspace
    if not (workspace and workspace.configuration):
        return
    try:
        result = await asyncio.wait_for(
            ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=CONFIG_SECTION)])
            ),
            timeout=CLIENT_TIMEOUT,
        )
    except Exception as exc:  # a client that cannot answer keeps the current settings
        log.info("workspace/configuration failed: %s", exc)
        return
    if result and result[0] is not None:
        apply_settings(ls, result[0], reload=reload)


def apply_settings(ls: AirgapServer, raw: Any, reload: bool = True) -> None:
    settings, problems = parse_settings(raw, ls.state.settings)
    for problem in problems:
        ls.tell_user(problem)
    models_changed = settings.models != ls.state.settings.models
    _apply_log_settings(ls, settings)
    ls.state.settings = settings
    if ls.state.backend is not None:
        ls.state.backend.settings = settings.completion
    if reload and models_changed:
        ls.start_loading()


def _apply_log_settings(ls: AirgapServer, settings: Settings) -> None:
    """The client's log.level / log.file, for a server started by `serve` (tests that run a
    server in their own process keep their logging)."""
    if ls.client_log is not None and settings.log != ls.state.settings.log:
        logs.apply(settings.log.level, settings.log.file)


def create_server(settings: Settings | None = None) -> AirgapServer:
    server = AirgapServer(settings)
    register(server)
    return server
