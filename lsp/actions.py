"""Code actions served by the local model (registered from lsp.server.register).

Thin glue between LSP messages and `completion.actions`: the action list is computed from the
syntax tree alone (no model call), the chosen action runs on the model worker at ACTION
priority in `codeAction/resolve` or in a command, with cancellable `$/progress`; results go
back as WorkspaceEdits, `workspace/applyEdit`, `window/showDocument` or `window/showMessage`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import ServerTextPosition, TextDocument

from completion.actions import (
    DOCSTRING,
    FIX,
    TESTS,
    ActionError,
    Edit,
    NewFile,
    Outcome,
    Parsed,
    Plan,
    find_target,
    framework_for,
    newline_of,
    outcome_of,
    path_for_tests,
    plan_docstring,
    plan_explain,
    plan_fix,
    plan_rewrite,
    plan_tests,
    python_module,
    run_plan,
)
from completion.worker import ACTION, Cancelled, CancelToken

if TYPE_CHECKING:
    from lsp.server import AirgapServer

log = logging.getLogger(__name__)

EXPLAIN_COMMAND = "airgap.explain"
REWRITE_COMMAND = "airgap.rewriteSelection"
STATS = "airgap/actionStats"
KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.RefactorRewrite,
    types.CodeActionKind.Source,
]
PRESETS = ("Simplify", "Add type hints", "Add error handling", "Make it more readable")
_MAX_FIX_ACTIONS = 3
_PROMPT_MS = 60_000.0
_PREDICT_MS = 180_000.0


@dataclass
class ActionStats:
    listed: int = 0
    model_runs: int = 0
    cancelled: int = 0
    last: dict[str, Any] = field(default_factory=dict)


def register_actions(server: AirgapServer) -> None:
    """Register the code-action methods on the server."""
    stats = ActionStats()
    scratch = _Scratch()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=KINDS, resolve_provider=True),
    )
    def code_action(
        ls: AirgapServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        """List the actions for a range from the syntax tree alone (the model does not run)."""
        doc = ls.document(params.text_document.uri)
        if doc is None:
            return None
        stats.listed += 1
        return _list_actions(doc, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: AirgapServer, action: types.CodeAction) -> types.CodeAction:
        """Run the model for the chosen action and attach its edit."""
        data = action.data if isinstance(action.data, dict) else {}
        doc = ls.document(str(data.get("uri", "")))
        if doc is None:
            ls.tell_user("the document is no longer open")
            return action
        edit = await _resolve_edit(ls, stats, doc, data)
        if edit is not None:
            action.edit = edit
        return action

    # Command handlers take no server parameter: pygls would evaluate its (type-checking only)
    # annotation; they use `server` from this closure instead.
    @server.command(EXPLAIN_COMMAND)
    async def explain(*args: Any) -> None:
        """Explain code: args [uri, range]; a markdown document, else a message."""
        ls = server
        doc, start, end = _selection(ls, args)
        if doc is None:
            return
        outcome = await _run(ls, stats, doc, lambda p: plan_explain(p, start, end))
        if outcome is not None and outcome.markdown is not None:
            await _show_markdown(ls, scratch, doc.uri, outcome.markdown)

    @server.command(REWRITE_COMMAND)
    async def rewrite(*args: Any) -> None:
        """Rewrite a selection: args [uri, range, instruction]; applied with workspace/applyEdit."""
        ls = server
        doc, start, end = _selection(ls, args)
        if doc is None:
            return
        instruction = str(args[2]) if len(args) > 2 and args[2] else await _ask_instruction(ls)
        if not instruction:
            return
        outcome = await _run(ls, stats, doc, lambda p: plan_rewrite(p, start, end, instruction))
        if outcome is None:
            return
        result = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(
                edit=_document_edit(ls, doc, outcome.edits), label="airgap: rewrite selection"
            )
        )
        if not result.applied:
            ls.tell_user(f"the editor did not apply the rewrite: {result.failure_reason or ''}")

    @server.feature(STATS)
    def action_stats(ls: AirgapServer, _params: Any) -> dict[str, Any]:
        """Counters for tests and status displays (list calls never run the model)."""
        return {
            "listed": stats.listed,
            "modelRuns": stats.model_runs,
            "cancelled": stats.cancelled,
            "workerJobs": ls.worker.jobs_run,
            "last": stats.last,
        }


# -- listing ------------------------------------------------------------------------------------


def _list_actions(doc: TextDocument, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = doc.uri
    parsed = _parse(doc)
    start = _offset(doc, params.range.start)
    end = _offset(doc, params.range.end)
    out: list[types.CodeAction] = []
    for diagnostic in params.context.diagnostics[:_MAX_FIX_ACTIONS]:
        out.append(
            types.CodeAction(
                title=f"Fix with AI: {diagnostic.message.splitlines()[0][:60]}",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                data={
                    "action": FIX,
                    "uri": uri,
                    "start": _offset(doc, diagnostic.range.start),
                    "end": _offset(doc, diagnostic.range.end),
                    "message": diagnostic.message,
                    "version": doc.version,
                },
            )
        )
    target = find_target(parsed, start)
    if target is not None:
        py = parsed.language is not None and parsed.language.indent_blocks
        doc_title = "Add docstring" if py else "Add doc comment"
        out.append(
            types.CodeAction(
                title=f"{doc_title} to `{target.name}` (AI)",
                kind=types.CodeActionKind.RefactorRewrite,
                data={"action": DOCSTRING, "uri": uri, "offset": start, "version": doc.version},
            )
        )
        out.append(
            types.CodeAction(
                title=f"Generate unit tests for `{target.name}` (AI)",
                kind=types.CodeActionKind.Source,
                data={"action": TESTS, "uri": uri, "offset": start, "version": doc.version},
            )
        )
    selected = start < end and doc.source[start:end].strip() != ""
    if selected or target is not None:
        out.append(
            types.CodeAction(
                title="Explain this code (AI)",
                kind=types.CodeActionKind.Source,
                command=types.Command(
                    title="Explain this code",
                    command=EXPLAIN_COMMAND,
                    arguments=[uri, params.range],
                ),
            )
        )
    if selected:
        out.append(
            types.CodeAction(
                title="Rewrite selection… (AI)",
                kind=types.CodeActionKind.RefactorRewrite,
                command=types.Command(
                    title="Rewrite selection",
                    command=REWRITE_COMMAND,
                    arguments=[uri, params.range],
                ),
            )
        )
    only = params.context.only
    if only:
        out = [a for a in out if a.kind and any(_kind_matches(a.kind, o) for o in only)]
    return out


def _kind_matches(kind: str, wanted: str) -> bool:
    return kind == wanted or kind.startswith(f"{wanted}.")


# -- running ------------------------------------------------------------------------------------


async def _resolve_edit(
    ls: AirgapServer, stats: ActionStats, doc: TextDocument, data: dict[str, Any]
) -> types.WorkspaceEdit | None:
    kind = data.get("action")
    if kind == FIX:
        start, end = int(data.get("start", 0)), int(data.get("end", 0))
        message = str(data.get("message", ""))
        outcome = await _run(ls, stats, doc, lambda p: plan_fix(p, start, end, message))
        return None if outcome is None else _document_edit(ls, doc, outcome.edits)
    if kind == DOCSTRING:
        offset = int(data.get("offset", 0))
        outcome = await _run(ls, stats, doc, lambda p: plan_docstring(p, offset))
        return None if outcome is None else _document_edit(ls, doc, outcome.edits)
    if kind == TESTS:
        offset = int(data.get("offset", 0))
        path = to_fs_path(doc.uri) or doc.uri
        root = ls.workspace.root_path or os.path.dirname(path)
        outcome = await _run(ls, stats, doc, lambda p: _plan_tests(p, offset, path, root))
        if outcome is None or outcome.new_file is None:
            return None
        return _tests_edit(ls, doc, outcome.new_file)
    ls.tell_user(f"unknown code action {kind!r}")
    return None


def _plan_tests(parsed: Parsed, offset: int, path: str, root: str) -> Plan:
    lang = parsed.language
    test_path = path_for_tests(path, lang, root)
    module = python_module(path) if lang is not None and lang.name == "python" else ""
    return plan_tests(parsed, offset, test_path, module, framework_for(lang, root))


async def _run(
    ls: AirgapServer, stats: ActionStats, doc: TextDocument, make: Any
) -> Outcome | None:
    """Plan from the document as it is now, run the model with progress, build the outcome;
    every failure is told to the user and gives None."""
    try:
        plan: Plan = make(_parse(doc))
    except ActionError as exc:
        ls.tell_user(str(exc))
        return None
    version = doc.version
    backend = await ls.ready_backend()
    engine = getattr(backend, "engine", None)
    if engine is None:
        reason = ls.state.load_error or (backend.description if backend else "no model loaded")
        ls.tell_user(f"the model is not available for code actions ({reason})")
        return None
    token = CancelToken()
    progress = await _Progress.start(ls, plan.title, token)
    settings = ls.state.settings.completion
    key = f"action:{doc.uri}"
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
    if doc.version != version:
        ls.tell_user(f"{plan.title}: the document changed while the model ran; nothing changed")
        return None
    try:
        return outcome_of(plan, run)
    except ActionError as exc:
        log.info("unusable reply to %s: %r", plan.kind, run.reply)
        ls.tell_user(f"{plan.title}: {exc}")
        return None


class _Progress:
    """Server-initiated, cancellable `$/progress` for one action (no-op without support)."""

    def __init__(self, ls: AirgapServer, token: str | None, title: str) -> None:
        self.ls = ls
        self.token = token
        self.title = title
        self.loop = asyncio.get_running_loop()
        self.count = 0
        self.last = 0.0

    @classmethod
    async def start(cls, ls: AirgapServer, title: str, cancel: CancelToken) -> _Progress:
        if not ls.supports_progress():
            return cls(ls, None, title)
        token = str(uuid.uuid4())
        try:
            await ls.work_done_progress.create_async(token)
        except Exception:  # a client may refuse the token; the action goes on without it
            return cls(ls, None, title)
        # pygls cancels this future on window/workDoneProgress/cancel.
        ls.work_done_progress.tokens[token].add_done_callback(
            lambda _f: cancel.cancel("cancelled from the progress UI")
        )
        ls.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=f"airgap: {title}", cancellable=True, message="waiting for the model"
            ),
        )
        return cls(ls, token, title)

    def on_text(self, _text: str) -> None:
        """Called on the model thread after each generated token."""
        self.count += 1
        now = time.monotonic()
        if self.token is None or now - self.last < 0.5:
            return
        self.last = now
        value = types.WorkDoneProgressReport(message=f"{self.count} tokens")
        self.loop.call_soon_threadsafe(self.ls.work_done_progress.report, self.token, value)

    def end(self) -> None:
        if self.token is None:
            return
        self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message="done"))
        self.ls.work_done_progress.tokens.pop(self.token, None)


# -- results ------------------------------------------------------------------------------------


def _document_edit(
    ls: AirgapServer, doc: TextDocument, edits: tuple[Edit, ...]
) -> types.WorkspaceEdit:
    text_edits: list[types.TextEdit | types.AnnotatedTextEdit | types.SnippetTextEdit] = [
        types.TextEdit(range=_range(doc, e.start, e.end), new_text=e.new_text) for e in edits
    ]
    if _supports_document_changes(ls):
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
        return types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=ident, edits=text_edits)]
        )
    return types.WorkspaceEdit(
        changes={doc.uri: [e for e in text_edits if isinstance(e, types.TextEdit)]}
    )


def _tests_edit(ls: AirgapServer, doc: TextDocument, new_file: NewFile) -> types.WorkspaceEdit:
    uri = from_fs_path(new_file.path) or new_file.path
    existing = ls.document(uri)
    on_disk = existing is None and os.path.exists(new_file.path)
    if existing is not None or on_disk:
        text = existing.source if existing is not None else _read(new_file.path)
        sep = newline_of(text) * (2 if text.endswith(("\n", "\r")) else 3)
        end = _end_position(text)
        edit = types.TextEdit(range=types.Range(end, end), new_text=sep + new_file.text)
        version = existing.version if existing is not None else None
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
        if _supports_document_changes(ls):
            return types.WorkspaceEdit(
                document_changes=[types.TextDocumentEdit(text_document=ident, edits=[edit])]
            )
        return types.WorkspaceEdit(changes={uri: [edit]})
    if _supports_create(ls):
        start = types.Position(0, 0)
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None)
        return types.WorkspaceEdit(
            document_changes=[
                types.CreateFile(
                    uri=uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=True)
                ),
                types.TextDocumentEdit(
                    text_document=ident,
                    edits=[types.TextEdit(range=types.Range(start, start), new_text=new_file.text)],
                ),
            ]
        )
    # Without resource operations the tests go at the end of the current document.
    nl = newline_of(doc.source)
    block = (
        f"{nl}{nl}# Tests generated by airgap (intended for {os.path.basename(new_file.path)}){nl}"
    )
    n = len(doc.source)
    return _document_edit(ls, doc, (Edit(n, n, block + new_file.text),))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except OSError:
        return ""


class _Scratch:
    """A temp directory for generated markdown, made on first use."""

    def __init__(self) -> None:
        self.dir: str | None = None
        self.counter = itertools.count(1)

    def write(self, stem: str, text: str) -> str:
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="airgap-explain-")
        path = os.path.join(self.dir, f"explain-{stem}-{next(self.counter)}.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path


async def _show_markdown(ls: AirgapServer, scratch: _Scratch, uri: str, markdown: str) -> None:
    window = ls.client_capabilities.window
    if window is not None and window.show_document is not None and window.show_document.support:
        stem = os.path.splitext(os.path.basename(to_fs_path(uri) or "code"))[0]
        path = scratch.write(stem, markdown)
        target = from_fs_path(path) or path
        result = await ls.window_show_document_async(
            types.ShowDocumentParams(uri=target, take_focus=True)
        )
        if result.success:
            return
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=markdown))


async def _ask_instruction(ls: AirgapServer) -> str:
    choice = await ls.window_show_message_request_async(
        types.ShowMessageRequestParams(
            type=types.MessageType.Info,
            message="airgap: how should the selection be rewritten?",
            actions=[types.MessageActionItem(title=t) for t in PRESETS],
        )
    )
    return choice.title if choice is not None else ""


# -- positions ----------------------------------------------------------------------------------


def _parse(doc: TextDocument) -> Parsed:
    path = to_fs_path(doc.uri) or doc.uri
    return Parsed.of(doc.source, path, doc.language_id)


def _selection(ls: AirgapServer, args: tuple[Any, ...]) -> tuple[TextDocument | None, int, int]:
    try:
        uri = str(args[0])
        rng = args[1]
        start = types.Position(int(rng["start"]["line"]), int(rng["start"]["character"]))
        end = types.Position(int(rng["end"]["line"]), int(rng["end"]["character"]))
    except (IndexError, KeyError, TypeError, ValueError):
        ls.tell_user("the command needs [uri, range] arguments")
        return None, 0, 0
    doc = ls.document(uri)
    if doc is None:
        ls.tell_user("the document is not open")
        return None, 0, 0
    return doc, _offset(doc, start), _offset(doc, end)


def _offset(doc: TextDocument, position: types.Position) -> int:
    return max(0, min(doc.offset_at_position(position), len(doc.source)))


def _position(doc: TextDocument, offset: int) -> types.Position:
    text = doc.source
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return doc.position_to_client_units(ServerTextPosition(line, column))


def _range(doc: TextDocument, start: int, end: int) -> types.Range:
    return types.Range(start=_position(doc, start), end=_position(doc, end))


def _end_position(text: str) -> types.Position:
    line = text.count("\n")
    last = text[text.rfind("\n") + 1 :]
    return types.Position(line, len(last.encode("utf-16-le")) // 2)


def _supports_document_changes(ls: AirgapServer) -> bool:
    ws = ls.client_capabilities.workspace
    return bool(ws and ws.workspace_edit and ws.workspace_edit.document_changes)


def _supports_create(ls: AirgapServer) -> bool:
    ws = ls.client_capabilities.workspace
    ops = ws.workspace_edit.resource_operations if ws and ws.workspace_edit else None
    return _supports_document_changes(ls) and bool(
        ops and types.ResourceOperationKind.Create in ops
    )
