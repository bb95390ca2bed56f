"""The engine in a supervised child process: a native crash (a GGML_ASSERT, a segfault, the
kernel's OOM killer) ends that process, never the language server.

Owns `SupervisedEngine`, the server's side of the boundary, with `Engine`'s interface
(`generate`, `tokens_to_evaluate`, `cached_lengths`, `forget`, `calibrate`, `reset`,
`draft_alone`, `close`), so the completer and the code actions run on it unchanged, as they run
on a remote engine. What crosses the boundary (pickled over a socket pair; `engine_child` is
the other side): prompt tokens, decode options and the stop rule in; the result with its
timings out, and the decoded text after every token when the stop rule cannot travel (a code
action's, which also streams the reply to the editor) and so runs here; cancel (seen by the
decode loop within one step); forget; stats; the cached sequences' lengths. The server keeps
documents, context and the suggestion caches.

When the child dies, every call waiting on it is answered at once (an empty result), the user
is told once (`health`), and the child is started again with backoff while requests get empty
results; a child that dies while loading three times in a row is not started again, and the
message says so. AIRGAP_LSP_ENGINE_PROCESS=0 keeps the engine in the server's process.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from airgap_lsp.completion.engine import (
    DecodeOptions,
    DecodeResult,
    DecodeStats,
    IsCancelled,
    StopRule,
)
from airgap_lsp.completion.health import Health
from airgap_lsp.completion.local_engine import BackendError, EngineRecipe, Report
from airgap_lsp.completion.runtime import AbortCheck, Model, RuntimeError_

log = logging.getLogger(__name__)

ENV = "AIRGAP_LSP_ENGINE_PROCESS"
LOAD_DEATHS = 3  # deaths in a row while loading before the child is not started again
RESTART_DELAY_S = 0.5  # doubled after each death at load
POLL_S = 0.005  # how often a waiting call looks at its cancel token
CANCEL_WAIT_S = 15.0  # a child that has not stopped this long after a cancel is killed
QUICK_CALL_S = 2.0  # answers the child's reader thread gives without waiting for decoding


def in_child_process() -> bool:
    """Whether local models run in a supervised child process (the default)."""
    return os.environ.get(ENV, "1").strip() != "0"


def _never() -> bool:
    return False


def _travels(stop: StopRule) -> bool:
    try:
        pickle.dumps(stop)
    except Exception:
        return False
    return True


def describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class _DiedAtLoad(Exception):
    pass


@dataclass
class _Call:
    id: int
    event: threading.Event = field(default_factory=threading.Event)
    reply: tuple[Any, ...] | None = None
    texts: list[str] = field(default_factory=list)  # streamed after each token


class _Child:
    """One incarnation of the child process and the thread that reads its messages."""

    def __init__(self, on_death: Callable[[_Child], None], say: Report | None) -> None:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airgap_lsp.completion.engine_child", str(theirs.fileno())],
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),  # never the server's stdout: that is the protocol
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.pid = self.proc.pid
        self.say = say
        self._on_death = on_death
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self.pending: dict[int, _Call] = {}
        self.alive = True
        self.exit = ""
        self._reader = threading.Thread(target=self._read, name="airgap-engine-reader", daemon=True)
        self._reader.start()

    def send(self, message: tuple[Any, ...]) -> bool:
        try:
            with self._send_lock:
                self.conn.send(message)
        except (OSError, ValueError, EOFError):
            return False
        return True

    def call(self, call_id: int, message: tuple[Any, ...]) -> _Call | None:
        """Send a message that will be answered; None when the child is gone."""
        call = _Call(call_id)
        with self._lock:
            if not self.alive:
                return None
            self.pending[call_id] = call
        if not self.send(message):
            with self._lock:
                self.pending.pop(call_id, None)
            return None
        return call

    def drop(self, call: _Call) -> None:
        with self._lock:
            self.pending.pop(call.id, None)

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                break
            kind = message[0]
            if kind == "progress":
                if self.say is not None:
                    self.say(message[1], message[2])
                continue
            with self._lock:
                call = self.pending.get(message[1])
                if call is not None and kind == "done":
                    del self.pending[message[1]]
            if call is None:
                continue  # answered after it was given up on
            if kind == "text":
                call.texts.append(message[2])
                call.event.set()
            elif kind == "done":
                call.reply = message[2]
                call.event.set()
        self._died()

    def _died(self) -> None:
        try:
            code = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.exit = describe_exit(code)
        with self._lock:
            self.alive = False
            calls = list(self.pending.values())
            self.pending.clear()
        self.conn.close()
        self._on_death(self)  # first: the user is told before any caller hears of it
        for call in calls:
            call.reply = ("died", self.exit)
            call.event.set()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


class SupervisedEngine:
    """`Engine`'s interface over the engine in a child process (see the module docstring)."""

    draft_warning = ""

    def __init__(self, recipe: EngineRecipe, vocab: Model) -> None:
        self.recipe = recipe
        self.target = vocab
        self.draft: Model | None = None
        self.warnings: list[str] = []
        self.prompt_ms_per_token: float | None = None
        self.calibration: dict[str, object] = {}
        self.health = Health("the model process")
        self.restarts = 0  # after a death
        self.deaths = 0
        self.gave_up = ""  # why the child is not started again
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._child: _Child | None = None  # the loaded child serving calls
        self._closing = False
        self.evaluated_at_load = 0  # prompt tokens the child evaluated while loading

    # -- life ---------------------------------------------------------------------------------

    @classmethod
    def start(cls, recipe: EngineRecipe, vocab: Model, say: Report) -> SupervisedEngine:
        """Start the child and load the models in it; BackendError for the user."""
        engine = cls(recipe, vocab)
        engine._launch_with_retries(say)
        return engine

    @property
    def pid(self) -> int | None:
        child = self._child
        return None if child is None else child.pid

    def _launch_with_retries(self, say: Report | None) -> None:
        delay = RESTART_DELAY_S
        for attempt in range(1, LOAD_DEATHS + 1):
            try:
                self._launch(say)
                return
            except _DiedAtLoad as exc:
                why = str(exc)
                log.warning("the model process died while loading (%s), attempt %d", why, attempt)
                if attempt == LOAD_DEATHS or self._closing:
                    raise BackendError(
                        f"the model process died while loading the models {attempt} times in "
                        f"a row ({why}); it is not started again. The model file may be "
                        "damaged or need more memory than this machine has; reload the "
                        "models after changing the settings"
                    ) from None
                time.sleep(delay)
                delay *= 2

    def _launch(self, say: Report | None) -> None:
        child = _Child(self._child_died, say)
        call_id = next(self._ids)
        call = child.call(call_id, ("load", call_id, self.recipe))
        if call is not None:
            call.event.wait()
        reply = call.reply if call is not None else None
        child.say = None
        if reply is None or reply[0] == "died":
            child.kill()
            raise _DiedAtLoad(reply[1] if reply else child.exit or "it did not start")
        if reply[0] == "error":
            child.send(("close", 0))
            raise BackendError(f"the model process could not load the models: {reply[1]}")
        if reply[0] == "load_failed":
            child.send(("close", 0))
            kind, message = reply[1], reply[2]
            if kind == "MemoryError":
                raise MemoryError(message)
            if kind == "BackendError":
                raise BackendError(message)
            raise BackendError(f"the model process could not load the models: {kind}: {message}")
        info: dict[str, Any] = reply[1]
        if info["draft"] and self.draft is None and self.recipe.draft is not None:
            try:
                self.draft = Model(self.recipe.draft, vocab_only=True)
            except RuntimeError_ as exc:
                raise BackendError(str(exc)) from exc
        if not info["draft"]:
            self.draft = None
        self.draft_warning = info["draft_warning"]
        self.warnings = info["warnings"]
        self.prompt_ms_per_token = info["prompt_ms_per_token"]
        self.calibration = info["calibration"]
        self.evaluated_at_load = info["evaluated_tokens"]
        with self._lock:
            self._child = child
        log.info("the model process %d is ready", child.pid)

    def _child_died(self, child: _Child) -> None:
        with self._lock:
            if self._child is not child:
                return  # died while loading: the launch tells
            self._child = None
            if self._closing:
                return
            self.deaths += 1
        self.health.failed(f"the model process stopped ({child.exit}); starting it again")
        threading.Thread(target=self._restart, name="airgap-engine-restart", daemon=True).start()

    def _restart(self) -> None:
        try:
            time.sleep(RESTART_DELAY_S)
            self._launch_with_retries(None)
        except (BackendError, MemoryError) as exc:
            self.gave_up = str(exc) or "out of memory"
            self.health.stopped(self.gave_up)
            return
        self.restarts += 1
        self.health.succeeded()

    def close(self) -> None:
        """Stop the child (the server is going away or loads other models)."""
        self._closing = True
        child, self._child = self._child, None
        if child is None:
            return
        child.send(("close", 0))

        def reap() -> None:  # without blocking the caller (the server's event loop)
            try:
                child.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                child.kill()

        threading.Thread(target=reap, name="airgap-engine-close", daemon=True).start()

    # -- Engine's interface -------------------------------------------------------------------

    def generate(
        self,
        key: str,
        prompt: Sequence[int],
        options: DecodeOptions,
        stop: StopRule | None = None,
        cancelled: IsCancelled | None = None,
        *,
        alone: bool = False,
    ) -> DecodeResult:
        stats = DecodeStats(prompt_tokens=len(prompt))
        is_cancelled = cancelled or _never
        child = self._child
        if child is None:  # dead and being started again, or given up: the user was told
            return DecodeResult([], "", "engine_down", stats)
        here: StopRule | None = None  # a stop rule that cannot travel runs here on the text
        if stop is not None and not _travels(stop):
            here, stop = stop, None
        request = ("generate", 0, key, list(prompt), options, stop, here is not None, alone)
        call_id = next(self._ids)
        call = child.call(call_id, (request[0], call_id, *request[2:]))
        if call is None:
            return DecodeResult([], "", "engine_died", stats)
        seen = 0
        cut: tuple[int, str] | None = None  # (tokens, text) where the stop rule here ended it
        cancel_at: float | None = None
        while True:
            call.event.wait(POLL_S)
            call.event.clear()
            while here is not None and cut is None and seen < len(call.texts):
                text = call.texts[seen]
                seen += 1
                at = here(text)
                if at is not None:
                    cut = (seen, text[:at])
            if call.reply is not None:
                break
            if cancel_at is None and (cut is not None or is_cancelled()):
                child.send(("cancel", call_id))
                cancel_at = time.monotonic()
            if cancel_at is not None and time.monotonic() - cancel_at > CANCEL_WAIT_S:
                log.error("the model process did not stop within %.0f s; killing it", CANCEL_WAIT_S)
                child.drop(call)
                child.kill()
                return DecodeResult([], "", "cancelled", stats)
        reply = call.reply
        if reply[0] == "died":
            log.warning("the model process died during a request (%s)", reply[1])
            return DecodeResult([], "", "engine_died", stats)
        if reply[0] == "error":
            log.error("the model process failed a request: %s", reply[1])
            return DecodeResult([], "", "error", stats)
        result: DecodeResult = reply[1]
        if reply[2] is not None:
            self.prompt_ms_per_token = reply[2]
        if cut is not None:
            n, text = cut
            result.stats.generated = min(result.stats.generated, n)
            return DecodeResult(result.tokens[:n], text, "stop", result.stats)
        return result

    def _quick(self, message: tuple[Any, ...], timeout: float | None) -> tuple[Any, ...] | None:
        """A call answered with a value; None when the child is gone or slow."""
        child = self._child
        if child is None:
            return None
        call_id = next(self._ids)
        call = child.call(call_id, (message[0], call_id, *message[1:]))
        if call is None:
            return None
        if not call.event.wait(timeout) or call.reply is None:
            child.drop(call)
            return None
        return call.reply if call.reply[0] == "value" else None

    def tokens_to_evaluate(self, key: str, prompt: Sequence[int], *, alone: bool = False) -> int:
        reply = self._quick(("tokens_to_evaluate", key, list(prompt), alone), QUICK_CALL_S)
        return len(prompt) if reply is None else int(reply[1])

    def cached_lengths(self) -> tuple[list[int], list[int]]:
        reply = self._quick(("cached_lengths",), QUICK_CALL_S)
        return ([], []) if reply is None else reply[1]

    def forget(self, key: str) -> None:
        child = self._child
        if child is not None:
            child.send(("forget", 0, key))

    def calibrate(self, sizes: Sequence[int] = (1, 2, 4, 8, 16, 32)) -> dict[str, object]:
        reply = self._quick(("calibrate", tuple(sizes)), None)
        if reply is None:
            raise RuntimeError_("the model process is not running")
        self.calibration, self.prompt_ms_per_token = reply[1]
        return self.calibration

    def reset(self) -> None:
        self._quick(("reset",), None)

    def draft_alone(self) -> DraftAlone:
        if self.draft is None:
            raise ValueError("no draft model")
        return DraftAlone(self, self.draft)

    def refresh(self) -> ChildRefresh:
        return ChildRefresh(self)

    def run_refresh(self, abort: AbortCheck | None) -> bool | None:
        """One attempt of the child's background calibration; None when it is not running."""
        child = self._child
        if child is None:
            return None
        call_id = next(self._ids)
        call = child.call(call_id, ("refresh", call_id))
        if call is None:
            return None
        aborted = False
        while not call.event.wait(POLL_S * 4):
            if not aborted and abort is not None and abort():
                child.send(("cancel", call_id))
                aborted = True
        if call.reply is None or call.reply[0] != "value":
            return None
        done, self.prompt_ms_per_token, self.calibration = call.reply[1]
        return bool(done)


