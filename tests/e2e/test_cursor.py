"""The `airgap/cursor` hint through the real server over stdio (fake backend): the last resting
place of an open document is kept and reported in `airgap/status`; a hint for a closed or
never-opened document, for another version than the server's, or for a position outside the
text is ignored."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from tests.e2e.lsp_helpers import SERVER, inline_params, open_doc, server_env

A = "file:///w/a.py"
B = "file:///w/b.py"
TEXT = "def add(a, b):\n    \n"
TIMEOUT = 30


def hint(uri: str, version: int, line: int, character: int) -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri, "version": version},
        "position": {"line": line, "character": character},
    }


class Client:
    def __init__(self) -> None:
        self.client = LanguageClient("cursor-tests", "1")
        self.statuses: list[Any] = []

        @self.client.feature("airgap/status")
        def status(params: Any) -> None:
            self.statuses.append(params)

    async def start(self) -> None:
        await self.client.start_io(*SERVER, env=server_env(AIRGAP_LSP_FAKE_BACKEND="1"))
        await asyncio.wait_for(
            self.client.initialize_async(
                types.InitializeParams(capabilities=types.ClientCapabilities())
            ),
            TIMEOUT,
        )
        self.client.initialized(types.InitializedParams())

    def cursor(self, params: Any) -> None:
        self.client.protocol.notify("airgap/cursor", params)

    async def reported(self) -> Any:
        """The resting place in the status after a completion (which sends a status)."""
        self.statuses.clear()
        await asyncio.wait_for(
            self.client.text_document_inline_completion_async(inline_params(A, 1, 4)), TIMEOUT
        )
        for _ in range(100):
            if self.statuses:
                break
            await asyncio.sleep(0.05)
        last = self.statuses[-1]
        cursor = last["cursor"] if isinstance(last, dict) else getattr(last, "cursor", None)
        if cursor is None:
            return None
        if not isinstance(cursor, dict):  # pygls hands unknown objects over as named tuples
            pos = cursor.position
            cursor = {
                "uri": cursor.uri,
                "version": cursor.version,
                "position": {"line": pos.line, "character": pos.character},
            }
        return cursor

    async def stop(self) -> None:
        await asyncio.wait_for(self.client.shutdown_async(None), TIMEOUT)
        self.client.exit(None)
        await self.client.stop()


@pytest.fixture
async def client():
    c = Client()
    await c.start()
    yield c
    await c.stop()


def place(uri: str, version: int, line: int, character: int) -> dict[str, Any]:
    return {"uri": uri, "version": version, "position": {"line": line, "character": character}}


async def test_the_last_resting_place_of_an_open_document_is_kept(client: Client) -> None:
    open_doc(client.client, A, TEXT)
    client.cursor(hint(A, 1, 0, 3))
    client.cursor(hint(A, 1, 1, 2))
    assert await client.reported() == place(A, 1, 1, 2)


async def test_hints_for_closed_stale_or_impossible_places_are_ignored(client: Client) -> None:
    open_doc(client.client, A, TEXT)
    open_doc(client.client, B, TEXT)
    client.cursor(hint(A, 1, 0, 3))
    client.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=B))
    )
    client.cursor(hint(B, 1, 1, 1))  # closed
    client.cursor(hint("file:///w/never.py", 1, 0, 0))  # never opened
    client.cursor(hint(A, 0, 1, 1))  # an older version
    client.cursor(hint(A, 7, 1, 1))  # a version the server has not seen
    client.cursor(hint(A, 1, 9, 0))  # past the last line
    client.cursor(hint(A, 1, 0, 99))  # past the line's end
    client.cursor({"textDocument": {"uri": A}})  # not a hint's shape
    assert await client.reported() == place(A, 1, 0, 3)


async def test_a_closed_document_loses_its_resting_place(client: Client) -> None:
    open_doc(client.client, B, TEXT)
    client.cursor(hint(B, 1, 1, 1))
    client.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=B))
    )
    open_doc(client.client, A, TEXT)
    assert await client.reported() is None


async def test_an_edit_makes_the_old_version_stale(client: Client) -> None:
    open_doc(client.client, A, TEXT)
    client.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=A, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=TEXT + "x = 1\n")],
        )
    )
    client.cursor(hint(A, 2, 2, 5))
    client.cursor(hint(A, 1, 0, 1))  # sent before the client saw its own edit
    assert await client.reported() == place(A, 2, 2, 5)


async def stats(client: Client) -> dict[str, int]:
    result = await asyncio.wait_for(
        client.client.protocol.send_request_async("airgap/stats", None), TIMEOUT
    )
    return result if isinstance(result, dict) else dict(result._asdict())


async def test_a_resting_cursor_prewarms_the_suggestion_served_there(client: Client) -> None:
    open_doc(client.client, A, TEXT)
    await client.reported()  # the models are loaded (a first completion elsewhere)
    client.cursor(hint(A, 1, 0, 3))
    for _ in range(100):
        if (await stats(client)).get("prewarmStarted"):
            break
        await asyncio.sleep(0.05)
    before = await stats(client)
    assert before.get("prewarmStarted") == 1, before
    await asyncio.wait_for(
        client.client.text_document_inline_completion_async(inline_params(A, 0, 3)), TIMEOUT
    )
    after = await stats(client)
    assert after.get("prefetchHits", 0) == before.get("prefetchHits", 0) + 1, after
    assert after.get("modelRuns", 0) == before.get("modelRuns", 0)  # no run of its own


async def _settled(client: Client, name: str, want: int) -> dict[str, int]:
    for _ in range(100):
        now = await stats(client)
        if now.get(name, 0) >= want:
            return now
        await asyncio.sleep(0.05)
    return await stats(client)


async def test_opening_or_saving_a_document_warms_its_prompt_unless_turned_off(
    client: Client,
) -> None:
    open_doc(client.client, A, TEXT)
    await client.reported()  # the models are loaded; the model ran for A
    started = (await stats(client)).get("warmStarted", 0)  # A, opened while they loaded
    open_doc(client.client, B, TEXT)
    assert (await _settled(client, "warmStarted", started + 1)).get("warmStarted") == started + 1
    # Saving a document the model already ran for leaves its sequence alone.
    client.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=A))
    )
    await asyncio.sleep(0.2)
    assert (await stats(client)).get("warmStarted") == started + 1
    # `completion.prewarm: false`: nothing on open (nor for a resting cursor).
    client.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"airgap": {"completion": {"prewarm": False}}})
    )
    await asyncio.sleep(0.2)
    open_doc(client.client, "file:///w/c.py", TEXT)
    client.cursor(hint("file:///w/c.py", 1, 0, 3))
    await asyncio.sleep(0.3)
    now = await stats(client)
    assert now.get("warmStarted") == started + 1 and not now.get("prewarmStarted"), now
