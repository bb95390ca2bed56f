"""Code actions served by the local model (handlers listed in lsp.server's HANDLERS table).

Thin glue between LSP messages and `completion.actions`. The action list comes from the syntax
tree alone (no model call); the chosen action runs on the model worker at ACTION priority in
`codeAction/resolve` or in a command, with cancellable `$/progress`; results go back as
WorkspaceEdits (`lsp.action_edits`), `workspace/applyEdit`, `window/showDocument` or
`window/showMessage`.

The event loop only converts positions and sends messages: parsing, planning (which may look
at the file system), and checking a reply run on threads with a time limit, and every request
to the client has a time limit too. An action's edit is built only for the exact text it was
planned on: a listed action remembers the document's version and open-serial, and resolve
refuses when either changed (a close and reopen gives a new serial even with the same version).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import dataclasses
import itertools
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.uris import from_fs_path

from airgap_lsp.completion.actions import (
    DOCSTRING,
    FIX,
    TESTS,
    ActionError,
    Outcome,
    Parsed,
    Plan,
    find_target,
    framework_for,
    outcome_of,
    plan_docstring,
    plan_explain,
    plan_fix,
    plan_rewrite,
    plan_tests,
    python_module,
    run_plan,
    tests_location,
    unused_path,
)
from airgap_lsp.completion.worker import ACTION, Cancelled, CancelToken
from airgap_lsp.lsp.action_edits import EditSupport, document_edit, tests_edit
from airgap_lsp.lsp.documents import Document, file_path

if TYPE_CHECKING:
    from airgap_lsp.lsp.server import AirgapServer

log = logging.getLogger(__name__)

EXPLAIN_COMMAND = "airgap.explain"
REWRITE_COMMAND = "airgap.rewriteSelection"
ACTION_STATS = "airgap/actionStats"
KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.RefactorRewrite,
    types.CodeActionKind.Source,
]
PRESETS = ("Simplify", "Add type hints", "Add error handling", "Make it more readable")
# Seconds to wait for the client's answer to each kind of request; asking the user for an
# instruction waits for a person.
CLIENT_TIMEOUTS = {"progress": 5.0, "show_document": 10.0, "apply_edit": 30.0, "ask": 300.0}
_THREAD_S = 30.0  # parsing, planning or checking one action off the event loop
_MAX_FIX_ACTIONS = 3
_PROMPT_MS = 60_000.0
_PREDICT_MS = 180_000.0
_KEEP_EXPLANATIONS = 8

T = TypeVar("T")


@dataclass
class ActionStats:
    listed: int = 0
    model_runs: int = 0
    cancelled: int = 0
    last: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Snapshot:
    """A document's text as an action saw it; what threads work on."""

    doc: Document
    text: str
    version: int | None
    path: str  # the file's path, or the URI of a document that is no file
    is_file: bool

    @classmethod
    def of(cls, doc: Document) -> _Snapshot:
        path = file_path(doc.uri)
        return cls(doc, doc.source, doc.version, path or doc.uri, path is not None)

    def offsets(self, *positions: types.Position) -> list[int]:
        """Code-point offsets of positions in this text."""
        index = self.doc.index_of(self.text)
        return [index.offset(p.line, p.character) for p in positions]

    def current(self, ls: AirgapServer) -> bool:
        """The document is still open (not reopened) and its text unchanged."""
        return ls.document(self.doc.uri) is self.doc and self.doc.source is self.text


@dataclass
class ActionState:
    """What the code actions keep for one server: their counters and explanation files."""

    stats: ActionStats = field(default_factory=ActionStats)
    scratch: _Scratch = field(default_factory=lambda: _Scratch())


CODE_ACTION_OPTIONS = types.CodeActionOptions(code_action_kinds=KINDS, resolve_provider=True)


# -- handlers (registered from lsp.server's table) ----------------------------------------------


