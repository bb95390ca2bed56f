"""Where the server's log records go.

Owns the logging set-up of `serve` and `complete`: warnings and errors go to stderr; with an
editor on stdio, info and debug records go to the log file (when one is set) and to the client
as `window/logMessage` instead, because editors treat all of a server's stderr as errors
(Neovim records every stderr line as [ERROR] in :LspLog). Stdout is never written: it is the
protocol channel.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
import threading
from typing import Any

from lsprotocol import types

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LEVELS = {
    logging.DEBUG: types.MessageType.Log,
    logging.INFO: types.MessageType.Info,
}


def setup(level: str, file: str | None = None, stderr_everything: bool = False) -> None:
    """Log at `level`: warnings and errors to stderr (every level with stderr_everything),
    everything to `file` when given."""
    root = logging.getLogger()
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(FORMAT))
    if not stderr_everything:
        stderr.setLevel(logging.WARNING)
    root.handlers[:] = [stderr]
    root.setLevel(level.upper())
    set_file(file)
    # pygls logs every message at INFO (documents included): only in debug mode.
    logging.getLogger("pygls").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


def set_file(file: str | None) -> None:
    """Send every record (at the root's level) to `file` too; None or "" for no file."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(handler)
        handler.close()
    if not file:
        return
    try:
        handler = logging.FileHandler(file, encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("cannot write the log file %s: %s", file, exc)
        return
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)


def apply(level: str, file: str | None) -> None:
    """A new log level and file from the client's settings."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    logging.getLogger("pygls").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    current = next((h for h in root.handlers if isinstance(h, logging.FileHandler)), None)
    if (current.baseFilename if current else "") != (file or ""):
        set_file(file)


class ClientLog(logging.Handler):
    """Info and debug records to the client as `window/logMessage`.

    Records may come from any thread; they are sent from the event loop. Until the client has
    sent `initialize` (before which the protocol allows no message) they wait in a short
    buffer. pygls' own records are never sent: sending a message logs one, which would loop.
    """

    def __init__(self, server: Any, buffered: int = 200) -> None:
        super().__init__(logging.DEBUG)
        self.server = server
        self.loop: asyncio.AbstractEventLoop | None = None
        self._pending: collections.deque[tuple[types.MessageType, str]] = collections.deque(
            maxlen=buffered
        )
        self._lock = threading.Lock()
        self._sending = threading.local()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING and not record.name.startswith("pygls")

    def connect(self) -> None:
        """The client is there (call on the event loop): send what waited, and all from now."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self.loop = loop
            pending = list(self._pending)
            self._pending.clear()
        for kind, text in pending:
            self._send(kind, text)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._sending, "active", False):
            return
        try:
            kind = _LEVELS.get(record.levelno, types.MessageType.Log)
            text = self.format(record)
            with self._lock:
                loop = self.loop
                if loop is None:
                    self._pending.append((kind, text))
                    return
            loop.call_soon_threadsafe(self._send, kind, text)
        except Exception:  # a closed loop at exit: the record is dropped, never raised
            pass

    def _send(self, kind: types.MessageType, text: str) -> None:
        self._sending.active = True
        try:
            self.server.window_log_message(types.LogMessageParams(type=kind, message=text))
        except Exception:  # the client went away; logging must never fail a handler
            pass
        finally:
            self._sending.active = False


def to_client(server: Any) -> ClientLog:
    """Forward info and debug records to the client of `server` (see ClientLog)."""
    handler = ClientLog(server)
    logging.getLogger().addHandler(handler)
    return handler
