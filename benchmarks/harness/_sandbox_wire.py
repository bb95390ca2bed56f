"""The pipe between the sandbox's checker and its candidate process: frames and values.

Loaded by path by `_sandbox_child.py` (standard library only). Both directions carry
frames: an 8-byte big-endian length, then JSON. A message is a JSON array (`["ok", value]`,
`["error", ...]`, `["call", name, args]`...); a value is plain data:

  None, bool, int, float, str   as themselves (NaN and infinities as JSON's extensions)
  list                          a JSON array
  tuple, dict, set, frozenset,  a JSON object {"#": tag, "v": ...}; dicts as [key, value]
  bytes, bytearray, complex,    pairs, so keys keep their types; ints over 4096 bits in hex
  big int
  anything else                 {"#": "o", "t": type name, "r": repr}: an `Opaque` that is
                                equal to nothing

The checker decodes with `json.loads` and a hook that builds only those types, so a value
from the candidate cannot carry code: no `__eq__` of its own, no pickle. Subclasses of the
plain types (a namedtuple, an IntEnum, a Counter) arrive as their base type.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import time
import traceback
from typing import Any

_HEADER = struct.Struct(">Q")
MAX_FRAME = 1 << 30
_MAX_DEPTH = 200
_REPR_LIMIT = 200
_BIG_INT_BITS = 4096
_FLAT = {int, float, str, bool, type(None)}
_BASES: tuple[type, ...] = (int, float, str, bytes, bytearray, complex, list, tuple, set, frozenset)
# Encoding and sending a result is not part of a call's time limit: it gets this much on
# top, checked once the result is in. A candidate that announces "returned" early to
# compute on gains at most this (and only by producing a result that big).
TRANSFER_BASE_SECONDS = 0.5
TRANSFER_BYTES_PER_SECOND = 5_000_000


class CandidateError(Exception):
    """The candidate's code raised `kind` (a type name) with `message`; text only."""

    def __init__(self, kind: str, message: str, trace: str, phase: str = "run") -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.trace = trace
        self.phase = phase  # "compile", "load" or "run"


class CandidateGone(BaseException):
    """The candidate process timed out, died or broke the protocol: a verdict of its own.

    A BaseException so that `except Exception` in test code does not swallow it.
    """

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class ProtocolError(Exception):
    pass


class Opaque:
    """A candidate value of a type that does not cross the pipe: equal to nothing."""

    __slots__ = ("text", "type_name")

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return self.text


# --- values ------------------------------------------------------------------------------


def _opaque(value: object, why: str = "") -> dict[str, str]:
    try:
        text = repr(value)
    except BaseException:
        text = f"<{type(value).__name__}>"
    if len(text) > _REPR_LIMIT:
        text = text[: _REPR_LIMIT - 3] + "..."
    return {"#": "o", "t": type(value).__name__, "r": text + (f" ({why})" if why else "")}


def to_wire(value: Any, depth: int = 0) -> Any:
    """A JSON-able form of `value` (runs in the candidate: it may be slow, never trusted)."""
    kind = type(value)
    if kind is int and value.bit_length() > _BIG_INT_BITS:
        # Decimal conversion is quadratic (and capped at 4300 digits); hex is linear.
        return {"#": "i", "v": hex(value)}
    if value is None or kind is bool or kind is int or kind is float or kind is str:
        return value
    if depth > _MAX_DEPTH:
        return _opaque(value, "nested too deeply")
    depth += 1
    if kind is list:
        kinds = set(map(type, value))
        if kinds <= _FLAT and (
            int not in kinds
            or all(x.bit_length() <= _BIG_INT_BITS for x in value if type(x) is int)
        ):
            return value  # the common case, without a Python call per item
        return [to_wire(item, depth) for item in value]
    if kind is tuple:
        return {"#": "t", "v": [to_wire(item, depth) for item in value]}
    if kind is dict:
        return {"#": "d", "v": [[to_wire(k, depth), to_wire(v, depth)] for k, v in value.items()]}
    if kind is set or kind is frozenset:
        return {"#": "s" if kind is set else "f", "v": [to_wire(item, depth) for item in value]}
    if kind is bytes or kind is bytearray:
        return {"#": "b" if kind is bytes else "y", "v": bytes(value).decode("latin-1")}
    if kind is complex:
        return {"#": "c", "v": [value.real, value.imag]}
    # Subclasses (a namedtuple, an IntEnum, a Counter) travel as their base type's value.
    if isinstance(value, dict):
        return to_wire(dict(value.items()), depth)
    for base in _BASES:
        if isinstance(value, base):
            converted: Any = base(value)
            return to_wire(converted, depth)
    return _opaque(value)