async def code_action(
    ls: AirgapServer, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    """List the actions for a range from the syntax tree alone (the model does not run)."""
    doc = ls.document(params.text_document.uri)
    if doc is None:
        return None
    ls.actions.stats.listed += 1
    snap = _Snapshot.of(doc)
    try:
        actions = await _off_loop(lambda: _list_actions(ls, snap, params))
    except TimeoutError:
        log.warning("listing code actions took over %.0f s; none listed", _THREAD_S)
        return []
    only = params.context.only
    if only:
        actions = [a for a in actions if a.kind and any(_kind_matches(a.kind, o) for o in only)]
    return actions


async def resolve(ls: AirgapServer, action: types.CodeAction) -> types.CodeAction:
    """Run the model for the chosen action and attach its edit."""
    data = action.data if isinstance(action.data, dict) else {}
    doc = ls.document(str(data.get("uri", "")))
    if doc is None:
        ls.tell_user(f"{action.title}: the document is no longer open; nothing was changed")
        return action
    if data.get("doc") != doc.serial or data.get("version") != doc.version:
        ls.tell_user(
            f"{action.title}: the document changed since the actions were listed; "
            "nothing was changed (ask for the actions again)"
        )
        return action
    edit = await _resolve_edit(ls, ls.actions.stats, doc, data)
    if edit is not None:
        action.edit = edit
    return action


# The commands' bodies; lsp.server registers them (pygls evaluates a command handler's
# annotations, and AirgapServer is only a type-checking import here).
async def explain(ls: AirgapServer, *args: Any) -> None:
    """Explain code: args [uri, range]; a markdown document, else a message."""
    doc, rng = _selection(ls, args)
    if doc is None:
        return

    def plan(p: Parsed, s: _Snapshot) -> Plan:
        start, end = s.offsets(*rng)
        return plan_explain(p, start, end)

    result = await _run(ls, ls.actions.stats, doc, plan)
    if result is not None and result[0].markdown is not None:
        await _show_markdown(ls, ls.actions.scratch, doc.uri, result[0].markdown)


async def rewrite(ls: AirgapServer, *args: Any) -> None:
    """Rewrite a selection: args [uri, range, instruction]; applied with workspace/applyEdit."""
    doc, rng = _selection(ls, args)
    if doc is None:
        return
    instruction = str(args[2]) if len(args) > 2 and args[2] else await _ask_instruction(ls)
    if not instruction:
        return

    def plan(p: Parsed, s: _Snapshot) -> Plan:
        start, end = s.offsets(*rng)
        return plan_rewrite(p, start, end, instruction)

    result = await _run(ls, ls.actions.stats, doc, plan)
    if result is None:
        return
    edit = document_edit(EditSupport(ls.client_capabilities), doc, result[0].edits)
    # Sent now, before anything else runs on the loop: the text is the planned one.
    answer = ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=edit, label="airgap: rewrite selection")
    )
    try:
        applied = await _answer(answer, "apply_edit")
    except TimeoutError:
        ls.tell_user("the editor did not answer the rewrite's edit in time")
        return
    except Exception as exc:  # an error answer
        ls.tell_user(f"the editor refused the rewrite's edit: {exc}")
        return
    if not applied.applied:
        ls.tell_user(f"the editor did not apply the rewrite: {applied.failure_reason or ''}")


def action_stats(ls: AirgapServer, _params: Any) -> dict[str, Any]:
    """Counters for tests and status displays (list calls never run the model)."""
    stats = ls.actions.stats
    return {
        "listed": stats.listed,
        "modelRuns": stats.model_runs,
        "cancelled": stats.cancelled,
        "workerJobs": ls.worker.jobs_run,
        "last": stats.last,
    }


# -- listing ------------------------------------------------------------------------------------


