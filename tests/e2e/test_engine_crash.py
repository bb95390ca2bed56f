"""The real server with the real default models when the engine's process dies in the middle of
a suggestion (a segfault at the third decoded token, injected into the first child only): the
editor's request is answered (empty) at once, the user is told once, the child is started again
and the next request gets a real suggestion; the server itself never stops."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.e2e.lsp_helpers import SERVER, inline_params, items_of, open_doc, server_env, text_of

pytestmark = pytest.mark.model

TEXT = "def add(a, b):\n    "


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=SERVER,
        server_env=server_env(
            AIRGAP_LSP_ENGINE_FAULT="segv-at-token:3",
            AIRGAP_LSP_ENGINE_FAULT_ONCE=f"/tmp/airgap-crash-test-{time.time_ns()}",
        ),
    ),
)
async def client(lsp_client: LanguageClient):
    statuses: list[str] = []  # the status messages

    @lsp_client.feature("airgap/status")
    def status(params) -> None:
        statuses.append(str(getattr(params, "message", "")))

    lsp_client.statuses = statuses  # type: ignore[attr-defined]
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("neovim"),
            initialization_options={
                "completion": {"maxTokens": 32, "maxPromptMs": 0, "maxPredictMs": 0}
            },
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_a_segfault_mid_suggestion_is_answered_told_once_and_recovered(
    client: LanguageClient,
):
    open_doc(client, "file:///w/add.py", TEXT)
    t0 = time.monotonic()
    first = await client.text_document_inline_completion_async(
        inline_params("file:///w/add.py", 1, 4)
    )
    assert items_of(first) == [] or all(not text_of(i).strip() for i in items_of(first))
    told = [m.message for m in client.messages if "model process stopped" in m.message]
    assert len(told) == 1 and "killed by SIGSEGV" in told[0], [m.message for m in client.messages]
    assert time.monotonic() - t0 < 120

    # The child comes back (the status says so) and serves the next request.
    deadline = time.monotonic() + 120
    while not any("answers again" in s for s in client.statuses):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, client.statuses  # type: ignore[attr-defined]
        await asyncio.sleep(0.1)
    second = await client.text_document_inline_completion_async(
        inline_params("file:///w/add.py", 1, 4)
    )
    items = items_of(second)
    assert len(items) == 1 and text_of(items[0]).strip(), second
    told = [m.message for m in client.messages if "model process stopped" in m.message]
    assert len(told) == 1  # told once
