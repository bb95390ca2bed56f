"""The simulated user and editor of the latency suite, independent of how suggestions are fetched.

Owns the keystroke model (a deterministic, jittered typing rate; a newline and the next line's
indentation are one keystroke, as with auto-indent), and the client behaviour of Neovim's native
inline completion: after every change a request is sent once `debounce_ms` passed without a newer
change; a newer keystroke cancels the pending request; a shown suggestion that matches what the
user is about to type is accepted (inserted as one change) at the user's next keystroke. The
first request on a freshly opened document is awaited and recorded apart from those while typing;
it comes right after opening (the cold case) or, realistically, after the user read the file and
rested the cursor at the place (`Typing.realistic`).
A `Transport` (LSP server, or a llama.cpp-style /infill endpoint) does the fetching.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from benchmarks.latency_tasks import Kind, LatencyTask

Phase = Literal["first", "typing"]
WORD_ENDS = " \n\t.,:;()[]{}"


@dataclass(frozen=True)
class Typing:
    """How the simulated user types and how the client debounces."""

    chars_per_second: float = 8.0
    jitter: float = 0.5  # sigma of the log-normal factor on each inter-key interval
    # Typists pause to think between words; only in such pauses can a debounced request be
    # answered before the next keystroke. Median pause in seconds, and its chance per word.
    pause_s: float = 0.8
    pause_prob: float = 0.15
    debounce_ms: float = 200.0  # Neovim's default for inline completion
    max_chars: int | None = None  # stop typing a task after this many characters
    seed: int = 0
    request_timeout_s: float = 120.0  # an unanswered request counts as an error after this
    # The realistic first request: the user reads the file just opened for `read_s` seconds,
    # moves the cursor to the task's place and rests there `rest_s` seconds (both drawn per
    # task, seeded), then enters insert mode and the client asks. Otherwise (the cold case)
    # the client asks right after opening.
    realistic: bool = False
    read_s: tuple[float, float] = (2.0, 5.0)
    rest_s: tuple[float, float] = (0.5, 1.5)

    def intervals(self, task_id: str) -> random.Random:
        # Per task so that adding a configuration or a task does not shift the others.
        return random.Random(f"{self.seed}:{task_id}")

    def interval(self, rng: random.Random, after: str = "") -> float:
        """Seconds until the next keystroke, typed after `after`: a jittered interval whose
        mean is 1 / chars_per_second, plus sometimes a pause when a word just ended."""
        seconds = 1.0 / self.chars_per_second
        if self.jitter > 0:
            seconds *= rng.lognormvariate(-(self.jitter**2) / 2, self.jitter)
        if after and after[-1] in WORD_ENDS and rng.random() < self.pause_prob:
            seconds += self.pause_s * rng.lognormvariate(0, 0.5)
        return seconds


@dataclass
class Outcome:
    """What came back for one request: the suggestion (None when there was none)."""

    text: str | None
    cancelled: bool = False  # the server answered RequestCancelled (or the result was dropped)
    error: str | None = None
    # What the engine did for this answer, as the server reports it (None: not reported):
    # prompt tokens evaluated (not found cached), prompt ms, tokens generated.
    work: Work | None = None


@dataclass(frozen=True)
class Work:
    evaluated: int
    prompt_ms: float
    generated: int


def work_of(row: dict[str, Any], evaluated: Any) -> Work | None:
    """The work in a server's timing row (`airgap/status` lastCompletion or llama-server's
    `timings`), None when it lacks a number."""
    values = (evaluated, row.get("promptMs"), row.get("generatedTokens"))
    if not all(isinstance(v, (int, float)) for v in values):
        return None
    return Work(int(values[0]), float(values[1]), int(values[2]))


class ServerStuck(RuntimeError):
    """The first request on a document got no answer in time: the server stopped serving."""


class Pending(Protocol):
    def cancel(self) -> None: ...

    async def outcome(self) -> Outcome: ...


class Transport(Protocol):
    """One completion server, seen as an editor sees it."""

    name: str
    abandons: bool  # True: cancelling only drops the response (no cancel reaches the server)

    async def open(self, uri: str, text: str) -> None: ...

    async def change(self, uri: str, version: int, offset: int, inserted: str, text: str) -> None:
        """`inserted` was typed at `offset`; `text` is the whole document afterwards."""
        ...

    def request(self, uri: str, text: str, offset: int, kind: Kind) -> Pending: ...

    async def rest(self, uri: str, version: int, text: str, offset: int) -> None:
        """The cursor came to rest at `offset` (in normal mode): what the client tells then."""
        ...

    async def close(self, uri: str) -> None: ...


@dataclass
class RequestRecord:
    phase: Phase
    latency_ms: float  # send -> response (for a cancelled request: -> its cancellation answer)
    cancel_sent: bool  # a newer keystroke (or the end of the task) cancelled it
    server_cancelled: bool
    shown: bool  # a non-empty suggestion reached the user
    accepted_chars: int = 0
    error: str | None = None
    work: Work | None = None


@dataclass
class TaskRun:
    task_id: str
    kind: Kind
    first_suggestion: str | None = None
    requests: list[RequestRecord] = field(default_factory=list)
    keystrokes: int = 0
    typed_chars: int = 0  # characters of `expected` the user typed
    accepted_chars: int = 0  # characters of `expected` inserted by accepting suggestions
    seconds: float = 0.0


def keystrokes(text: str) -> list[str]:
    """The text as keystrokes: a newline plus the following indentation is one keystroke, and
    so is the indentation at the very start (the editor's auto-indent)."""
    units: list[str] = []
    i = 0
    while i < len(text):
        j = i + 1
        if text[i] == "\n" or (i == 0 and text[i] in " \t"):
            while j < len(text) and text[j] in " \t":
                j += 1
        units.append(text[i:j])
        i = j
    return units


def match_length(suggestion: str, remaining: str, kind: Kind) -> int:
    """How many characters of `remaining` accepting `suggestion` inserts, or 0 if the user
    would not accept it: it must be a prefix of what they are about to type or, for a
    single-line task, the whole rest of the line (trailing whitespace aside)."""
    if not suggestion.strip():
        return 0
    if remaining.startswith(suggestion):
        return len(suggestion)
    line = remaining.split("\n", 1)[0]
    if kind == "line" and suggestion.rstrip() == line.rstrip() and line.strip():
        return len(line)
    return 0


class _Editor:
    """Document state and the request/cancel bookkeeping of one task."""

    def __init__(self, transport: Transport, task: LatencyTask, uri: str, typing: Typing) -> None:
        self.transport = transport
        self.task = task
        self.uri = uri
        self.typing = typing
        self.done = 0  # characters of `expected` in the document
        self.version = 1
        self.generation = 0  # bumped by every change; older responses are stale
        self.shown: str | None = None
        self.shown_record: RequestRecord | None = None
        self.timer: asyncio.Task[None] | None = None
        self.inflight: Pending | None = None
        self.inflight_record: RequestRecord | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.run = TaskRun(task.task_id, task.kind)

    @property
    def offset(self) -> int:
        return len(self.task.prefix) + self.done

    @property
    def text(self) -> str:
        return self.task.prefix + self.task.expected[: self.done] + self.task.suffix

    async def ask(self, phase: Phase) -> RequestRecord:
        generation = self.generation
        pending = self.transport.request(self.uri, self.text, self.offset, self.task.kind)
        record = RequestRecord(phase, 0.0, False, False, False)
        self.inflight, self.inflight_record = pending, record
        t0 = time.perf_counter()
        try:
            outcome = await asyncio.wait_for(pending.outcome(), self.typing.request_timeout_s)
        except TimeoutError:
            pending.cancel()
            outcome = Outcome(None, error="timeout")
        record.latency_ms = (time.perf_counter() - t0) * 1000
        if self.inflight is pending:
            self.inflight = self.inflight_record = None
        record.server_cancelled = outcome.cancelled
        record.error = outcome.error
        record.work = outcome.work
        fresh = generation == self.generation and not record.cancel_sent
        if fresh and outcome.text and not outcome.cancelled:
            record.shown = True
            self.shown, self.shown_record = outcome.text, record
        self.run.requests.append(record)
        return record

    def cancel_pending(self) -> None:
        if self.timer is not None:
            self.timer.cancel()  # debounce not elapsed: no request was sent
            self.timer = None
        if self.inflight is not None and self.inflight_record is not None:
            self.inflight_record.cancel_sent = True
            self.inflight.cancel()
            self.inflight = self.inflight_record = None

    async def _debounced(self) -> None:
        await asyncio.sleep(self.typing.debounce_ms / 1000)
        self.timer = None
        await self.ask("typing")

    async def insert(self, chars: str) -> None:
        """Type or accept `chars` (the next characters of `expected`) at the cursor."""
        self.cancel_pending()
        self.shown = self.shown_record = None
        self.generation += 1
        offset = self.offset
        self.done += len(chars)
        self.version += 1
        await self.transport.change(self.uri, self.version, offset, chars, self.text)
        self.timer = asyncio.create_task(self._debounced())
        self.tasks.add(self.timer)
        self.timer.add_done_callback(self.tasks.discard)

    def accept_shown(self) -> int:
        if self.shown is None:
            return 0
        return match_length(self.shown, self.task.expected[self.done :], self.task.kind)

    async def finish(self, timeout: float) -> None:
        """The user is done: no new request, but one already sent is answered (the user sees
        it as they finish typing); collect the outstanding answers."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.tasks:
            _, still = await asyncio.wait(set(self.tasks), timeout=timeout)
            for task in still:
                task.cancel()
            for task in still:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def run_task(
    transport: Transport, task: LatencyTask, uri: str, typing: Typing, drain_s: float = 30.0
) -> TaskRun:
    """Open the task's document, take the first suggestion, then type the expected text."""
    editor = _Editor(transport, task, uri, typing)
    run = editor.run
    t_start = time.perf_counter()
    await transport.open(uri, editor.text)
    if typing.realistic:
        pace = random.Random(f"{typing.seed}:{task.task_id}:reading")
        await asyncio.sleep(pace.uniform(*typing.read_s))
        await transport.rest(uri, editor.version, editor.text, editor.offset)
        await asyncio.sleep(pace.uniform(*typing.rest_s))
    first = await editor.ask("first")
    if first.error == "timeout":
        raise ServerStuck(f"{task.task_id}: no answer to the first request in time")
    run.first_suggestion = editor.shown if first.shown else None
    rng = typing.intervals(task.task_id)
    units = keystrokes(task.expected)
    budget = typing.max_chars if typing.max_chars is not None else math.inf
    unit_index, unit_pos = 0, 0  # next keystroke and where it starts in `expected`
    while editor.done < len(task.expected) and editor.done < budget:
        just_typed = task.expected[max(0, editor.done - 1) : editor.done]
        await asyncio.sleep(typing.interval(rng, just_typed))
        accept = editor.accept_shown()
        if accept:
            if editor.shown_record is not None:
                editor.shown_record.accepted_chars = accept
            run.accepted_chars += accept
            await editor.insert(task.expected[editor.done : editor.done + accept])
        else:
            while unit_pos + len(units[unit_index]) <= editor.done:
                unit_pos += len(units[unit_index])
                unit_index += 1
            # After an accepted suggestion the next keystroke may start inside a unit.
            chars = units[unit_index][editor.done - unit_pos :]
            run.typed_chars += len(chars)
            await editor.insert(chars)
        run.keystrokes += 1
    await editor.finish(drain_s)
    await transport.close(uri)
    run.seconds = time.perf_counter() - t_start
    return run