def _hook(obj: dict[str, Any]) -> Any:
    tag, items = obj.get("#"), obj.get("v")
    if tag == "o":
        return Opaque(str(obj.get("t")), str(obj.get("r")))
    if tag == "i" and type(items) is str:
        return int(items, 16)
    if tag in ("b", "y") and type(items) is str:
        raw = items.encode("latin-1")
        return raw if tag == "b" else bytearray(raw)
    if type(items) is not list:
        raise ProtocolError(f"bad value tag {tag!r}")
    if tag == "t":
        return tuple(items)
    if tag == "d":
        if not all(type(pair) is list and len(pair) == 2 for pair in items):
            raise ProtocolError("bad dict")
        return dict(items)
    if tag == "s":
        return set(items)
    if tag == "f":
        return frozenset(items)
    if tag == "c" and len(items) == 2 and all(type(x) in (int, float) for x in items):
        return complex(items[0], items[1])
    raise ProtocolError(f"bad value tag {tag!r}")


def encode(message: list[Any]) -> bytes:
    return json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def decode(raw: bytes) -> list[Any]:
    """Plain data only: every JSON object must be one of the tags above."""
    try:
        message = json.loads(raw, object_hook=_hook)
    except (ValueError, TypeError, RecursionError, ProtocolError) as exc:
        raise ProtocolError(f"undecodable frame: {exc!r}"[:300]) from None
    if type(message) is not list or not message or type(message[0]) is not str:
        raise ProtocolError("a frame must be a list starting with a string")
    return message


# --- frames ------------------------------------------------------------------------------


