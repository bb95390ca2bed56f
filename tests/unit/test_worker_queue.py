"""The model worker's queue holds only live jobs: a superseded or cancelled job that has not
started leaves it at once, with the document its closure holds, and its caller is answered."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest

from airgap_lsp.completion.worker import ACTION, INTERACTIVE, Cancelled, ModelWorker


class Document:
    """Stands for the copy of the document a completion job's closure holds."""

    def __init__(self, n: int) -> None:
        self.text = "x = 1\n" * n


@pytest.fixture
def busy_worker():
    """A worker whose thread is held by a long job (a code action) until the gate opens."""
    w = ModelWorker()
    gate = threading.Event()
    started = threading.Event()

    def long_action(_tok):  # type: ignore[no-untyped-def]
        started.set()
        gate.wait(10)
        return "action done"

    action, _ = w.submit(long_action, priority=ACTION, key="action:a.py")
    assert started.wait(5)
    yield w, gate, action
    gate.set()
    w.close()


def _job(doc: Document):  # type: ignore[no-untyped-def]
    return lambda _tok: len(doc.text)


def test_superseded_jobs_leave_the_queue_and_free_their_documents(busy_worker):
    w, gate, action = busy_worker
    refs = []
    futures = []
    for _ in range(50):  # 50 keystrokes during the action, each with its own copy
        doc = Document(1000)
        refs.append(weakref.ref(doc))
        future, _ = w.submit(_job(doc), priority=INTERACTIVE, key="file:///a.py")
        futures.append(future)
        del doc
    gc.collect()
    assert len(w._heap) == 1
    assert sum(r() is not None for r in refs) == 1  # only the newest copy is alive
    for f in futures[:-1]:  # callers hear at once, not after the action
        assert isinstance(f.exception(timeout=0), Cancelled)
    gate.set()
    assert action.result(timeout=5) == "action done"
    assert futures[-1].result(timeout=5) == 6000


def test_cancelled_tokens_and_futures_leave_the_queue(busy_worker):
    w, _gate, _action = busy_worker
    refs = []
    jobs = []
    for i in range(20):
        doc = Document(1000)
        refs.append(weakref.ref(doc))
        jobs.append(w.submit(_job(doc), key=f"file:///{i}.py"))
        del doc
    for _future, token in jobs[:10]:
        token.cancel("client cancelled")  # the request's own token
    for future, _token in jobs[10:]:
        assert future.cancel()  # as asyncio does when the awaiting request is cancelled
    gc.collect()
    assert w._heap == [] and w._by_key.keys() == {"action:a.py"}
    assert all(r() is None for r in refs)
    for future, _ in jobs[:10]:
        assert isinstance(future.exception(timeout=0), Cancelled)


def test_cancel_key_and_cancel_where_on_queued_jobs(busy_worker):
    w, _gate, _action = busy_worker
    a, _ = w.submit(_job(Document(1)), key="file:///a.py")
    b, _ = w.submit(_job(Document(1)), key="prefetch:file:///a.py")
    c, _ = w.submit(_job(Document(1)), key="prefetch:file:///b.py")
    w.cancel_key("file:///a.py")
    w.cancel_where(lambda k: k.startswith("prefetch:"), "user moved on")
    for f in (a, b, c):
        assert isinstance(f.exception(timeout=0), Cancelled)
    assert w._heap == []


async def test_awaiting_caller_is_answered_when_its_queued_job_is_superseded(busy_worker):
    w, _gate, _action = busy_worker
    first, _ = w.submit(_job(Document(1)), key="file:///a.py")
    waiting = asyncio.ensure_future(asyncio.wrap_future(first))
    await asyncio.sleep(0)
    w.submit(_job(Document(1)), key="file:///a.py")
    with pytest.raises(Cancelled):
        await asyncio.wait_for(waiting, 5)


def test_close_answers_every_queued_job():
    w = ModelWorker()
    gate = threading.Event()
    started = threading.Event()
    w.submit(lambda _tok: started.set() or gate.wait(5))
    assert started.wait(5)
    queued = [w.submit(_job(Document(1)))[0] for _ in range(5)]
    w.close(timeout=0.1)
    try:
        for f in queued:
            assert isinstance(f.exception(timeout=0), Cancelled)
    finally:
        gate.set()
