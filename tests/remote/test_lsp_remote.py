"""The real server over stdio on a remote engine (a vLLM double): suggestions come from the
engine, an engine that fails gives empty results, one message and an error status, and the
server goes back to serving when the engine does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.remote.doubles import EngineDouble
from tests.remote.lsp_session import RemoteSession

URI = "file:///w/add.py"
TEXT = "def add(a, b):\n    \n"


@pytest.fixture
async def served(vocab: Any, tokenizer_path: str) -> AsyncIterator[tuple[RemoteSession, Any]]:
    def tokenize(text: str) -> list[int]:
        return vocab.tokenize(text, special=True)

    with EngineDouble("vllm", pieces=["return a + b", "\n"], tokenize=tokenize) as double:
        session = RemoteSession()
        options = {
            "models": {
                "backend": "openai",
                "endpoint": double.url,
                "model": double.served,
                "tokenizer": tokenizer_path,
                "requestTimeoutMs": 3000,
            },
            "completion": {"maxPromptMs": 0, "maxPredictMs": 0},
        }
        await session.start(options)
        session.open(URI, TEXT)
        try:
            yield session, double
        finally:
            await session.stop()


async def test_suggestions_come_from_the_engine_and_failures_are_told_once(
    served: tuple[RemoteSession, Any],
) -> None:
    session, double = served
    assert await session.inline(URI, 1, 4) == ["return a + b"]
    assert await session.completion(URI, 1, 4) == ["return a + b"]
    body = double.completions()[0]
    assert "suffix" not in body and isinstance(body["prompt"], list)
    ready = [s for s in session.statuses if s.get("state") == "ready"]
    assert "on openai at http://127.0.0.1" in ready[0]["model"]

    # Other documents (the same cursor again would be served from what was kept).
    double.statuses[:] = [503] * 30
    for name in ("sub", "mul"):
        uri = f"file:///w/{name}.py"
        session.open(uri, f"def {name}(a, b):\n    \n")
        assert await session.inline(uri, 1, 4) == []
    failed = session.told("failed (HTTP 503)")
    assert len(failed) == 1, session.shown  # one message per outage, not per request
    assert session.statuses[-1]["state"] == "error"
    assert "HTTP 503" in session.statuses[-1]["message"]

    double.statuses.clear()
    session.open("file:///w/div.py", "def div(a, b):\n    \n")
    assert await session.inline("file:///w/div.py", 1, 4) == ["return a + b"]
    for _ in range(50):  # the status comes from the worker through the event loop
        if any("answers again" in s.get("message", "") for s in session.statuses):
            break
        await asyncio.sleep(0.05)
    back = [s for s in session.statuses if "answers again" in s.get("message", "")]
    assert back and back[0]["state"] == "ready"
