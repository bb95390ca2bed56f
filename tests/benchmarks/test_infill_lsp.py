"""Infilling tasks through the real server over stdio (`benchmarks.infill_lsp`), on the fake
backend: each task's document is opened from a file of its own, the completion is asked at the
hole, and the item's text comes back as the middle."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.infill_lsp import LspRunner, recorded
from benchmarks.infill_tasks import Task

TEXT = "def add(a, b):\n    total = a + b\n    \n\n\nx = add(1, 2)\n"


def _task(offset: int, name: str) -> Task:
    return Task(
        task_id=f"python:demo/{name}:line:{offset}",
        language="python",
        kind="line",
        package="demo",
        version="0",
        ecosystem="pypi",
        path=f"demo/{name}",
        file_sha256="0" * 64,
        text=TEXT,
        offset=offset,
        expected="return total",
        window_start=0,
        hole_line=TEXT[:offset].count("\n"),
    )


def test_tasks_are_asked_through_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRGAP_LSP_FAKE_BACKEND", "1")
    blank = _task(TEXT.index("\n    \n") + 5, "ops.py")  # a blank line in the body
    inside = _task(TEXT.index("a + b") + 1, "more.py")  # inside a statement
    with LspRunner() as server:
        folder = Path(server.files.name)
        first = server(blank, "")
        second = server(inside, "")
        # Each document is a file of its own, under its own name, holding the task's text.
        assert sorted(p.name for p in folder.rglob("*.py")) == ["more.py", "ops.py"]
        assert all(p.read_text() == TEXT for p in folder.rglob("*.py"))
    assert not folder.exists()  # the private directory goes with the server
    # The fake backend's answers at those two places (see FakeBackend.complete).
    assert first.output == "return 42  # airgap\n    # end" and first.error == ""
    assert second.output == " # airgap" and second.error == ""
    assert first.latency_ms > 0 and second.latency_ms > 0
    outcomes = {blank.task_id: first, inside.task_id: second}
    assert recorded(outcomes)(inside, "file:///x") is second
