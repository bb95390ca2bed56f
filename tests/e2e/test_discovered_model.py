"""The real server configured with a model found in Ollama's store: `models.target =
"ollama:qwen2.5-coder:0.5b"` on a fake Ollama tree (OLLAMA_MODELS in tmp_path) whose blob is
a hard link to the real small default model, serving a real completion."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from tests.e2e.lsp_helpers import inline_params, items_of, server_env, text_of

pytestmark = pytest.mark.model

SERVER = [sys.executable, "-m", "airgap_lsp.lsp", "serve", "--log-level", "info"]
URI = "file:///w/add.py"
TEXT = "def add(a, b):\n    return "
TIMEOUT = 300  # loading and a first completion on a busy 2-core machine


def ollama_store(root: Path, model: Path) -> None:
    digest = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    blob = root / "blobs" / f"sha256-{digest}"
    blob.parent.mkdir(parents=True)
    try:
        os.link(model, blob)
    except OSError:
        blob.symlink_to(model)
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / "qwen2.5-coder" / "0.5b"
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"}
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": [layer]}))


async def test_server_completes_with_a_model_from_ollamas_store(tmp_path: Path, draft_path: Path):
    ollama_store(tmp_path / "ollama", draft_path)
    statuses: list[Any] = []  # pygls Objects: attributes
    shown: list[str] = []
    client = LanguageClient("discovery-e2e", "1")

    @client.feature("airgap/status")
    def status(params: Any) -> None:
        statuses.append(params)

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def show(params: types.ShowMessageParams) -> None:
        shown.append(params.message)

    env = server_env(OLLAMA_MODELS=str(tmp_path / "ollama"), HOME=str(tmp_path / "home"))
    await client.start_io(*SERVER, env=env)
    try:
        await asyncio.wait_for(
            client.initialize_async(
                types.InitializeParams(
                    capabilities=types.ClientCapabilities(),
                    initialization_options={
                        "models": {"target": "ollama:qwen2.5-coder:0.5b", "draft": ""},
                        "completion": {"maxTokens": 16, "maxPromptMs": 0, "maxPredictMs": 0},
                    },
                )
            ),
            TIMEOUT,
        )
        client.initialized(types.InitializedParams())
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=URI, language_id="python", version=1, text=TEXT
                )
            )
        )
        result = await asyncio.wait_for(
            client.text_document_inline_completion_async(inline_params(URI, 1, 11)), TIMEOUT
        )
        items = items_of(result)
        assert len(items) == 1 and text_of(items[0]).strip(), (items, shown)
        ready = [s for s in statuses if s.state == "ready"]
        assert ready, (statuses, shown)
        assert ready[-1].modelSource == "ollama"
        assert ready[-1].choice == "configured: ollama:qwen2.5-coder:0.5b"
        await asyncio.wait_for(client.shutdown_async(None), TIMEOUT)
        client.exit(None)
    finally:
        server = client._server
        if server is not None and server.returncode is None:
            server.kill()
        await client.stop()
