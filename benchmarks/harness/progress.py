"""A dependency-free progress line on stderr: `label [####....] i/N elapsed ETA status`.

On a terminal the line is redrawn in place at most every `min_interval` seconds; on a
pipe or file (CI logs) a full line is printed at most every `log_interval` seconds and
at the end, so logs stay short.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """Thread-safe progress counter; use as a context manager or call `close()`."""

    def __init__(
        self,
        total: int,
        label: str = "",
        stream: TextIO | None = None,
        *,
        width: int = 24,
        min_interval: float = 0.1,
        log_interval: float = 10.0,
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self.status = ""
        self._start = time.monotonic()
        self._last_draw = float("-inf")
        self._lock = threading.Lock()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._interval = min_interval if self._tty else log_interval
        self._closed = False

    def render(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = now - self._start
        fraction = self.done / self.total if self.total else 1.0
        filled = int(self.width * min(1.0, fraction))
        bar = "#" * filled + "." * (self.width - filled)
        if 0 < self.done < self.total:
            eta = _clock(elapsed / self.done * (self.total - self.done))
        else:
            eta = "--:--" if self.done == 0 else "00:00"
        head = f"{self.label} " if self.label else ""
        line = f"{head}[{bar}] {self.done}/{self.total} elapsed {_clock(elapsed)} ETA {eta}"
        return f"{line} {self.status}" if self.status else line

    def advance(self, n: int = 1, status: str = "") -> None:
        with self._lock:
            self.done += n
            if status:
                self.status = status[:60]
            now = time.monotonic()
            if self.done >= self.total or now - self._last_draw >= self._interval:
                self._draw(now)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        if self._tty:
            self.stream.write("\r\x1b[2K" + self.render(now))
        else:
            self.stream.write(self.render(now) + "\n")
        self.stream.flush()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._tty:
                self._draw(time.monotonic())
                self.stream.write("\n")
            elif self._last_draw == float("-inf") or self.done < self.total:
                self._draw(time.monotonic())
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
