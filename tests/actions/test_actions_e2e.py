"""Code actions end to end: the real server over stdio with the real default model."""

from __future__ import annotations

import ast
import asyncio
import sys
import time
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.actions.edits import apply_workspace_edit, text_edits_for
from tests.e2e.lsp_helpers import open_doc, server_env

pytestmark = pytest.mark.model

SERVER = [sys.executable, "-m", "airgap_lsp.lsp", "serve"]

SOURCE = """import math


def total(xs: list[float]) -> float:
    t = 0.0
    for x in xs:
        t += x
    return totl


def norm(xs: list[float]) -> float:
    squares = [x * x for x in xs]
    return math.sqrt(sum(squares))
"""


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=server_env()))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


def _pos(text: str, offset: int) -> types.Position:
    return types.Position(text.count("\n", 0, offset), offset - (text.rfind("\n", 0, offset) + 1))


def _rng(text: str, start: int, end: int) -> types.Range:
    return types.Range(_pos(text, start), _pos(text, end))


def _diagnostic(text: str) -> types.Diagnostic:
    start = text.index("totl")
    return types.Diagnostic(
        range=_rng(text, start, start + 4), message="undefined name 'totl'", source="pyflakes"
    )


async def _actions(
    client: LanguageClient, uri: str, text: str, offset: int, diagnostics: list[types.Diagnostic]
) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=_rng(text, offset, offset),
            context=types.CodeActionContext(diagnostics=diagnostics),
        )
    )
    # pygls' client structures a CodeAction that carries a command as a Command; such
    # actions (explain, rewrite) are only checked by title here.
    return [
        a if isinstance(a, types.CodeAction) else types.CodeAction(title=a.title)
        for a in result or []
    ]


async def _progress_began(client: LanguageClient, title: str) -> types.ProgressToken:
    """The token of the first progress whose title starts with `title`, once it began."""
    for _ in range(1200):
        for token, reports in client.progress_reports.items():
            if any(
                isinstance(v, types.WorkDoneProgressBegin) and v.title.startswith(title)
                for v in reports
            ):
                return token
        await asyncio.sleep(0.1)
    raise AssertionError(f"no progress {title!r}")


async def _stats(client: LanguageClient) -> Any:
    return await client.protocol.send_request_async("airgap/actionStats", {})


def _field(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


async def test_action_list_is_instant_and_runs_no_model(client: LanguageClient):
    uri = "file:///w/calc.py"
    open_doc(client, uri, SOURCE)
    t0 = time.monotonic()
    actions = await _actions(client, uri, SOURCE, SOURCE.index("t += x"), [_diagnostic(SOURCE)])
    elapsed = time.monotonic() - t0
    titles = [a.title for a in actions]
    assert elapsed < 1.0, elapsed
    assert any(t.startswith("Fix with AI") for t in titles), titles
    assert "Add docstring to `total` (AI)" in titles
    assert "Generate unit tests for `total` (AI)" in titles
    assert "Explain this code (AI)" in titles
    assert all(a.edit is None for a in actions)  # edits come from codeAction/resolve only
    stats = await _stats(client)
    assert _field(stats, "listed") == 1 and _field(stats, "modelRuns") == 0


async def test_add_docstring_changes_nothing_but_the_docstring(client: LanguageClient):
    text = SOURCE.replace("return totl", "return t")
    uri = "file:///w/doc.py"
    open_doc(client, uri, text)
    actions = await _actions(client, uri, text, text.index("t += x"), [])
    action = next(a for a in actions if a.title.startswith("Add docstring"))
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is not None, [m.message for m in client.messages]
    after = apply_workspace_edit(text, uri, resolved.edit)
    tree = ast.parse(after)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "total")
    assert ast.get_docstring(fn), after
    fn.body = fn.body[1:]  # without the docstring the module is exactly the original one
    assert ast.dump(tree) == ast.dump(ast.parse(text))
    # Only an insertion inside `total`: the lines before and after are untouched.
    (edit,) = text_edits_for(resolved.edit, uri)
    assert edit.range.start == edit.range.end
    assert edit.range.start.line == 4


async def test_fix_with_ai_removes_the_undefined_name(client: LanguageClient):
    uri = "file:///w/fix.py"
    open_doc(client, uri, SOURCE)
    actions = await _actions(client, uri, SOURCE, SOURCE.index("totl"), [_diagnostic(SOURCE)])
    action = next(a for a in actions if a.title.startswith("Fix with AI"))
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is not None, [m.message for m in client.messages]
    after = apply_workspace_edit(SOURCE, uri, resolved.edit)
    tree = ast.parse(after)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "totl" not in names, after
    namespace: dict[str, Any] = {}
    exec(compile(tree, "fix.py", "exec"), namespace)
    assert namespace["total"]([1.0, 2.0, 3.5]) == 6.5
    # `norm` and the import are untouched.
    assert after.split("def norm")[1] == SOURCE.split("def norm")[1]
    assert after.startswith("import math\n")
    stats = await _stats(client)
    last = _field(stats, "last")
    assert _field(last, "action") == "fix" and _field(last, "generatedTokens") > 0


async def test_cancelled_resolve_leaves_the_document_and_the_server_serves_on(
    client: LanguageClient,
):
    uri = "file:///w/cancel.py"
    open_doc(client, uri, SOURCE)
    actions = await _actions(client, uri, SOURCE, SOURCE.index("t += x"), [])
    action = next(a for a in actions if a.title.startswith("Generate unit tests"))
    future = asyncio.ensure_future(
        client.protocol.send_request_async("codeAction/resolve", action, msg_id="resolve-1")
    )
    # Wait until the action is running (its progress began), then cancel the request.
    token = await _progress_began(client, "airgap: Generate unit tests")
    await asyncio.sleep(1.0)
    t0 = time.monotonic()
    client.protocol.notify("$/cancelRequest", types.CancelParams(id="resolve-1"))
    with pytest.raises(Exception, match="cancel"):
        await future
    # The model stops quickly and the progress ends.
    for _ in range(100):
        if isinstance(client.progress_reports[token][-1], types.WorkDoneProgressEnd):
            break
        await asyncio.sleep(0.1)
    assert isinstance(client.progress_reports[token][-1], types.WorkDoneProgressEnd)
    assert time.monotonic() - t0 < 10
    # The server keeps serving: the list again, then a real model action.
    actions = await _actions(client, uri, SOURCE, SOURCE.index("t += x"), [_diagnostic(SOURCE)])
    assert actions
    stats = await _stats(client)
    assert _field(stats, "cancelled") == 1
    # Cancelling from the progress UI stops an explain command the same way.
    command = asyncio.ensure_future(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="airgap.explain",
                arguments=[uri, _rng(SOURCE, SOURCE.index("def norm"), len(SOURCE))],
            )
        )
    )
    token = await _progress_began(client, "airgap: Explain")
    await asyncio.sleep(1.0)
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    await asyncio.wait_for(command, timeout=15)
    assert any("cancelled" in m.message for m in client.messages)
    assert not client.shown_documents
    stats = await _stats(client)
    assert _field(stats, "cancelled") == 2
