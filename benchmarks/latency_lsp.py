"""The latency suite's transport to airgap-lsp: the real server process over stdio.

Owns starting `python -m lsp serve` with a configuration's initializationOptions, waiting for
the models to load (`airgap/status` ready), the editor's LSP traffic (didOpen, incremental
didChange, inlineCompletion with our own ids so `$/cancelRequest` can name them, didClose),
collecting `airgap/status` completions and the `airgap/stats` counters, and shutting down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled
from pygls.lsp.client import LanguageClient

from benchmarks.latency_session import Outcome, work_of
from benchmarks.latency_tasks import Kind

REPO_ROOT = Path(__file__).resolve().parents[1]


def plain(value: Any) -> Any:
    """pygls hands custom-method payloads over as named tuples; make them JSON-like."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def position(text: str, offset: int) -> types.Position:
    """The LSP position (UTF-16 columns) of `offset` in `text`."""
    before = text[:offset]
    line_start = before.rfind("\n") + 1
    column = before[line_start:]
    return types.Position(line=before.count("\n"), character=len(column.encode("utf-16-le")) // 2)


def first_item(result: Any) -> tuple[str, types.Range | None] | None:
    """The text and range of the first item of an inlineCompletion answer (a list, a bare
    array or null), or None when it has none."""
    items = result.items if isinstance(result, types.InlineCompletionList) else result or []
    if not items:
        return None
    insert = items[0].insert_text
    return (insert if isinstance(insert, str) else insert.value), items[0].range


class _Request:
    def __init__(
        self,
        client: LanguageClient,
        params: types.InlineCompletionParams,
        completions: list[dict[str, Any]],
    ) -> None:
        self.client = client
        # The server sends the answer's `airgap/status` (its timings) just before the answer.
        self.completions, self.seen = completions, len(completions)
        self.id = str(uuid.uuid4())
        self.future = asyncio.wrap_future(
            client.protocol.send_request(
                types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=self.id
            )
        )

    def cancel(self) -> None:
        if not self.future.done():
            self.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=self.id))

    async def outcome(self) -> Outcome:
        try:
            result = await self.future
        except JsonRpcRequestCancelled:
            return Outcome(None, cancelled=True)
        except JsonRpcException as exc:
            if getattr(exc, "code", None) == JsonRpcRequestCancelled.CODE:
                return Outcome(None, cancelled=True)
            return Outcome(None, error=str(exc)[:200])
        except RuntimeError as exc:  # the server process exited
            return Outcome(None, error=str(exc)[:200])
        item = first_item(result)
        work = None
        if len(self.completions) > self.seen:
            row = self.completions[self.seen]
            evaluated = (row.get("promptTokens") or 0) - (row.get("reusedTokens") or 0)
            work = work_of(row, evaluated)
        return Outcome(item[0] if item is not None else None, work=work)


