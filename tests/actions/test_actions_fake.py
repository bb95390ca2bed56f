"""Code actions against the fake backend (no model): a clear message and no edit."""

from __future__ import annotations

import asyncio
import sys

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.e2e.lsp_helpers import open_doc, server_env

SERVER = [sys.executable, "-m", "airgap_lsp.lsp", "serve"]
TEXT = "def add(a, b):\n    return a + b\n"


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=SERVER, server_env=server_env(AIRGAP_LSP_FAKE_BACKEND="1")
    )
)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("neovim"))
    )
    yield
    await lsp_client.shutdown_session()


async def test_fake_backend_says_the_model_is_not_available(client: LanguageClient):
    uri = "file:///w/add.py"
    open_doc(client, uri, TEXT)
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(types.Position(1, 4), types.Position(1, 4)),
            context=types.CodeActionContext(
                diagnostics=[], only=[types.CodeActionKind.RefactorRewrite]
            ),
        )
    )
    actions = [a for a in result or [] if isinstance(a, types.CodeAction)]
    assert [a.title for a in actions] == ["Add docstring to `add` (AI)"]
    resolved = await client.code_action_resolve_async(actions[0])
    assert resolved.edit is None
    await asyncio.sleep(0.1)
    assert any("model is not available" in m.message for m in client.messages), client.messages