class DraftAlone:
    """The draft model writing alone (single lines), in the same child process."""

    draft = None
    draft_warning = ""

    def __init__(self, parent: SupervisedEngine, draft: Model) -> None:
        self.parent = parent
        self.target = draft
        self.prompt_ms_per_token: float | None = None
        self.calibration: dict[str, object] = {}  # measured for the pair, not the draft alone

    def generate(
        self,
        key: str,
        prompt: Sequence[int],
        options: DecodeOptions,
        stop: StopRule | None = None,
        cancelled: IsCancelled | None = None,
    ) -> DecodeResult:
        return self.parent.generate(key, prompt, options, stop, cancelled, alone=True)

    def tokens_to_evaluate(self, key: str, prompt: Sequence[int]) -> int:
        return self.parent.tokens_to_evaluate(key, prompt, alone=True)

    def forget(self, key: str) -> None:
        pass  # the parent's forget reaches both engines in the child


class ChildRefresh:
    """The background calibration of the engine in the child (`calibration.Refresh` runs
    there); `calibration.Background` runs it on the model worker and pauses it for requests."""

    def __init__(self, engine: SupervisedEngine) -> None:
        self.engine = engine
        self.done = False

    def run(self, abort: AbortCheck | None = None) -> bool:
        done = self.engine.run_refresh(abort)
        self.done = done is None or done  # a dead child's calibration is not retried
        return self.done
