"""Fixtures of the remote-engine tests: the served model's vocabulary (the default draft's
GGUF, vocabulary only), engines made from settings, and a self-signed TLS certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airgap_lsp.completion.remote.config import Connected, connect
from airgap_lsp.completion.settings import ModelSettings

BACKEND_OF = {
    "vllm": "openai",
    "sglang": "openai",
    "ollama": "ollama",
    "llama-server": "llama-server",
}


@pytest.fixture(scope="session")
def tokenizer_path(draft_path: Path) -> str:
    return str(draft_path)


@pytest.fixture
def make_engine(tokenizer_path: str) -> Callable[..., Connected]:
    """An engine for a double: `make_engine(double, requestTimeoutMs=..., ...)`."""

    def make(double: Any, **overrides: Any) -> Connected:
        values: dict[str, Any] = {
            "backend": BACKEND_OF[double.kind],
            "endpoint": double.url,
            "model": double.served,
            "tokenizer": tokenizer_path,
            "connect_timeout_ms": 1000,
            "request_timeout_ms": 3000,
        }
        values.update(overrides)
        return connect(ModelSettings(**values))

    return make


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert.pem, key.pem)."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