def _list_actions(
    ls: AirgapServer, snap: _Snapshot, params: types.CodeActionParams
) -> list[types.CodeAction]:
    """The actions for a range of the snapshot (runs on a thread)."""
    uri, rng = snap.doc.uri, params.range
    start, end = snap.offsets(rng.start, rng.end)
    stamp = {"uri": uri, "version": snap.version, "doc": snap.doc.serial}
    out: list[types.CodeAction] = []
    for diagnostic in params.context.diagnostics[:_MAX_FIX_ACTIONS]:
        d_start, d_end = snap.offsets(diagnostic.range.start, diagnostic.range.end)
        first = next((line.strip() for line in diagnostic.message.splitlines() if line.strip()), "")
        out.append(
            types.CodeAction(
                title=f"Fix with AI: {first[:60]}" if first else "Fix with AI",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                data={
                    "action": FIX,
                    **stamp,
                    "start": d_start,
                    "end": d_end,
                    "message": diagnostic.message,
                },
            )
        )
    parsed = _parsed(ls, snap)
    target = find_target(parsed, start)
    if target is not None:
        py = parsed.language is not None and parsed.language.indent_blocks
        doc_title = "Add docstring" if py else "Add doc comment"
        out.append(
            types.CodeAction(
                title=f"{doc_title} to `{target.name}` (AI)",
                kind=types.CodeActionKind.RefactorRewrite,
                data={"action": DOCSTRING, **stamp, "offset": start},
            )
        )
        if snap.is_file:  # tests go into a file; untitled: and git: documents have none
            out.append(
                types.CodeAction(
                    title=f"Generate unit tests for `{target.name}` (AI)",
                    kind=types.CodeActionKind.Source,
                    data={"action": TESTS, **stamp, "offset": start},
                )
            )
    selected = start < end and snap.text[start:end].strip() != ""
    if selected or target is not None:
        out.append(
            types.CodeAction(
                title="Explain this code (AI)",
                kind=types.CodeActionKind.Source,
                command=types.Command(
                    title="Explain this code", command=EXPLAIN_COMMAND, arguments=[uri, rng]
                ),
            )
        )
    if selected:
        out.append(
            types.CodeAction(
                title="Rewrite selection… (AI)",
                kind=types.CodeActionKind.RefactorRewrite,
                command=types.Command(
                    title="Rewrite selection", command=REWRITE_COMMAND, arguments=[uri, rng]
                ),
            )
        )
    return out


def _kind_matches(kind: str, wanted: str) -> bool:
    return kind == wanted or kind.startswith(f"{wanted}.")


def _parsed(ls: AirgapServer, snap: _Snapshot) -> Parsed:
    """The snapshot parsed, reusing the incrementally kept syntax tree when it is of this very
    text (call off the event loop: a first parse of a big document takes a while)."""
    cached = ls.context.syntax.document(snap.doc.key)
    if cached is not None and cached.tree is not None and cached.text == snap.text:
        return Parsed(snap.text, snap.path, cached.language, cached.source, cached.tree)
    return Parsed.of(snap.text, snap.path, snap.doc.language_id)


async def _off_loop(fn: Callable[[], T]) -> T:
    return await asyncio.wait_for(asyncio.to_thread(fn), _THREAD_S)


async def _answer(request: Awaitable[T], kind: str) -> T:
    """The client's answer to a request, or TimeoutError after CLIENT_TIMEOUTS[kind]."""
    return await asyncio.wait_for(request, CLIENT_TIMEOUTS[kind])


# -- running ------------------------------------------------------------------------------------


async def _resolve_edit(
    ls: AirgapServer, stats: ActionStats, doc: Document, data: dict[str, Any]
) -> types.WorkspaceEdit | None:
    kind = data.get("action")
    support = EditSupport(ls.client_capabilities)
    if kind == FIX:
        start, end = int(data.get("start", 0)), int(data.get("end", 0))
        message = str(data.get("message", ""))
        result = await _run(ls, stats, doc, lambda p, _s: plan_fix(p, start, end, message))
        return None if result is None else document_edit(support, doc, result[0].edits)
    if kind == DOCSTRING:
        offset = int(data.get("offset", 0))
        result = await _run(ls, stats, doc, lambda p, _s: plan_docstring(p, offset))
        return None if result is None else document_edit(support, doc, result[0].edits)
    if kind == TESTS:
        offset = int(data.get("offset", 0))
        roots = _workspace_roots(ls)
        result = await _run(ls, stats, doc, lambda p, _s: _plan_tests(p, offset, roots))
        if result is None or result[0].new_file is None:
            return None
        outcome, plan = result
        new_file = outcome.new_file
        assert new_file is not None
        open_target = ls.document(from_fs_path(new_file.path) or new_file.path)
        free_path = plan.extra.get("free_path", new_file.path)
        return tests_edit(support, doc, new_file, open_target, free_path)
    ls.tell_user(f"unknown code action {kind!r}")
    return None


def _workspace_roots(ls: AirgapServer) -> list[str]:
    uris = [f.uri for f in ls.workspace.folders.values()]
    paths = [file_path(uri) for uri in uris]
    return [p for p in [*paths, ls.workspace.root_path] if p]


