"""Infilling tasks through the real server over stdio, as an outside editor asks for them.

The in-process `airgap` configuration of `infill_real` calls the `Completer` directly; an
outside check drives the server through the standard LSP instead. `LspRunner` does that: one
`python -m airgap_lsp.lsp serve` process (default settings, `LspTransport`), and per task the
document written to a file of its own in a private directory, `didOpen`, one
`textDocument/inlineCompletion` at the hole (trigger kind Invoked: a user asking), the item's
text taken as the middle (our items insert at the cursor), `didClose`.

The server runs on its own event loop in a thread, so the runner is a plain `Runner` of
`infill_real` (`(task, uri) -> Outcome`). Run it alone, never beside an in-process model:
the server's idle work (pre-warming, prefetch, calibration) would share the cores with it.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from benchmarks.infill_real import Outcome
from benchmarks.infill_tasks import Task
from benchmarks.latency_lsp import LspTransport, first_item, position

DESCRIPTION = "the real server over stdio (didOpen, inlineCompletion at the hole, didClose)"
REQUEST_TIMEOUT_S = 600.0


class LspRunner:
    """A running server and the tasks asked of it; use as a context manager."""

    def __init__(self, init_options: dict[str, Any] | None = None) -> None:
        self.transport = LspTransport("airgap-lsp", init_options)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.files = tempfile.TemporaryDirectory(prefix="airgap-infill-lsp-")
        self.count = 0

    def _call(self, coroutine: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __enter__(self) -> LspRunner:
        self.thread.start()
        self._call(self.transport.__aenter__())
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self._call(self.transport.aclose(), 60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.files.cleanup()

    @property
    def info(self) -> dict[str, Any]:
        return {"lsp_model": self.transport.model, "lsp_load_seconds": self.transport.load_seconds}

    def __call__(self, task: Task, _uri: str) -> Outcome:
        self.count += 1
        folder = Path(self.files.name) / str(self.count)
        folder.mkdir()
        path = folder / Path(task.path).name
        path.write_text(task.text, encoding="utf-8")
        uri = path.as_uri()
        return self._call(self._ask(uri, task), REQUEST_TIMEOUT_S + 30)

    async def _ask(self, uri: str, task: Task) -> Outcome:
        transport = self.transport
        seen = len(transport.completions)
        await transport.open(uri, task.text, task.language)
        cursor = position(task.text, task.offset)
        pending = transport.request(
            uri, task.text, task.offset, task.kind, types.InlineCompletionTriggerKind.Invoked
        )
        t = time.perf_counter()
        try:
            result = await asyncio.wait_for(pending.future, REQUEST_TIMEOUT_S)
            error = ""
        except Exception as exc:  # an error answer is the task's outcome, not the run's end
            result, error = None, f"{type(exc).__name__}: {exc}"[:300]
        latency = (time.perf_counter() - t) * 1000
        await transport.close(uri)
        text = None
        item = first_item(result)
        if item is not None:
            text, where = item
            if where is not None and (where.start != cursor or where.end != where.start):
                # Only an insertion at the cursor is a middle; say so rather than guess.
                text, error = None, f"item range {where} is not the cursor {cursor}"
        await asyncio.sleep(0.05)  # let the answer's airgap/status arrive
        last = transport.completions[-1] if len(transport.completions) > seen else {}
        return Outcome(
            text,
            latency,
            stop_reason=str(last.get("source") or ""),
            prompt_tokens=int(last.get("promptTokens") or 0),
            generated_tokens=int(last.get("generatedTokens") or 0),
            error=error,
        )


def recorded(outcomes: dict[str, Outcome]) -> Callable[[Task, str], Outcome]:
    """A `Runner` that hands back the outcome a finished pass recorded for each task."""
    return lambda task, _uri: outcomes[task.task_id]
