"""The interactive layer: typed-ahead reuse, prefetch, supersession, on a counting backend."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from airgap_lsp.completion.completer import CompletionRequest, Suggestion
from airgap_lsp.completion.session import CompletionSession
from airgap_lsp.completion.worker import ModelWorker

TEXT = "def area(r):\n    return \n"
CURSOR = TEXT.index("return ") + len("return ")


class CountingBackend:
    """Answers after `delay` seconds, polling cancellation like the decode loop does."""

    description = "counting"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[CompletionRequest] = []
        self.warms: list[CompletionRequest] = []
        self.stopped_early = 0
        self.lock = threading.Lock()

    def forget(self, key: str) -> None:
        pass

    def warm(self, request: CompletionRequest, cancelled) -> int:  # type: ignore[no-untyped-def]
        """Evaluates a token per 2 ms for `delay` seconds, one token per step."""
        with self.lock:
            self.warms.append(request)
        tokens = 0
        end = time.monotonic() + self.delay
        while time.monotonic() < end:
            if cancelled():
                return tokens
            time.sleep(0.002)
            tokens += 1
        return tokens

    def complete(self, request: CompletionRequest, cancelled) -> Suggestion | None:  # type: ignore[no-untyped-def]
        with self.lock:
            self.calls.append(request)
        end = time.monotonic() + self.delay
        while time.monotonic() < end:
            if cancelled():
                self.stopped_early += 1
                return None
            time.sleep(0.002)
        text = "3.14 * r * r" if request.offset == CURSOR else "  # next"
        return Suggestion(text, False, "eog", generated_tokens=5)


def request(text: str = TEXT, offset: int = CURSOR) -> CompletionRequest:
    return CompletionRequest(key="a.py", text=text, offset=offset)


@pytest.fixture
def worker():
    w = ModelWorker()
    yield w
    w.close()


async def test_typed_ahead_is_served_without_a_model_call(worker):
    backend = CountingBackend()
    session = CompletionSession(worker, prefetch=False)
    first = await session.suggest(backend, request())
    assert first is not None and first.text == "3.14 * r * r" and first.source == "model"
    typed = TEXT[:CURSOR] + "3.1" + TEXT[CURSOR:]
    second = await session.suggest(backend, request(typed, CURSOR + 3))
    assert second is not None and second.text == "4 * r * r" and second.source == "typed-ahead"
    assert len(backend.calls) == 1
    assert session.stats["typedAheadHits"] == 1 and session.stats["modelRuns"] == 1


async def test_prefetch_serves_the_position_after_accepting(worker):
    backend = CountingBackend()
    session = CompletionSession(worker)
    first = await session.suggest(backend, request())
    assert first is not None
    accepted = TEXT[:CURSOR] + first.text + TEXT[CURSOR:]
    offset = CURSOR + len(first.text)
    nxt = await session.suggest(backend, request(accepted, offset))
    assert nxt is not None and nxt.text == "  # next" and nxt.source == "prefetch"
    # Two model calls in all: the first suggestion and the prefetch; none for the request.
    assert len(backend.calls) == 2 and backend.calls[1].offset == offset
    assert session.stats["prefetchHits"] == 1


async def test_prefetch_is_dropped_when_the_cursor_moves_away(worker):
    backend = CountingBackend(delay=0.5)
    session = CompletionSession(worker)
    assert await session.suggest(backend, request()) is not None  # starts a slow prefetch
    await asyncio.sleep(0.05)
    elsewhere = await session.suggest(backend, request(TEXT, 3))
    assert elsewhere is not None
    assert session.stats["prefetchDropped"] == 1
    assert backend.stopped_early >= 1  # the prefetch's decode stopped


async def test_superseded_request_is_cancelled_and_stops(worker):
    backend = CountingBackend(delay=0.5)
    session = CompletionSession(worker, prefetch=False)
    older = asyncio.ensure_future(session.suggest(backend, request()))
    await asyncio.sleep(0.05)
    newer = await session.suggest(backend, request(TEXT, 5))
    assert newer is not None
    assert await older is None
    assert session.stats["superseded"] == 1
    assert backend.stopped_early == 1


async def test_client_cancel_reaches_the_running_job(worker):
    backend = CountingBackend(delay=1.0)
    session = CompletionSession(worker, prefetch=False)
    task = asyncio.ensure_future(session.suggest(backend, request()))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if backend.stopped_early:
            break
        await asyncio.sleep(0.01)
    assert backend.stopped_early == 1 and session.stats["cancelled"] == 1


def test_worker_survives_a_future_cancelled_before_its_job_runs():
    w = ModelWorker()
    try:
        gate = threading.Event()
        w.submit(lambda tok: gate.wait(2))
        doomed, token = w.submit(lambda tok: "never")
        assert doomed.cancel()  # as asyncio does when the request awaiting it is cancelled
        token.cancel("client cancelled")
        gate.set()
        after, _ = w.submit(lambda tok: "still serving")
        assert after.result(timeout=5) == "still serving"
    finally:
        w.close()


async def test_a_resting_cursor_prewarms_the_suggestion_for_its_place(worker):
    backend = CountingBackend(delay=0.2)
    session = CompletionSession(worker, prefetch=False)
    assert session.prewarm(backend, request())
    assert not session.prewarm(backend, request())  # already on its way: not twice
    # The editor asks there while the run is on its way: it waits for it, no second run.
    served = await session.suggest(backend, request())
    assert served is not None and served.text == "3.14 * r * r" and served.source == "prefetch"
    assert len(backend.calls) == 1
    assert not session.prewarm(backend, request())  # kept: nothing to do
    assert session.stats["prewarmStarted"] == 1


async def test_warming_on_open_stops_for_any_request_and_skips_asked_documents(worker):
    backend = CountingBackend(delay=5.0)
    session = CompletionSession(worker, prefetch=False)
    other = CompletionRequest(key="b.py", text=TEXT, offset=0)
    assert session.warm(backend, other)
    assert not session.warm(backend, other)  # already warming
    await asyncio.sleep(0.1)  # it runs
    # A request in another document pre-empts it: served at once (the warm would take 5 s).
    backend.delay = 0.0
    served = await asyncio.wait_for(session.suggest(backend, request()), 2.0)
    assert served is not None and served.source == "model"
    await asyncio.sleep(0.05)
    assert session.stats["warmStopped"] == 1
    assert session.stats["warmTokens"] > 0  # what it evaluated is counted (and kept)
    # The document just asked in holds its typing context: no warm replaces it.
    assert not session.warm(backend, request())
    assert len(backend.warms) == 1
    # Closed and opened again, it is warmed again.
    session.forget("a.py")
    backend.delay = 5.0
    assert session.warm(backend, request())
    await asyncio.sleep(0.05)
    assert len(backend.warms) == 2
    session.forget("a.py")  # closing stops it
    await asyncio.sleep(0.05)
    assert session.stats["warmStopped"] == 2


async def test_prewarming_elsewhere_replaces_the_older_prewarm(worker):
    backend = CountingBackend(delay=0.3)
    session = CompletionSession(worker, prefetch=False)
    assert session.prewarm(backend, request(offset=CURSOR))
    assert session.prewarm(backend, request(offset=0))  # the cursor moved on
    await asyncio.sleep(0.6)
    hit = await session.suggest(backend, request(offset=0))
    assert hit is not None and hit.source == "prefetch"
    # The first place's run was dropped (before or while it ran): asked there, the model runs.
    again = await session.suggest(backend, request(offset=CURSOR))
    assert again is not None and again.source == "model"
