"""The single thread that owns the model.

Owns scheduling of model work: a llama.cpp context is not thread-safe, so every job runs on
one dedicated thread, never on the caller's event loop. Jobs carry a priority (interactive
completions before prefetches and code actions) and a key; a newer job with the same key
supersedes the older one, which is cancelled whether queued or running. Cancellation is a flag
the decode loop polls between steps and inside llama.cpp's computation; a queued job that is
cancelled (its token or its future) leaves the queue at once and its future ends with
`Cancelled`, so the queue never holds more than the live jobs (each holds a document copy).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import heapq
import itertools
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

INTERACTIVE = 0
ACTION = 1
PREFETCH = 2


class CancelToken:
    """Set once; read by the running job between decode steps."""

    __slots__ = ("_event", "_listeners", "reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()
            listeners, self._listeners = self._listeners, []
            for listener in listeners:
                listener()

    def on_cancel(self, listener: Callable[[], None]) -> None:
        """Call `listener` once when the token is cancelled (at once if it already is)."""
        if self._event.is_set():
            listener()
        else:
            self._listeners.append(listener)

    def __call__(self) -> bool:
        return self._event.is_set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class Cancelled(Exception):
    """The job was cancelled before it ran."""


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    fn: Callable[[CancelToken], Any] = field(compare=False)
    token: CancelToken = field(compare=False)
    future: concurrent.futures.Future[Any] = field(compare=False)
    key: str | None = field(compare=False, default=None)


class ModelWorker:
    """Runs jobs one at a time on its own thread, highest priority first."""

    def __init__(self, name: str = "airgap-model") -> None:
        self._heap: list[_Job] = []
        self._cv = threading.Condition()
        self._counter = itertools.count()
        self._running: _Job | None = None
        self._by_key: dict[str, _Job] = {}
        self._closed = False
        self.jobs_run = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(
        self,
        fn: Callable[[CancelToken], Any],
        priority: int = INTERACTIVE,
        key: str | None = None,
        token: CancelToken | None = None,
    ) -> tuple[concurrent.futures.Future[Any], CancelToken]:
        """Queue `fn(token)`; a queued or running job with the same key is cancelled."""
        token = token or CancelToken()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        job = _Job(priority, next(self._counter), fn, token, future, key)
        with self._cv:
            if self._closed:
                future.set_exception(Cancelled("worker closed"))
                return future, token
            if key is not None:
                old = self._by_key.get(key)
                if old is not None:
                    old.token.cancel("superseded")
                self._by_key[key] = job
            heapq.heappush(self._heap, job)
            self._cv.notify()
        # Weak references: a token or future kept by a caller must not keep the job (and the
        # document its closure holds) alive after it ran.
        ref = weakref.ref(job)
        token.on_cancel(lambda: self._discard(ref()))
        future.add_done_callback(lambda f: self._discard(ref()) if f.cancelled() else None)
        return future, token

    def _discard(self, job: _Job | None) -> None:
        """A cancelled job that has not started leaves the queue now (with its closure and the
        document it holds) and its caller gets `Cancelled` now, not when the job would run."""
        if job is None:
            return
        with self._cv:
            try:
                self._heap.remove(job)
            except ValueError:
                return  # running or finished: the job itself sees its token
            heapq.heapify(self._heap)
            if job.key is not None and self._by_key.get(job.key) is job:
                del self._by_key[job.key]
        # The caller may have cancelled the future meanwhile.
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            job.future.set_exception(Cancelled(job.token.reason or "cancelled"))

    def cancel_key(self, key: str, reason: str = "cancelled") -> None:
        with self._cv:
            job = self._by_key.get(key)
            if job is not None:
                job.token.cancel(reason)

    def cancel_where(self, predicate: Callable[[str], bool], reason: str) -> None:
        with self._cv:
            for key, job in list(self._by_key.items()):
                if predicate(key):
                    job.token.cancel(reason)

    @property
    def busy(self) -> bool:
        with self._cv:
            return self._running is not None or bool(self._heap)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._closed:
                    self._cv.wait()
                if self._closed and not self._heap:
                    return
                job = heapq.heappop(self._heap)
                self._running = job
            try:
                # The caller may have cancelled the future itself (asyncio cancels the
                # concurrent future it wraps): such a job is skipped, never resolved twice.
                if job.token.cancelled or not job.future.set_running_or_notify_cancel():
                    if not job.future.done():
                        job.future.set_exception(Cancelled(job.token.reason))
                else:
                    try:
                        job.future.set_result(job.fn(job.token))
                    except BaseException as exc:
                        if not isinstance(exc, Cancelled):
                            log.exception("model job failed")
                        job.future.set_exception(exc)
            except Exception:  # the worker thread must outlive any one job
                log.exception("model worker: job bookkeeping failed")
            finally:
                self.jobs_run += 1
                with self._cv:
                    self._running = None
                    if job.key is not None and self._by_key.get(job.key) is job:
                        del self._by_key[job.key]
            del job  # an idle worker holds no finished job (nor its document copy)

    def close(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._closed = True
            for job in list(self._heap):
                job.token.cancel("shutdown")
            if self._running is not None:
                self._running.token.cancel("shutdown")
            self._cv.notify_all()
        self._thread.join(timeout)
