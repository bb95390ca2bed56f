"""Faults injected into the real server over stdio (fake backend): failed model loads, a
client that never answers, and where log records go.

The fake backend fails to load when its target is named `fake-fault:<kind>`
(completion.backend._fake_fault), the way a real model can: a ValueError, MemoryError, an
evaluation error at calibration, or a BackendError.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from tests.e2e.lsp_helpers import inline_params, items_of, server_env
from tests.synthetic.conftest import synthetic_models, synthetic_qwen2_pair  # noqa: F401

SERVER = [sys.executable, "-m", "airgap_lsp.lsp", "serve", "--log-level", "info"]
URI = "file:///w/a.py"
TEXT = "def add(a, b):\n    \n"
REQUEST_TIMEOUT = 30  # generous: a hang is what these tests catch


class Session:
    """One server process and a minimal client that records what the server sends."""

    def __init__(
        self, progress: bool = False, answer_progress: bool = True, fake: bool = True
    ) -> None:
        self.client = LanguageClient("fault-tests", "1")
        self.progress = progress
        self.env = server_env(AIRGAP_LSP_FAKE_BACKEND="1") if fake else server_env()
        self.shown: list[types.ShowMessageParams] = []
        self.logged: list[types.LogMessageParams] = []
        self.progress_created = 0
        self.release = asyncio.Event()  # answers progress creation at last (see stop)
        client = self.client

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def show(params: types.ShowMessageParams) -> None:
            self.shown.append(params)

        @client.feature(types.WINDOW_LOG_MESSAGE)
        def log_message(params: types.LogMessageParams) -> None:
            self.logged.append(params)

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        async def create(params: types.WorkDoneProgressCreateParams) -> None:
            self.progress_created += 1
            if not answer_progress:
                await self.release.wait()  # no answer while the test runs

        @client.feature(types.PROGRESS)
        def progress_note(params: Any) -> None:
            pass

        @client.feature("airgap/status")
        def status(params: Any) -> None:
            pass

    async def start(
        self, options: dict[str, Any] | None = None, *args: str, text: str = TEXT
    ) -> None:
        await self.client.start_io(*SERVER, *args, env=self.env)
        caps = types.ClientCapabilities(
            window=types.WindowClientCapabilities(work_done_progress=self.progress)
        )
        await asyncio.wait_for(
            self.client.initialize_async(
                types.InitializeParams(capabilities=caps, initialization_options=options)
            ),
            REQUEST_TIMEOUT,
        )
        self.client.initialized(types.InitializedParams())
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=URI, language_id="python", version=1, text=text
                )
            )
        )

    async def inline(self, line: int = 1, character: int = 4) -> list[types.InlineCompletionItem]:
        result = await asyncio.wait_for(
            self.client.text_document_inline_completion_async(inline_params(URI, line, character)),
            REQUEST_TIMEOUT,
        )
        return items_of(result)

    async def completion(self, line: int = 1, character: int = 4) -> types.CompletionList | None:
        return await asyncio.wait_for(
            self.client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=URI),
                    position=types.Position(line=line, character=character),
                )
            ),
            REQUEST_TIMEOUT,
        )

    def configure(self, target: str) -> None:
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"airgap": {"models": {"target": target}}})
        )

    def told(self, text: str) -> list[str]:
        return [m.message for m in self.shown if text in m.message]

    async def stop(self) -> str:
        """Shut the server down; its whole stderr."""
        server = self.client._server
        self.release.set()
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), REQUEST_TIMEOUT)
            self.client.exit(None)
        finally:
            err = b""
            if server is not None and server.stderr is not None:
                err = await asyncio.wait_for(server.stderr.read(), REQUEST_TIMEOUT)
            if server is not None and server.returncode is None:
                server.kill()
            await self.client.stop()
        return err.decode("utf-8", "replace")


@pytest.fixture
async def session():
    s = Session()
    yield s
    if s.client._server is not None and s.client._server.returncode is None:
        await s.stop()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("value", "ValueError: n_batch (8) must exceed"),
        ("memory", "out of memory"),
        ("calibration", "llama_decode returned -3"),
    ],
)
async def test_a_failed_load_is_told_once_then_requests_get_empty_results(
    session: Session, kind: str, reason: str
):
    await session.start({"models": {"target": f"fake-fault:{kind}"}})
    assert await session.inline() == []  # an empty result, not an error
    assert await session.inline() == []
    result = await session.completion()
    assert result is not None and list(result.items) == []
    told = session.told("cannot load the model")
    assert len(told) == 1 and reason in told[0], [m.message for m in session.shown]
    # A later configuration loads a working model and completions come back.
    session.configure("any-working-model")
    items = await session.inline()
    assert len(items) == 1
    assert len(session.told("cannot load")) == 1
    await session.stop()


@pytest.mark.parametrize("kind", ["memory", "backend"])
async def test_a_failed_reload_keeps_the_working_backend(session: Session, kind: str):
    await session.start()
    assert len(await session.inline()) == 1
    session.configure(f"fake-fault:{kind}")
    assert len(await session.inline()) == 1  # still served by the backend that worked
    told = session.told("cannot load the new model")
    assert len(told) == 1 and "still using fake backend" in told[0], session.shown
    await session.stop()


async def test_a_client_that_never_answers_progress_create_still_gets_models():
    session = Session(progress=True, answer_progress=False)
    try:
        await session.start()
        assert len(await session.inline()) == 1
        assert session.progress_created == 1  # it was asked, and never answered
    finally:
        await session.stop()


@pytest.mark.parametrize("log_file", ["", "flag", "option"])
async def test_info_goes_to_the_client_and_file_warnings_to_stderr(tmp_path: Path, log_file: str):
    session = Session()
    path = tmp_path / "airgap.log"
    options: dict[str, Any] = {"completion": {"maxTokens": "many"}}
    if log_file == "option":
        options["log"] = {"file": str(path)}
    args = ("--log-file", str(path)) if log_file == "flag" else ()
    try:
        await session.start(options, *args)
        assert len(await session.inline()) == 1
    finally:
        stderr = await session.stop()
    lines = stderr.splitlines()
    assert not [line for line in lines if " INFO " in line or " DEBUG " in line], stderr
    assert any(" WARNING " in line and "completion.maxTokens" in line for line in lines), stderr
    logged = [m.message for m in session.logged]
    assert any("models ready" in m for m in logged), logged
    assert all(m.type in (types.MessageType.Info, types.MessageType.Log) for m in session.logged)
    if log_file:
        text = path.read_text(encoding="utf-8")
        assert " INFO " in text and "models ready" in text
        assert " WARNING " in text and "completion.maxTokens" in text


async def test_lone_surrogates_from_the_client_get_replies(synthetic_qwen2_pair):  # noqa: F811
    """A real (tiny) model tokenizes the text: lone surrogates must not crash it."""
    session = Session(fake=False)
    target = str(synthetic_qwen2_pair[0])
    text = "s = '\ud800'\ndef add(a, b):\n    \n"
    try:
        await session.start({"models": {"target": target, "draft": ""}}, text=text)
        assert isinstance(await session.inline(2, 4), list)
        session.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(2, 4), types.Position(2, 4)),
                        text="x = '\udfff' + ",
                    )
                ],
            )
        )
        assert isinstance(await session.inline(2, 17), list)
        result = await session.completion(2, 17)
        assert result is not None
        assert not session.told("cannot load"), session.shown
    finally:
        await session.stop()