def send(fd: int, message: list[Any]) -> None:
    """Blocking write of one frame (the candidate side)."""
    data = encode(message)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, min(size - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError
        chunks += chunk
    return bytes(chunks)


def receive(fd: int) -> list[Any]:
    """Blocking read of one frame (the candidate side: the checker is trusted)."""
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    message: list[Any] = json.loads(_read_exactly(fd, size), object_hook=_hook)
    return message


# --- the candidate process's loop --------------------------------------------------------


def _error(exc: BaseException, phase: str, limit: int = -3) -> list[Any]:
    try:
        message = str(exc)[:1000]
    except BaseException:
        message = "<unprintable>"
    try:
        trace = traceback.format_exc(limit=limit)[-4000:]
    except BaseException:
        trace = type(exc).__name__
    return ["error", type(exc).__name__, message, trace, phase]


def serve(requests: int, replies: int) -> None:
    """Answer `load` and `call` requests until the checker closes the pipe."""
    namespace: dict[str, Any] = {}
    while True:
        try:
            request = receive(requests)
        except EOFError:
            return
        op = request[0]
        if op == "load":
            _, source, module = request
            try:
                code = compile(source, "candidate.py", "exec")
            except BaseException as exc:
                send(replies, _error(exc, "compile", limit=0))
                continue
            namespace = {"__name__": module}
            try:
                exec(code, namespace)
            except BaseException as exc:
                send(replies, _error(exc, "load"))
                continue
            callables = [n for n, v in namespace.items() if callable(v) and not n.startswith("__")]
            send(replies, ["ok", callables])
        elif op == "call":
            _, name, args = request
            try:
                value = namespace[name](*args)
            except BaseException as exc:
                send(replies, _error(exc, "run"))
                continue
            send(replies, ["returned"])
            try:
                reply = encode(["ok", to_wire(value)])
            except BaseException as exc:  # e.g. a value too big for memory
                send(replies, _error(exc, "run"))
                continue
            view = memoryview(_HEADER.pack(len(reply)) + reply)
            while view:
                view = view[os.write(replies, view) :]


# --- the checker's handle on a candidate process -----------------------------------------


def _describe_exit(status: int, stderr_tail: str) -> tuple[str, str]:
    memory = "MemoryError" in stderr_tail or "Cannot allocate memory" in stderr_tail
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        if signum == signal.SIGXCPU:
            return "timeout", f"killed by {name} (CPU time limit)"
        return ("memory" if memory else "error"), f"killed by {name}: {stderr_tail[-500:]}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if memory:
        return "memory", stderr_tail[-500:]
    return "error", f"the candidate process exited with code {code} without answering"


class Candidate:
    """The checker's end of one candidate process. Everything read from it is data."""

    def __init__(self, pid: int, requests: int, replies: int, stderr_fd: int, deadline: float):
        self.pid = pid
        self._requests = requests
        self._replies = replies
        self._stderr = stderr_fd
        self._deadline = deadline
        self._exit: int | None = None
        self.callables: list[str] = []
        os.set_blocking(requests, False)

    # Process state.

    def _reap(self, wait_seconds: float = 0.0) -> int | None:
        if self._exit is None:
            end = time.monotonic() + wait_seconds
            while True:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self._exit = status
                    break
                if time.monotonic() >= end:
                    break
                time.sleep(0.01)
        return self._exit

    def _stderr_tail(self) -> str:
        try:
            size = os.fstat(self._stderr).st_size
            return os.pread(self._stderr, 4000, max(0, size - 4000)).decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self) -> None:
        if self._reap() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap(5.0)

    def _gone(self, what: str) -> CandidateGone:
        status = self._reap(0.5)
        if status is None:
            self.kill()
            return CandidateGone("error", f"the candidate process {what}")
        return CandidateGone(*_describe_exit(status, self._stderr_tail()))

    # I/O with deadlines.

    def _wait(self, fd: int, write: bool, deadline: float, timeout_detail: str) -> None:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise CandidateGone("timeout", timeout_detail)
            ready = select.select([] if write else [fd], [fd] if write else [], [], min(left, 0.1))
            if ready[0] or ready[1]:
                return
            if self._reap() is not None and write:
                raise self._gone("died")

    def _send(self, message: list[Any], deadline: float, timeout_detail: str) -> None:
        data = encode(message)
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            self._wait(self._requests, True, deadline, timeout_detail)
            try:
                view = view[os.write(self._requests, view) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise self._gone("closed its end of the pipe") from None

    def _read(self, size: int, deadline: float, timeout_detail: str) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            self._wait(self._replies, False, deadline, timeout_detail)
            chunk = os.read(self._replies, min(size - len(chunks), 1 << 22))
            if not chunk:
                raise self._gone("exited")
            chunks += chunk
        return bytes(chunks)

    def _receive(self, deadline: float, timeout_detail: str) -> list[Any]:
        return self._receive_sized(deadline, timeout_detail)[0]

    def _receive_sized(self, deadline: float, timeout_detail: str) -> tuple[list[Any], int]:
        (size,) = _HEADER.unpack(self._read(_HEADER.size, deadline, timeout_detail))
        if size > MAX_FRAME:
            self.kill()
            raise CandidateGone("error", f"the candidate sent {size} bytes, more than allowed")
        raw = self._read(size, deadline, timeout_detail)
        try:
            return decode(raw), size
        except ProtocolError as exc:
            self.kill()
            raise CandidateGone("error", f"the candidate broke the protocol: {exc}") from None
        except MemoryError:
            self.kill()
            raise CandidateGone("memory", "the candidate's answer does not fit in memory") from None

    def _answer(self, deadline: float, timeout_detail: str) -> Any:
        reply = self._receive(deadline, timeout_detail)
        return self._unpack(reply)

    def _unpack(self, reply: list[Any]) -> Any:
        if reply[0] == "ok" and len(reply) == 2:
            return reply[1]
        if reply[0] == "error" and len(reply) == 5 and all(type(x) is str for x in reply[1:]):
            raise CandidateError(reply[1], reply[2], reply[3], reply[4])
        self.kill()
        raise CandidateGone("error", f"the candidate broke the protocol: {str(reply)[:200]}")

    # Requests.

    def handshake(self) -> str | None:
        """None once the process is set up and ready, else why it could not be."""
        reply = self._receive(self._deadline, "the candidate process did not start in time")
        if reply == ["ready"]:
            return None
        if reply[0] == "refused" and len(reply) == 2:
            return str(reply[1])
        return f"unexpected first frame {str(reply)[:200]}"

    def load(self, source: str, module: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        detail = "time limit hit while defining the candidate"
        self._send(["load", source, module], deadline, detail)
        names = self._answer(deadline, detail)
        if type(names) is not list or not all(type(n) is str for n in names):
            self.kill()
            raise CandidateGone("error", "the candidate broke the protocol: bad name list")
        self.callables = names

    def call(self, name: str, args: list[Any], timeout: float, timeout_detail: str = "") -> Any:
        """`name(*args)` in the candidate; its return value as plain data."""
        detail = timeout_detail or f"{name} exceeded {timeout:.2f}s"
        self._send(["call", name, [to_wire(a) for a in args]], self._deadline, detail)
        # The clock starts once the request is out (big inputs take a while to send).
        reply = self._receive(time.monotonic() + timeout, detail)
        if reply != ["returned"]:
            return self._unpack(reply)
        returned = time.monotonic()
        reply, size = self._receive_sized(self._deadline, detail)
        allowed = TRANSFER_BASE_SECONDS + size / TRANSFER_BYTES_PER_SECOND
        if time.monotonic() - returned > allowed:
            self.kill()
            raise CandidateGone("timeout", f"{detail} (its result took too long to arrive)")
        return self._unpack(reply)