class LspTransport:
    """One airgap-lsp server process; use `async with`."""

    abandons = False

    def __init__(
        self,
        name: str,
        init_options: Mapping[str, Any] | None,
        env: Mapping[str, str] | None = None,
        load_timeout_s: float = 600.0,
        log_path: Path | None = None,
        log_level: str = "warning",
    ) -> None:
        self.name = name
        self.log_level = log_level
        self.init_options = dict(init_options) if init_options is not None else None
        self.env = dict(env if env is not None else os.environ)
        self.load_timeout_s = load_timeout_s
        self.log_path = log_path
        self.client = LanguageClient("airgap-latency", "1")
        self.completions: list[dict[str, Any]] = []  # lastCompletion of each airgap/status
        self.messages: list[str] = []
        self.model = ""
        self.load_seconds = 0.0
        self._state: str | None = None
        self._status_message = ""
        self._ready = asyncio.Event()
        self._stderr_tail: deque[str] = deque(maxlen=40)
        self._drain: asyncio.Task[None] | None = None
        self._register()

    def _register(self) -> None:
        @self.client.feature("airgap/status")
        def on_status(params: Any) -> None:
            status = plain(params) or {}
            self._state = status.get("state")
            self._status_message = status.get("message") or ""
            self.model = status.get("model") or self.model
            last = status.get("lastCompletion")
            if isinstance(last, dict):
                self.completions.append(last)
            if self._state in ("ready", "error"):
                self._ready.set()

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(params: types.LogMessageParams) -> None:
            return None

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        # The server logs to stderr; an unread pipe would eventually block it.
        log = self.log_path.open("a", encoding="utf-8", buffering=1) if self.log_path else None
        try:
            while line := await stream.readline():
                decoded = line.decode("utf-8", "replace").rstrip()
                self._stderr_tail.append(decoded)
                if log:
                    log.write(decoded + "\n")
        finally:
            if log:
                log.close()

    def _serve_command(self) -> list[str]:
        """The server's command line. Info and debug records go to the client, not stderr (see
        `lsp.logs`), so below `warning` the server also writes them to the log file itself."""
        command = [sys.executable, "-m", "airgap_lsp.lsp", "serve", "--log-level", self.log_level]
        if self.log_path is not None and self.log_level != "warning":
            command += ["--log-file", str(self.log_path)]
        return command

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    async def __aenter__(self) -> LspTransport:
        t0 = time.monotonic()
        await self.client.start_io(*self._serve_command(), env=self.env, cwd=str(REPO_ROOT))
        server = self.client._server
        if server is not None and server.stderr is not None:
            self._drain = asyncio.create_task(self._drain_stderr(server.stderr))
        await self.client.initialize_async(
            types.InitializeParams(
                process_id=os.getpid(),
                root_uri=None,
                capabilities=types.ClientCapabilities(
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities(),
                        synchronization=types.TextDocumentSyncClientCapabilities(),
                    )
                ),
                initialization_options=self.init_options,
            )
        )
        self.client.initialized(types.InitializedParams())
        try:
            await asyncio.wait_for(self._ready.wait(), self.load_timeout_s)
        except TimeoutError:
            await self.aclose()
            raise RuntimeError(f"{self.name}: the server did not get ready in time") from None
        if self._state == "error":
            await self.aclose()
            raise RuntimeError(f"{self.name}: cannot load models: {self._status_message}")
        self.load_seconds = time.monotonic() - t0
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        server = self.client._server
        if server is not None and server.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.shutdown_async(None), 10)
            with contextlib.suppress(Exception):
                self.client.exit(None)
            try:
                await asyncio.wait_for(server.wait(), 10)
            except TimeoutError:
                server.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), 10)
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain, 5)

    async def open(self, uri: str, text: str, language_id: str = "python") -> None:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language_id, version=1, text=text
                )
            )
        )

    async def change(self, uri: str, version: int, offset: int, inserted: str, text: str) -> None:
        at = position(text, offset)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=at, end=at), text=inserted
                    )
                ],
            )
        )

    def request(
        self,
        uri: str,
        text: str,
        offset: int,
        kind: Kind,
        trigger: types.InlineCompletionTriggerKind = types.InlineCompletionTriggerKind.Automatic,
    ) -> _Request:
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position(text, offset),
            context=types.InlineCompletionContext(trigger_kind=trigger),
        )
        return _Request(self.client, params, self.completions)

    async def rest(self, uri: str, version: int, text: str, offset: int) -> None:
        """Our clients' `airgap/cursor` hint, as the Neovim plugin sends it after 300 ms."""
        at = position(text, offset)
        self.client.protocol.notify(
            "airgap/cursor",
            {
                "textDocument": {"uri": uri, "version": version},
                "position": {"line": at.line, "character": at.character},
            },
        )

    async def close(self, uri: str) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    async def stats(self) -> dict[str, Any]:
        """`airgap/stats`, or {} from a server that does not have it yet."""
        try:
            result = await asyncio.wait_for(
                self.client.protocol.send_request_async("airgap/stats", None), 10
            )
        except Exception:
            return {}
        result = plain(result)
        return result if isinstance(result, dict) else {}