def _plan_tests(parsed: Parsed, offset: int, roots: list[str]) -> Plan:
    """The tests plan; its target checked against the workspace (runs on a thread)."""
    lang = parsed.language
    target, root = tests_location(parsed.path, lang, roots)
    module = python_module(parsed.path, root) if lang is not None and lang.name == "python" else ""
    plan = plan_tests(parsed, offset, target, module, framework_for(lang, root))
    return dataclasses.replace(plan, extra={**plan.extra, "free_path": unused_path(target)})


async def _run(
    ls: AirgapServer,
    stats: ActionStats,
    doc: Document,
    make: Callable[[Parsed, _Snapshot], Plan],
) -> tuple[Outcome, Plan] | None:
    """Plan from the document as it is now, run the model with progress, build the outcome.

    Returns only while the document is still the planned text, so the caller can turn the
    outcome into an edit at once; every failure is told to the user and gives None."""
    snap = _Snapshot.of(doc)
    try:
        plan: Plan = await _off_loop(lambda: make(_parsed(ls, snap), snap))
    except ActionError as exc:
        ls.tell_user(str(exc))
        return None
    except TimeoutError:
        ls.tell_user("preparing the action took too long; nothing was changed")
        return None
    backend = await ls.ready_backend()
    engine = backend.engine if backend is not None else None
    if engine is None:
        reason = ls.state.load_error or (backend.description if backend else "no model loaded")
        ls.tell_user(f"the model is not available for code actions ({reason})")
        return None
    if not snap.current(ls):
        ls.tell_user(f"{plan.title}: the document changed; nothing was changed")
        return None
    token = CancelToken()
    progress = _Progress(ls, plan.title, token)
    settings = ls.state.settings.completion
    key = f"action:{doc.key}"
    t0 = time.monotonic()
    future, _ = ls.worker.submit(
        lambda tok: run_plan(
            engine,
            plan,
            tok,
            key=key,
            drafting=settings.drafting,
            on_text=progress.on_text,
            max_prompt_ms=_PROMPT_MS,
            max_predict_ms=_PREDICT_MS,
        ),
        priority=ACTION,
        key=key,
        token=token,
    )
    progress.start()
    stats.model_runs += 1
    try:
        run = await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        token.cancel("request cancelled")
        stats.cancelled += 1
        raise
    except Cancelled:
        stats.cancelled += 1
        ls.tell_user(f"{plan.title}: cancelled", types.MessageType.Info)
        return None
    finally:
        progress.end()
    stats.last = {
        "action": plan.kind,
        "promptTokens": run.prompt_tokens,
        "generatedTokens": run.generated,
        "promptMs": round(run.prompt_ms, 1),
        "predictMs": round(run.predict_ms, 1),
        "totalMs": round((time.monotonic() - t0) * 1000, 1),
        "drafted": run.drafted,
        "accepted": run.accepted,
        "stopReason": run.stop_reason,
    }
    log.info("code action %s: %s", plan.kind, stats.last)
    try:
        outcome = await _off_loop(lambda: outcome_of(plan, run))
    except ActionError as exc:
        log.info("unusable reply to %s: %r", plan.kind, run.reply)
        ls.tell_user(f"{plan.title}: {exc}")
        return None
    except TimeoutError:
        ls.tell_user(f"{plan.title}: checking the reply took too long; nothing was changed")
        return None
    if not snap.current(ls):
        ls.tell_user(f"{plan.title}: the document changed while the model ran; nothing changed")
        return None
    return outcome, plan


