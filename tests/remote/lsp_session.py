"""The real language server over stdio, configured for a remote engine, with a client that
records what the server says (messages, statuses) and can cancel its own requests."""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from tests.e2e.lsp_helpers import inline_params, items_of, server_env

SERVER = [sys.executable, "-m", "airgap_lsp.lsp", "serve", "--log-level", "info"]
TIMEOUT = 120.0  # generous: a hang is what these tests catch
_ids = itertools.count()


class RemoteSession:
    def __init__(self) -> None:
        self.client = LanguageClient("remote-tests", "1")
        self.env = server_env()
        self.shown: list[types.ShowMessageParams] = []
        self.statuses: list[dict[str, Any]] = []
        self.logged: list[str] = []
        self.applied: list[types.WorkspaceEdit] = []  # workspace/applyEdit from the server
        client = self.client

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def show(params: types.ShowMessageParams) -> None:
            self.shown.append(params)

        @client.feature(types.WINDOW_LOG_MESSAGE)
        def log_message(params: types.LogMessageParams) -> None:
            self.logged.append(params.message)

        @client.feature("airgap/status")
        def status(params: Any) -> None:
            self.statuses.append(_plain(params))

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params: Any) -> None:
            pass

        @client.feature(types.PROGRESS)
        def progress(params: Any) -> None:
            pass

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            self.applied.append(params.edit)
            return types.ApplyWorkspaceEditResult(applied=True)

    async def start(self, options: dict[str, Any]) -> None:
        await self.client.start_io(*SERVER, env=self.env)
        caps = types.ClientCapabilities(
            window=types.WindowClientCapabilities(work_done_progress=False),
            text_document=types.TextDocumentClientCapabilities(
                inline_completion=types.InlineCompletionClientCapabilities(),
                code_action=types.CodeActionClientCapabilities(
                    code_action_literal_support=types.ClientCodeActionLiteralOptions(
                        code_action_kind=types.ClientCodeActionKindOptions(
                            value_set=["quickfix", "refactor", "refactor.rewrite", "source"]
                        )
                    ),
                    resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]),
                ),
            ),
            workspace=types.WorkspaceClientCapabilities(apply_edit=True),
        )
        await asyncio.wait_for(
            self.client.initialize_async(
                types.InitializeParams(capabilities=caps, initialization_options=options)
            ),
            TIMEOUT,
        )
        self.client.initialized(types.InitializedParams())

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=version, text=text
                )
            )
        )

    def change(self, uri: str, text: str, version: int) -> None:
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    async def inline(self, uri: str, line: int, character: int) -> list[str]:
        result = await asyncio.wait_for(
            self.client.text_document_inline_completion_async(inline_params(uri, line, character)),
            TIMEOUT,
        )
        return texts(result)

    def inline_request(self, uri: str, line: int, character: int) -> tuple[str, asyncio.Future]:
        """A request sent now (a coroutine such as `inline` sends only once it runs), whose id
        the test knows (to cancel it): (id, the future of its raw answer; see `texts`)."""
        msg_id = f"remote-{next(_ids)}"
        future = asyncio.ensure_future(
            self.client.protocol.send_request_async(
                types.TEXT_DOCUMENT_INLINE_COMPLETION,
                inline_params(uri, line, character),
                msg_id=msg_id,
            )
        )
        return msg_id, future

    def cancel(self, msg_id: str) -> float:
        self.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        return time.monotonic()

    async def completion(self, uri: str, line: int, character: int) -> list[str]:
        result = await asyncio.wait_for(
            self.client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=line, character=character),
                )
            ),
            TIMEOUT,
        )
        if result is None:
            return []
        items = result.items if isinstance(result, types.CompletionList) else result
        out = []
        for item in items:
            edit = item.text_edit
            out.append(edit.new_text if edit is not None else (item.insert_text or item.label))
        return out

    async def request(self, method: str) -> Any:
        """One of the server's own requests (`airgap/stats`...), its answer as dicts."""
        return _plain(await self.client.protocol.send_request_async(method, {}))

    def told(self, text: str) -> list[str]:
        return [m.message for m in self.shown if text in m.message]

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 30)
            self.client.exit(None)
        finally:
            await asyncio.wait_for(self.client.stop(), 30)


def texts(result: Any) -> list[str]:
    """The suggestions' texts of an inline completion answer."""
    return [_text(i) for i in items_of(result)]


def _text(item: types.InlineCompletionItem) -> str:
    insert = item.insert_text
    return insert if isinstance(insert, str) else insert.value


def _plain(value: Any) -> Any:
    """pygls hands custom notifications over as namedtuples: back to dicts and lists."""
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
