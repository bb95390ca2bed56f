"""The real server over stdio with the fake backend: protocol behaviour and bad input.

The fake backend (AIRGAP_LSP_FAKE_BACKEND=1) answers without a model, so these run in seconds;
the real model is exercised in test_real_model.py.
"""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.e2e.lsp_helpers import SERVER, inline_params, items_of, open_doc, server_env, text_of

STUB = 'def add(a: int, b: int) -> int:\n    """Add."""\n    \n'


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=SERVER,
        server_env=server_env(AIRGAP_LSP_FAKE_BACKEND="1", AIRGAP_LSP_FAKE_DELAY_MS="600"),
    ),
    params=["neovim", "visual-studio-code"],
)
async def client(lsp_client: LanguageClient, request):
    caps = client_capabilities(request.param)
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            initialization_options={
                "completion": {"maxTokens": "many", "drafting": "model"},
                "bogus": 1,
            },
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_advertises_inline_completion_and_serves_it(client: LanguageClient):
    # (initialize_session's result is not kept by the fixture; ask again through a doc)
    open_doc(client, "file:///w/a.py", STUB)
    result = await client.text_document_inline_completion_async(
        inline_params("file:///w/a.py", 2, 4)
    )
    items = items_of(result)
    assert len(items) == 1
    assert text_of(items[0]).startswith("return 42")
    assert items[0].range.start == types.Position(line=2, character=4)


async def test_invalid_options_are_reported_and_defaults_kept(client: LanguageClient):
    await asyncio.sleep(0.2)
    texts = [m.message for m in client.messages]
    assert any("completion.maxTokens must be a non-negative integer" in t for t in texts), texts
    assert any("unknown option section 'bogus'" in t for t in texts), texts


async def test_completion_fallback_replaces_the_word(client: LanguageClient):
    text = "def f(x):\n    retu\n"
    open_doc(client, "file:///w/b.py", text)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri="file:///w/b.py"),
            position=types.Position(line=1, character=8),
        )
    )
    assert isinstance(result, types.CompletionList) and len(result.items) == 1
    edit = result.items[0].text_edit
    assert isinstance(edit, types.TextEdit)
    assert edit.range.start == types.Position(line=1, character=4)
    assert edit.range.end == types.Position(line=1, character=8)
    assert edit.new_text.startswith("retu")


async def test_bad_input_gets_empty_results_and_the_server_keeps_serving(client: LanguageClient):
    # Unknown document.
    r = await client.text_document_inline_completion_async(inline_params("file:///w/nope.py", 0, 0))
    assert items_of(r) == []
    # Position past the end.
    open_doc(client, "file:///w/c.py", "x = 1\n")
    r = await client.text_document_inline_completion_async(inline_params("file:///w/c.py", 40, 3))
    assert items_of(r) == []
    # Surrogate pairs: a column after an emoji (2 UTF-16 code units, 4 UTF-8 bytes).
    open_doc(client, "file:///w/d.py", "s = '😀😀' + \n")
    general = client.capabilities.general if client.capabilities else None
    utf8 = bool(general and general.position_encodings and general.position_encodings[0] == "utf-8")
    column = 16 if utf8 else 12  # before the last space
    r = await client.text_document_inline_completion_async(
        inline_params("file:///w/d.py", 0, column)
    )
    assert len(items_of(r)) == 1
    # A column in the middle of a character is no cursor of the document: no suggestion.
    r = await client.text_document_inline_completion_async(inline_params("file:///w/d.py", 0, 6))
    assert items_of(r) == []
    # NUL bytes.
    open_doc(client, "file:///w/e.py", "a = '\x00\x00'\nb = ")
    r = await client.text_document_inline_completion_async(inline_params("file:///w/e.py", 1, 4))
    assert len(items_of(r)) == 1
    # A 5 MB file.
    big = ("x = 1  # padding padding padding padding padding padding padding\n" * 80_000)[
        :5_000_000
    ]
    open_doc(client, "file:///w/big.py", big + "def f():\n    ")
    lines = (big + "def f():\n    ").split("\n")
    r = await client.text_document_inline_completion_async(
        inline_params("file:///w/big.py", len(lines) - 1, 4)
    )
    assert len(items_of(r)) == 1
    # And it still serves a normal request afterwards.
    open_doc(client, "file:///w/ok.py", STUB)
    r = await client.text_document_inline_completion_async(inline_params("file:///w/ok.py", 2, 4))
    assert len(items_of(r)) == 1


async def test_newer_request_supersedes_and_cancel_is_honoured(client: LanguageClient):
    open_doc(client, "file:///w/s.py", STUB)
    first = asyncio.ensure_future(
        client.text_document_inline_completion_async(inline_params("file:///w/s.py", 2, 4))
    )
    await asyncio.sleep(0.05)
    second = await client.text_document_inline_completion_async(
        inline_params("file:///w/s.py", 2, 4)
    )
    assert len(items_of(second)) == 1
    # The superseded request ends with an empty answer, not a stale suggestion.
    assert items_of(await first) == []
    # $/cancelRequest with the request's id: the server answers RequestCancelled (or an empty
    # result if the cancel arrived after the model had finished) and keeps serving.
    msg_id = f"cancel-me-{id(client)}"
    open_doc(client, "file:///w/s2.py", "def mul(a, b):\n    ")  # nothing cached here yet
    pending = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION,
            inline_params("file:///w/s2.py", 1, 4),
            msg_id=msg_id,
        )
    )
    await asyncio.sleep(0.2)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(Exception, match="cancel"):
        await asyncio.wait_for(pending, 5)
    r = await client.text_document_inline_completion_async(inline_params("file:///w/s.py", 2, 4))
    assert len(items_of(r)) == 1


async def test_model_loading_reports_progress(client: LanguageClient):
    open_doc(client, "file:///w/p.py", STUB)
    await client.text_document_inline_completion_async(inline_params("file:///w/p.py", 2, 4))
    reports = [r for values in client.progress_reports.values() for r in values]
    kinds = [type(r).__name__ for r in reports]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd", kinds
    assert "loading models" in reports[0].title