class _Progress:
    """Server-initiated, cancellable `$/progress` for one action: asked for while the model
    already runs, begun only once the client accepted the token (no-op without support)."""

    def __init__(self, ls: AirgapServer, title: str, cancel: CancelToken) -> None:
        self.ls = ls
        self.title = title
        self.cancel = cancel
        self.token = str(uuid.uuid4())
        self.loop = asyncio.get_running_loop()
        self.begun = False
        self.ended = False
        self.count = 0
        self.last = 0.0
        self._task: asyncio.Future[None] | None = None

    def start(self) -> None:
        if self.ls.supports_progress():
            self._task = asyncio.ensure_future(self._begin())

    async def _begin(self) -> None:
        wdp = self.ls.work_done_progress
        try:
            await _answer(wdp.create_async(self.token), "progress")
        except Exception as exc:  # refused or unanswered: the action goes on without it
            log.info("no progress for %s: %r", self.title, exc)
            return
        if self.ended:
            return
        # pygls cancels this future on window/workDoneProgress/cancel.
        wdp.tokens[self.token].add_done_callback(
            lambda _f: self.cancel.cancel("cancelled from the progress UI")
        )
        wdp.begin(
            self.token,
            types.WorkDoneProgressBegin(
                title=f"airgap: {self.title}", cancellable=True, message="waiting for the model"
            ),
        )
        self.begun = True

    def on_text(self, _text: str) -> None:
        """Called on the model thread after each generated token."""
        self.count += 1
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        self.loop.call_soon_threadsafe(self._report, f"{self.count} tokens")

    def _report(self, message: str) -> None:
        if self.begun and not self.ended:
            value = types.WorkDoneProgressReport(message=message)
            self.ls.work_done_progress.report(self.token, value)

    def end(self) -> None:
        if self.begun and not self.ended:
            wdp = self.ls.work_done_progress
            wdp.end(self.token, types.WorkDoneProgressEnd(message="done"))
            wdp.tokens.pop(self.token, None)
        self.ended = True


# -- explanations and questions -----------------------------------------------------------------


class _Scratch:
    """Explanations as Markdown files for window/showDocument: a private temp directory made
    on first use, holding the last few files, removed when the server exits."""

    def __init__(self) -> None:
        self.dir: str | None = None
        self.counter = itertools.count(1)
        self.files: collections.deque[str] = collections.deque()

    def write(self, stem: str, text: str) -> str:
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="airgap-explain-")
            atexit.register(self.close)
        path = os.path.join(self.dir, f"explain-{stem}-{next(self.counter)}.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        self.files.append(path)
        while len(self.files) > _KEEP_EXPLANATIONS:
            old = self.files.popleft()
            with contextlib.suppress(OSError):
                os.remove(old)
        return path

    def close(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            self.files.clear()


async def _show_markdown(ls: AirgapServer, scratch: _Scratch, uri: str, markdown: str) -> None:
    window = ls.client_capabilities.window
    if window is not None and window.show_document is not None and window.show_document.support:
        name = os.path.basename(file_path(uri) or uri.rsplit("/", 1)[-1]) or "code"
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in os.path.splitext(name)[0])
        path = await asyncio.to_thread(scratch.write, stem or "code", markdown)
        target = from_fs_path(path) or path
        try:
            show = types.ShowDocumentParams(uri=target, take_focus=True)
            result = await _answer(ls.window_show_document_async(show), "show_document")
            if result.success:
                return
        except Exception as exc:  # no answer in time: show the text instead
            log.info("window/showDocument failed: %r", exc)
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=markdown))


async def _ask_instruction(ls: AirgapServer) -> str:
    request = ls.window_show_message_request_async(
        types.ShowMessageRequestParams(
            type=types.MessageType.Info,
            message="airgap: how should the selection be rewritten?",
            actions=[types.MessageActionItem(title=t) for t in PRESETS],
        )
    )
    try:
        choice = await _answer(request, "ask")
    except Exception as exc:
        log.info("window/showMessageRequest failed: %r", exc)
        return ""
    return choice.title if choice is not None else ""


def _selection(
    ls: AirgapServer, args: tuple[Any, ...]
) -> tuple[Document | None, tuple[types.Position, types.Position]]:
    """The document and range of a command's [uri, range] arguments."""
    origin = types.Position(0, 0)
    try:
        uri = str(args[0])
        rng = args[1]
        start = types.Position(int(rng["start"]["line"]), int(rng["start"]["character"]))
        end = types.Position(int(rng["end"]["line"]), int(rng["end"]["character"]))
    except (IndexError, KeyError, TypeError, ValueError):
        ls.tell_user("the command needs [uri, range] arguments")
        return None, (origin, origin)
    doc = ls.document(uri)
    if doc is None:
        ls.tell_user("the document is not open")
        return None, (origin, origin)
    return doc, (start, end)
