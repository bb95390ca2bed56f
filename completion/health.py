"""Whether the engine answers: a remote inference server, or the model's own process.

Owns `Health`, which the server listens to: one message when the engine stops answering, one
when it answers again, and one when it will not be tried again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Health:
    """Whether the engine answers. Listeners hear each change once: (False, why) when it
    stops answering, (True, message) when it answers again."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.ok = True
        self.message = ""
        self.retry_at = 0.0  # while down: when the remote is tried again (with a fallback)
        self._pause = 1.0
        self._listeners: list[Callable[[bool, str], None]] = []
        self._lock = threading.Lock()

    def listen(self, listener: Callable[[bool, str], None]) -> None:
        self._listeners.append(listener)

    def failed(self, message: str) -> None:
        with self._lock:
            changed = self.ok
            self.ok = False
            self.message = message
            self.retry_at = time.monotonic() + self._pause
            self._pause = min(self._pause * 2, 30.0)
        if changed:
            log.warning("engine problem: %s", message)
            self._tell(False, message)
        else:
            log.info("engine still failing: %s", message)

    def succeeded(self) -> None:
        with self._lock:
            changed = not self.ok
            self.ok, self.message, self._pause = True, "", 1.0
        if changed:
            message = f"{self.where} answers again"
            log.warning("%s", message)
            self._tell(True, message)

    def stopped(self, message: str) -> None:
        """The engine will not be tried again (its process died at load too often): told even
        while it was already down, since this ends the waiting."""
        with self._lock:
            self.ok = False
            self.message = message
        log.error("%s", message)
        self._tell(False, message)

    def _tell(self, ok: bool, message: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(ok, message)
            except Exception:  # a listener's failure must not fail the completion
                log.exception("health listener failed")
