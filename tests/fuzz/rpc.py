"""A raw JSON-RPC 2.0 client over a subprocess's stdio, strict about what the server sends.

Owns framing (Content-Length headers read byte by byte), request ids, and the bookkeeping the
fuzzer's protocol oracles need: every response the server sent, by id (so a missing or second
response is visible), every notification, and every framing or protocol violation. Requests
from the server (workspace/configuration, window/workDoneProgress/create, workspace/applyEdit,
...) are answered by a callback on the reader thread. No LSP library is used, so nothing on
this side normalizes what the server does.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

SILENT = object()  # returned by a request handler: never answer that request


class ServerRequestError(Exception):
    """Raised by a request handler to answer with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Received:
    message: dict[str, Any]
    at: float


@dataclass
class Connection:
    """One server process and everything it said."""

    argv: Sequence[str]
    env: dict[str, str]
    cwd: str | None = None
    on_request: Callable[[str, Any], Any] = lambda method, params: None
    stderr_path: str | None = None
    responses: dict[Any, list[Received]] = field(default_factory=dict)
    notifications: list[Received] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    server_requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._closed = False
        self.bytes_in = 0
        self.bytes_out = 0
        self._stderr = open(self.stderr_path or os.devnull, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            list(self.argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=self.env,
            cwd=self.cwd,
        )
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- sending ------------------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def send(self, message: dict[str, Any], ascii_only: bool = True) -> None:
        try:
            body = json.dumps(message, ensure_ascii=ascii_only).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: only a \\u escape can carry it
            body = json.dumps(message, ensure_ascii=True).encode("utf-8")
        data = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        with self._write_lock:
            self.sent.append(message)
            self.bytes_out += len(data)
            stdin = self.proc.stdin
            assert stdin is not None
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                method = message.get("method")
                self.violations.append(f"write failed: server gone (sending {method})")

    def request(self, method: str, params: Any, ascii_only: bool = True) -> int:
        rid = self.next_id()
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg, ascii_only)
        return rid

    def notify(self, method: str, params: Any, ascii_only: bool = True) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg, ascii_only)

    # -- waiting ------------------------------------------------------------------------------

    def wait(self, rid: Any, timeout: float) -> dict[str, Any] | None:
        """The (first) response to `rid`, or None after `timeout` seconds or when the server
        closed its output."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while rid not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return None
                self._cond.wait(min(left, 0.2))
            return self.responses[rid][0].message

    def call(self, method: str, params: Any, timeout: float = 30.0) -> dict[str, Any] | None:
        return self.wait(self.request(method, params), timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)
        self._stderr.close()

    # -- reading ------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                message = self._read_message(out)
                if message is None:
                    break
                self._dispatch(message)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _read_message(self, out: IO[bytes]) -> dict[str, Any] | None:
        length = None
        while True:
            line = out.readline()
            if not line:
                return None
            self.bytes_in += len(line)
            if not line.endswith(b"\r\n"):
                self.violations.append(f"framing: header line without CRLF: {line[:80]!r}")
                continue
            if line == b"\r\n":
                break
            name, _, value = line.decode("ascii", "replace").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    self.violations.append(f"framing: bad Content-Length {value!r}")
            elif name.strip().lower() != "content-type":
                self.violations.append(f"framing: unexpected header {line[:80]!r}")
        if length is None:
            self.violations.append("framing: a message without Content-Length")
            return {}
        body = out.read(length)
        self.bytes_in += len(body)
        if len(body) < length:
            self.violations.append("framing: output ended inside a message")
            return None
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            self.violations.append(f"framing: body is not UTF-8 JSON ({exc}): {body[:120]!r}")
            return {}
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            self.violations.append(f"protocol: not a JSON-RPC 2.0 object: {body[:120]!r}")
            return {}
        return message

    def _dispatch(self, message: dict[str, Any]) -> None:
        if not message:
            return
        now = time.monotonic()
        if "method" in message and "id" in message:
            self.server_requests.append(message)
            self._answer(message)
        elif "method" in message:
            with self._cond:
                self.notifications.append(Received(message, now))
                self._cond.notify_all()
        elif "id" in message:
            if ("result" in message) == ("error" in message):
                self.violations.append(f"protocol: not exactly one of result/error: {message}")
            with self._cond:
                self.responses.setdefault(message["id"], []).append(Received(message, now))
                self._cond.notify_all()
        else:
            self.violations.append(f"protocol: not a request, response or notification: {message}")

    def _answer(self, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        try:
            result = self.on_request(message["method"], message.get("params"))
        except ServerRequestError as exc:
            reply["error"] = {"code": exc.code, "message": str(exc)}
        else:
            if result is SILENT:
                return
            reply["result"] = result
        self.send(reply)
