"""The interactive layer between editor requests and the model worker.

Owns what makes completions feel instant: suggestions served from memory when the user types
into the one shown (typed-ahead) or when a background prefetch already computed the next one;
prefetching the continuation after a served suggestion at low priority, dropped when the user
goes elsewhere; pre-warming where the cursor rests (the same low-priority run, at that place)
and, on open and save, of the prompt's part shared by every place in the document;
supersession of an older request for the same document; and the counters that the latency
suite reads. Runs on the server's event loop; the model only runs on the worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from airgap_lsp.completion.completer import Backend, CompletionRequest, Suggestion, line_around
from airgap_lsp.completion.suggestions import Hit, SuggestionCache
from airgap_lsp.completion.worker import INTERACTIVE, PREFETCH, Cancelled, CancelToken, ModelWorker

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Prefetch:
    prefix: str
    line_suffix: str
    future: asyncio.Future[Suggestion | None]
    token: CancelToken


class CompletionSession:
    def __init__(self, worker: ModelWorker, prefetch: bool = True) -> None:
        self.worker = worker
        self.cache = SuggestionCache()
        self.prefetch_enabled = prefetch
        self._prefetches: dict[str, _Prefetch] = {}
        self._warms: dict[str, CancelToken] = {}  # documents whose prompt head is warming
        self._asked: set[str] = set()  # documents the model ran for since they opened
        self.stats: Counter[str] = Counter()

    async def suggest(self, backend: Backend, request: CompletionRequest) -> Suggestion | None:
        """A suggestion for the request, from memory when possible, else from the model."""
        self.stats["requests"] += 1
        t0 = time.monotonic()
        prefix = request.text[: request.offset]
        _, line_suffix = line_around(request.text, request.offset)
        hit = self.cache.get(request.key, prefix, line_suffix)
        if hit is None:
            hit = await self._await_matching_prefetch(request.key, prefix, line_suffix)
        if hit is not None:
            self.stats["typedAheadHits" if hit.source == "model" else "prefetchHits"] += 1
            self.stats["served"] += 1
            source = "typed-ahead" if hit.source == "model" else "prefetch"
            _log_request(request, source, t0)
            return Suggestion(hit.text, "\n" in hit.text, "cache", source=source)
        self._drop_prefetch(request.key)
        self._stop_warms()
        self._asked.add(request.key)
        token = CancelToken()
        started: list[float] = []

        def job(tok: CancelToken) -> Suggestion | None:
            started.append(time.monotonic())
            return backend.complete(request, tok)

        future, _ = self.worker.submit(
            job,
            priority=INTERACTIVE,
            key=request.key,
            token=token,
        )
        self.stats["modelRuns"] += 1
        try:
            suggestion: Suggestion | None = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            token.cancel("client cancelled")
            self.stats["cancelled"] += 1
            _log_request(request, "cancelled", t0, started)
            raise
        except Cancelled:
            self.stats["superseded" if token.reason == "superseded" else "cancelled"] += 1
            _log_request(request, token.reason, t0, started)
            return None
        if token.cancelled:
            self.stats["superseded" if token.reason == "superseded" else "cancelled"] += 1
            _log_request(request, token.reason, t0, started)
            return None
        _log_request(request, "model" if suggestion else "empty", t0, started)
        if suggestion is None:
            self.stats["empty"] += 1
            return None
        self.stats["served"] += 1
        self.stats["generatedTokens"] += suggestion.generated_tokens
        self.stats["predictMs"] += round(suggestion.predict_ms)
        self.stats["drafted"] += suggestion.drafted
        self.stats["accepted"] += suggestion.accepted
        self.cache.put(request.key, prefix, line_suffix, suggestion.text, "model")
        if self.prefetch_enabled:
            self._start_prefetch(backend, request, suggestion)
        return suggestion

    def _start_prefetch(
        self, backend: Backend, request: CompletionRequest, suggestion: Suggestion
    ) -> None:
        """Compute, at low priority, the suggestion for the position after accepting this one."""
        text = request.text[: request.offset] + suggestion.text + request.text[request.offset :]
        offset = request.offset + len(suggestion.text)
        ahead = dataclasses.replace(request, text=text, offset=offset, multiline=None)
        self._prefetch(backend, ahead)

    def prewarm(self, backend: Backend, request: CompletionRequest) -> bool:
        """The cursor rests here (a hint from our clients): compute the suggestion for this
        place at low priority, so that a request here is answered from memory, or waits for
        this run instead of starting over. Nothing when one is already kept or on its way.
        Returns whether a run was started."""
        prefix = request.text[: request.offset]
        _, line_suffix = line_around(request.text, request.offset)
        if self._prefetch_at(request.key, prefix, line_suffix) is not None:
            return False
        if self.cache.get(request.key, prefix, line_suffix) is not None:
            return False
        self._drop_prefetch(request.key)
        self._stop_warms()
        self._prefetch(backend, request)
        self.stats["prewarmStarted"] += 1
        return True

    def warm(self, backend: Backend, request: CompletionRequest) -> bool:
        """The document was opened or saved: evaluate, at low priority, the part of its prompt
        that any place in it shares, so that the first request evaluates only its own tail.
        Not for a document the model already ran for (its sequence holds the typing context,
        which a fresh layout would replace); any request or resting-cursor hint stops it,
        and what it evaluated stays cached. Returns whether a run was started."""
        key = request.key
        if key in self._asked or key in self._warms:
            return False
        future, token = self._idle(lambda tok: backend.warm(request, tok), f"warm:{key}")
        self._warms[key] = token
        self.stats["warmStarted"] += 1

        def done(f: asyncio.Future[int]) -> None:  # on the event loop, as every counter
            if self._warms.get(key) is token:
                del self._warms[key]
            if not f.cancelled() and f.exception() is None:
                self.stats["warmTokens"] += f.result()
            if token.cancelled:
                self.stats["warmStopped"] += 1

        future.add_done_callback(done)
        return True

    def _idle(
        self, fn: Callable[[CancelToken], T], key: str
    ) -> tuple[asyncio.Future[T], CancelToken]:
        """Queue `fn` at low priority, superseding the queued or running job of `key`; its
        result as a future of the event loop."""
        token = CancelToken()
        future, _ = self.worker.submit(fn, priority=PREFETCH, key=key, token=token)
        return asyncio.wrap_future(future), token

    def _stop_warms(self) -> None:
        """Real work comes first: every warming run stops within one decode step."""
        for token in list(self._warms.values()):
            token.cancel("pre-empted")

    def _prefetch(self, backend: Backend, request: CompletionRequest) -> None:
        """Run `request` at low priority; its suggestion is kept for the place it was made for."""
        text, offset = request.text, request.offset
        prefix = text[:offset]
        _, line_suffix = line_around(text, offset)
        wrapped, token = self._idle(
            lambda tok: backend.complete(request, tok), f"prefetch:{request.key}"
        )
        self._prefetches[request.key] = _Prefetch(prefix, line_suffix, wrapped, token)
        self._asked.add(request.key)
        self.stats["prefetchStarted"] += 1

        def store(done: asyncio.Future[Suggestion | None], key: str = request.key) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            result = done.result()
            if result is not None and not token.cancelled:
                self.cache.put(key, prefix, line_suffix, result.text, "prefetch")

        wrapped.add_done_callback(store)

    async def _await_matching_prefetch(self, key: str, prefix: str, line_suffix: str) -> Hit | None:
        """If the prefetch in flight is for exactly this position, wait for it instead of
        starting over (the user accepted the suggestion it continues)."""
        pending = self._prefetch_at(key, prefix, line_suffix)
        if pending is None:
            return None
        try:
            await asyncio.shield(pending.future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the client cancelled this request, not the prefetch
            return None
        except Exception:  # the prefetch was cancelled or failed: compute afresh
            return None
        return self.cache.get(key, prefix, line_suffix)

    def _prefetch_at(self, key: str, prefix: str, line_suffix: str) -> _Prefetch | None:
        """The prefetch in flight for the document, if it is for exactly this position."""
        pending = self._prefetches.get(key)
        if pending is None or (pending.prefix, pending.line_suffix) != (prefix, line_suffix):
            return None
        return pending

    def _drop_prefetch(self, key: str) -> None:
        pending = self._prefetches.pop(key, None)
        if pending is not None and not pending.future.done():
            pending.token.cancel("user moved on")
            self.stats["prefetchDropped"] += 1

    def forget(self, key: str) -> None:
        """A document closed: its suggestions, prefetch and warming go."""
        self._drop_prefetch(key)
        warming = self._warms.pop(key, None)
        if warming is not None:
            warming.cancel("closed")
        self._asked.discard(key)
        self.cache.forget(key)


def _log_request(
    request: CompletionRequest, outcome: str, t0: float, started: list[float] | None = None
) -> None:
    """One line per request: how it ended and, for a model run, how long it queued."""
    now = time.monotonic()
    waited = f", waited {(started[0] - t0) * 1000:.0f} ms" if started else ""
    log.info("request at %d: %s in %.0f ms%s", request.offset, outcome, (now - t0) * 1000, waited)
