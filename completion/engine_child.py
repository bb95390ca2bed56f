"""The engine's own process: `python -m airgap_lsp.completion.engine_child FD`.

Owns the child's side of the boundary `engine_process` describes. It loads the models from
the recipe it is sent (`local_engine.build_engine`), then serves one call at a time on its
main thread (load, generate, calibrate, refresh, reset) while a reader thread takes the
messages that must not wait for decoding: cancel (the decode loop sees it within one step),
forget, how many prompt tokens a request would evaluate, and close. It dies with the server:
the socket's end of file, however the server ended, ends it even in the middle of decoding
(the kernel's parent-death signal would not do: it follows the thread that started the child).
It never writes to stdout.

AIRGAP_LSP_ENGINE_FAULT injects faults for the supervision tests: `raise-at-token:N` (a Python
error at the Nth decoded token), `segv-at-token:N` / `abort-at-token:N` (a native-style death
there), `abort-at-load` / `segv-at-load` / `value-error-at-load`, `raise-in-refresh`; with
AIRGAP_LSP_ENGINE_FAULT_ONCE=PATH only the first child (the one that creates PATH) has it.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from airgap_lsp.completion.engine import DecodeOptions, Engine, StopRule
from airgap_lsp.completion.local_engine import (
    Built,
    EngineRecipe,
    build_engine,
    build_healing_index,
)

log = logging.getLogger(__name__)

FAULT_ENV = "AIRGAP_LSP_ENGINE_FAULT"


def _fault() -> tuple[str, int]:
    once = os.environ.get(FAULT_ENV + "_ONCE", "")
    if once:  # only the first child with this marker path gets the fault
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return "", 0
    raw = os.environ.get(FAULT_ENV, "")
    name, _, n = raw.partition(":")
    return name, int(n) if n.isdigit() else 0


def _crash(kind: str) -> None:
    if kind.startswith("segv"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind.startswith("abort"):
        os.abort()


class Child:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.send_lock = threading.Lock()
        self.inbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.cancelled: set[int] = set()
        self.built: Built | None = None
        self.alone: Engine | None = None
        self.fault, self.fault_at = _fault()
        # Every call the main thread serves (the reader thread answers the others itself).
        self.handlers: dict[str, Callable[..., None]] = {
            "load": self._on_load,
            "generate": self._on_generate,
            "calibrate": self._on_calibrate,
            "refresh": self._on_refresh,
            "reset": self._on_reset,
        }

    def send(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            self.conn.send(message)

    def reply(self, call_id: int, payload: tuple[Any, ...]) -> None:
        self.send(("done", call_id, payload))

    # -- the reader thread ------------------------------------------------------------------

    def read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the server is gone
            kind = message[0]
            if kind == "close":
                os._exit(0)
            if kind == "cancel":
                self.cancelled.add(message[1])
            elif kind == "forget":
                if self.built is not None:
                    self.built.engine.forget(message[2])
                if self.alone is not None:
                    self.alone.forget(message[2])
            elif kind == "tokens_to_evaluate":
                _, call_id, key, prompt, alone = message
                engine = self._engine(alone)
                count = len(prompt) if engine is None else engine.tokens_to_evaluate(key, prompt)
                self.reply(call_id, ("value", count))
            elif kind == "cached_lengths":
                lengths = ([], []) if self.built is None else self.built.engine.cached_lengths()
                self.reply(message[1], ("value", lengths))
            else:
                self.inbox.put(message)

    # -- the main thread ----------------------------------------------------------------------

    def serve(self) -> None:
        threading.Thread(target=self.read, name="airgap-engine-inbox", daemon=True).start()
        while True:
            message = self.inbox.get()
            kind, call_id = message[0], message[1]
            if kind == "close":
                return
            try:
                self.handlers[kind](call_id, *message[2:])
            except Exception as exc:  # one call failed: say so, keep serving
                log.exception("%s failed", kind)
                self.reply(call_id, ("error", f"{type(exc).__name__}: {exc}"))
            finally:
                self.cancelled.discard(call_id)

    def _engine(self, alone: bool) -> Engine | None:
        if self.built is None:
            return None
        if not alone:
            return self.built.engine
        if self.alone is None:
            self.alone = self.built.engine.draft_alone()
        return self.alone

    def _on_load(self, call_id: int, recipe: EngineRecipe) -> None:
        def progress(message: str, percent: int) -> None:
            self.send(("progress", message, percent))

        if self.fault in ("abort-at-load", "segv-at-load"):
            _crash(self.fault)
        try:
            if self.fault == "value-error-at-load":
                raise ValueError("n_batch (8) must exceed n_rs_seq + 1 (9)")
            self.built = build_engine(recipe, progress, healing_index=False)
        except Exception as exc:  # BackendError and MemoryError included: the parent decides
            log.warning("loading failed: %s", exc)
            self.reply(call_id, ("load_failed", type(exc).__name__, str(exc)))
            return
        engine = self.built.engine
        info = {
            "draft": engine.draft is not None,
            "draft_warning": engine.draft_warning,
            "warnings": self.built.warnings,
            "prompt_ms_per_token": engine.prompt_ms_per_token,
            "calibration": engine.calibration,
            "evaluated_tokens": engine.target_llama.evaluated_tokens,  # measuring at load
        }
        self.reply(call_id, ("loaded", info))
        # After "ready": the server's load is not held up by it, and the first keystroke
        # rarely comes within the half second it takes.
        threading.Thread(
            target=build_healing_index, args=(engine, recipe), name="airgap-heal", daemon=True
        ).start()

    def _on_generate(
        self,
        call_id: int,
        key: str,
        prompt: list[int],
        options: DecodeOptions,
        stop: StopRule | None,
        stream: bool,
        alone: bool,
    ) -> None:
        engine = self._engine(alone)
        if engine is None:
            raise RuntimeError("no models loaded")
        rule = self._rule(call_id, stop, stream)
        result = engine.generate(key, prompt, options, rule, lambda: call_id in self.cancelled)
        base = self.built.engine if self.built is not None else engine
        self.reply(call_id, ("result", result, base.prompt_ms_per_token))

    def _rule(self, call_id: int, stop: StopRule | None, stream: bool) -> StopRule | None:
        """The stop rule as the engine calls it after every token: streams the text when the
        server applies its own rule, and injects the configured fault."""
        counted = self.fault.endswith("-at-token")
        if not stream and not counted:
            return stop
        tokens = 0

        def rule(text: str) -> int | None:
            nonlocal tokens
            tokens += 1
            if counted and tokens == self.fault_at:
                if self.fault.startswith("raise"):
                    raise RuntimeError(f"injected fault at token {tokens}")
                _crash(self.fault)
            if stream:
                self.send(("text", call_id, text))
            return stop(text) if stop is not None else None

        return rule

    def _on_calibrate(self, call_id: int, sizes: tuple[int, ...]) -> None:
        engine = self._engine(False)
        if engine is None:
            raise RuntimeError("no models loaded")
        calibration = engine.calibrate(sizes)
        self.reply(call_id, ("value", (calibration, engine.prompt_ms_per_token)))

    def _on_refresh(self, call_id: int) -> None:
        if self.built is None:
            raise RuntimeError("no models loaded")
        if self.fault == "raise-in-refresh":
            raise RuntimeError("injected calibration fault")
        refresh = self.built.refresh
        done = refresh.run(lambda: call_id in self.cancelled)
        engine = self.built.engine
        self.reply(call_id, ("value", (done, engine.prompt_ms_per_token, engine.calibration)))

    def _on_reset(self, call_id: int) -> None:
        for engine in (self._engine(False), self.alone):
            if engine is not None:
                engine.reset()
        self.reply(call_id, ("value", None))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    level = os.environ.get("AIRGAP_LSP_ENGINE_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level, logging.WARNING),
        format="%(asctime)s %(levelname)s engine[%(process)d] %(name)s: %(message)s",
    )
    Child(Connection(int(args[0]))).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
