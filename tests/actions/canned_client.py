"""Client side of the canned-model action tests: a session with the server of
`tests.actions.canned_server`, and an LSP text model written from the specification alone
(line ends `\\n`, `\\r\\n`, `\\r`; UTF-16 columns) to check what the server sends back.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from airgap_lsp.completion.actions import DOCSTRING, FIX, TESTS
from tests.e2e.lsp_helpers import server_env

SERVER = [sys.executable, "-m", "tests.actions.canned_server"]
ANSWER_S = 30.0  # how long a test waits for any one answer before calling the server hung

# -- the reference text model --------------------------------------------------------------


def lsp_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line's content; only \\n, \\r\\n and \\r end a line."""
    spans = []
    start = i = 0
    while i < len(text):
        c = text[i]
        if c in "\r\n":
            spans.append((start, i))
            i += 2 if text[i : i + 2] == "\r\n" else 1
            start = i
        else:
            i += 1
    spans.append((start, len(text)))
    return spans


def units(text: str, encoding: str = "utf-16") -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return len(text)
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def offset_of(text: str, pos: types.Position, encoding: str = "utf-16") -> int:
    """Code-point offset of a position (clamped as LSP says)."""
    spans = lsp_lines(text)
    if pos.line >= len(spans):
        return len(text)
    start, end = spans[pos.line]
    count = 0
    for i in range(start, end):
        if count >= pos.character:
            return i
        count += units(text[i], encoding)
    return end


def position_of(text: str, offset: int, encoding: str = "utf-16") -> types.Position:
    for line, (start, end) in enumerate(lsp_lines(text)):
        if offset <= end:
            return types.Position(line, units(text[start:offset], encoding))
    raise ValueError(offset)


def range_of(text: str, start: int, end: int, encoding: str = "utf-16") -> types.Range:
    return types.Range(position_of(text, start, encoding), position_of(text, end, encoding))


def apply(text: str, edits: list[types.TextEdit], encoding: str = "utf-16") -> str:
    at = [
        (offset_of(text, e.range.start, encoding), offset_of(text, e.range.end, encoding))
        for e in edits
    ]
    spans = sorted(
        ((start, end, e.new_text) for (start, end), e in zip(at, edits, strict=True)),
        key=lambda s: s[0],
        reverse=True,
    )
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def edits_for(edit: types.WorkspaceEdit | None, uri: str) -> list[types.TextEdit]:
    out: list[types.TextEdit] = []
    if edit is None:
        return out
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri:
            out += [e for e in change.edits if isinstance(e, types.TextEdit)]
    out += list((edit.changes or {}).get(uri, []))
    return out


# -- sessions ---------------------------------------------------------------------------------


def caps(
    name: str = "visual-studio-code", *, document_changes: bool = True
) -> types.ClientCapabilities:
    """A real client's capabilities, with resource operations (create) and, unless told
    otherwise, documentChanges."""
    c = client_capabilities(name)
    assert c.workspace is not None and c.workspace.workspace_edit is not None
    we = c.workspace.workspace_edit
    we.document_changes = document_changes
    we.resource_operations = [types.ResourceOperationKind.Create] if document_changes else None
    return c


@contextlib.asynccontextmanager
async def session(
    capabilities: types.ClientCapabilities | None = None,
    *,
    folders: list[str] | None = None,
    features: dict[str, Callable[..., Any]] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[LanguageClient]:
    """A client talking to the canned server; the server is killed if it does not stop."""
    client = LanguageClient()
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, **(features or {})})
    await client.start_io(*SERVER, env=server_env(AIRGAP_LSP_FAKE_BACKEND="1", **(env or {})))
    try:
        await asyncio.wait_for(
            client.initialize_session(
                types.InitializeParams(
                    capabilities=capabilities or caps(),
                    root_uri=folders[0] if folders else None,
                    workspace_folders=[
                        types.WorkspaceFolder(uri=f, name=f"ws{i}")
                        for i, f in enumerate(folders or [])
                    ]
                    or None,
                )
            ),
            ANSWER_S,
        )
        yield client
        if client._server is not None and client._server.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.shutdown_session(), 10)
    finally:
        server = client._server
        if server is not None and server.returncode is None:
            server.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 10)


def open_doc(
    client: LanguageClient, uri: str, text: str, version: int = 1, language: str = "python"
) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=version, text=text
            )
        )
    )


def change_doc(
    client: LanguageClient,
    uri: str,
    version: int,
    text: str,
    start: int,
    end: int,
    new: str,
    encoding: str = "utf-16",
) -> str:
    """Replace text[start:end] by `new` with an incremental change; returns the new text."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=range_of(text, start, end, encoding), text=new
                )
            ],
        )
    )
    return text[:start] + new + text[end:]


async def actions_at(
    client: LanguageClient,
    uri: str,
    rng: types.Range,
    diagnostics: list[types.Diagnostic] | None = None,
) -> list[types.CodeAction]:
    result = await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=types.CodeActionContext(diagnostics=diagnostics or []),
            )
        ),
        ANSWER_S,
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


def kind_of(action: types.CodeAction) -> str:
    data = action.data if isinstance(action.data, dict) else {}
    return str(data.get("action", ""))


async def resolve(client: LanguageClient, actions: list[types.CodeAction], kind: str) -> Any:
    """Resolve the first listed action of `kind` (DOCSTRING, FIX, TESTS)."""
    assert kind in (DOCSTRING, FIX, TESTS)
    chosen = [a for a in actions if kind_of(a) == kind]
    assert chosen, [a.title for a in actions]
    return await asyncio.wait_for(client.code_action_resolve_async(chosen[0]), ANSWER_S)


async def message_containing(client: LanguageClient, words: str, wait_s: float = 5.0) -> str:
    for _ in range(int(wait_s / 0.05)):
        for m in client.messages:
            if words in m.message:
                return m.message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message with {words!r}: {[m.message for m in client.messages]}")
