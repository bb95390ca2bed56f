"""The real server over stdio with the real default model, as Neovim and VS Code talk to it."""

from __future__ import annotations

import ast

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.e2e.lsp_helpers import SERVER, inline_params, items_of, open_doc, server_env, text_of

pytestmark = pytest.mark.model

TASKS = ("HumanEval/2", "HumanEval/12", "HumanEval/35")


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER, server_env=server_env()),
    params=["neovim", "visual-studio-code"],
)
async def client(lsp_client: LanguageClient, request):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(request.param),
            # No time budgets: the machine may be busy, and no test depends on speed.
            initialization_options={
                "completion": {"maxTokens": 96, "maxPromptMs": 0, "maxPredictMs": 0}
            },
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_humaneval_stub_gets_a_completion_that_parses(client: LanguageClient, humaneval_plus):
    by_id = {t["task_id"]: t for t in humaneval_plus}
    for task_id in TASKS:
        prompt = by_id[task_id]["prompt"]
        text = prompt + "    "
        uri = f"file:///w/{task_id.replace('/', '_')}.py"
        open_doc(client, uri, text)
        lines = text.split("\n")
        result = await client.text_document_inline_completion_async(
            inline_params(uri, len(lines) - 1, 4)
        )
        items = items_of(result)
        assert len(items) == 1, task_id
        completion = text_of(items[0])
        assert completion.strip(), task_id
        source = text + completion + "\n"
        ast.parse(source)  # the function now parses
        tree = ast.parse(source)
        fn = next(
            n
            for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name == by_id[task_id]["entry_point"]
        )
        # The body holds more than the docstring and a `pass`: real code was written.
        assert any(not isinstance(n, ast.Pass) for n in fn.body[1:]), (task_id, completion)
    # What the three documents' prompts hold is reported, within what was set aside.
    result = await client.protocol.send_request_async("airgap/stats", None)
    stats = result if isinstance(result, dict) else result._asdict()
    assert stats["cachedSequences"] >= len(TASKS), stats
    assert 0 < stats["kvHeldBytes"] < stats["kvAllocatedBytes"], stats


MISSING = "/nonexistent/model.gguf"


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER, server_env=server_env()),
)
async def broken_client(lsp_client: LanguageClient, tmp_path_factory):
    corrupt = tmp_path_factory.mktemp("models") / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 4096)
    lsp_client.corrupt = str(corrupt)  # type: ignore[attr-defined]
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options={"models": {"target": MISSING}},
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_missing_then_corrupt_model_give_errors_not_crashes(broken_client: LanguageClient):
    open_doc(broken_client, "file:///w/x.py", "def f():\n    ")
    r = await broken_client.text_document_inline_completion_async(
        inline_params("file:///w/x.py", 1, 4)
    )
    assert items_of(r) == []
    messages = [m.message for m in broken_client.messages]
    assert any("cannot load the model" in m and MISSING in m for m in messages), messages
    # Switch to a corrupt GGUF through workspace/didChangeConfiguration.
    corrupt = broken_client.corrupt  # type: ignore[attr-defined]
    broken_client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"airgap": {"models": {"target": corrupt}}})
    )
    r = await broken_client.text_document_inline_completion_async(
        inline_params("file:///w/x.py", 1, 4)
    )
    assert items_of(r) == []
    messages = [m.message for m in broken_client.messages]
    assert any("could not load" in m and "corrupt.gguf" in m for m in messages), messages
    # The server still answers requests.
    r = await broken_client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri="file:///w/x.py"),
            position=types.Position(line=1, character=4),
        )
    )
    assert r is not None and list(r.items) == []
