"""HTTP to a remote inference engine, over the standard library's `http.client`.

Owns the connection pool (keep-alive; a spare connection is opened ahead after a stream was
closed early, so the next keystroke does not pay a new TCP/TLS handshake), TLS verification (on
by default; `caFile` trusts a private CA instead of the system's), connect and request
deadlines, streamed line reading (SSE and NDJSON), cancellation by closing the connection from
the watchdog thread (a blocked read returns at once and the engine sees the connection close),
bounded retries with backoff for connect errors, 429 and 5xx, and one clear message per kind of
failure. The API key travels only in the Authorization header: every message is scrubbed of
it, and URLs are shown without credentials.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import ipaddress
import json
import logging
import os
import random
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

# Has the call been cancelled? (completion.engine.IsCancelled; not imported: this module
# must not load llama.cpp)
IsCancelled = Callable[[], bool]
MAX_ERROR_BODY = 64 * 1024  # bytes of an error reply read for its message
MAX_IDLE = 4  # idle keep-alive connections kept
WATCH_INTERVAL = 0.01  # seconds between the watchdog's looks at cancellation and deadlines

# unreachable | tls | timeout | auth | rate_limited | server | not_found | bad_request |
# protocol | cancelled | deadline (a caller's own deadline, not the request timeout)
RETRYABLE = frozenset({"unreachable", "rate_limited", "server"})


class EngineError(Exception):
    """A request to the engine failed; `str(error)` is the message for the user."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after: float | None = None

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class Endpoint:
    scheme: str  # http | https
    host: str
    port: int
    base: str  # path prefix without a trailing slash ("" or "/llm")

    @property
    def shown(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.base}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address, decided without a name lookup."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_endpoint(url: str) -> Endpoint:
    """An engine's base URL, or ValueError with a message that never repeats credentials."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "must not contain credentials; put the API key in the file or environment "
            "variable that models.apiKeyFile / models.apiKeyEnv name"
        )
    if not parts.hostname:
        raise ValueError("has no host name")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError("has an invalid port") from None
    return Endpoint(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """Certificate and host name verification on; `ca_file` (PEM) replaces the system CAs."""
    return ssl.create_default_context(cafile=ca_file or None)


class Watchdog:
    """One thread that closes the connections of calls that were cancelled or ran past their
    deadline: a read blocked in the calling thread then returns at once."""

    def __init__(self) -> None:
        self._items: dict[int, _Watched] = {}
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._next = 0

    def watch(self, item: _Watched) -> int:
        with self._lock:
            self._next += 1
            self._items[self._next] = item
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="airgap-remote-watchdog", daemon=True
                )
                self._thread.start()
            self._lock.notify()
            return self._next

    def unwatch(self, handle: int) -> None:
        with self._lock:
            self._items.pop(handle, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._items:
                    if not self._lock.wait(timeout=30.0) and not self._items:
                        self._thread = None
                        return
                items = list(self._items.values())
            now = time.monotonic()
            for item in items:
                item.check(now)
            time.sleep(WATCH_INTERVAL)


class _Watched:
    """A call's cancellation check, its deadline and the socket to close."""

    def __init__(self, cancelled: IsCancelled, deadline: float) -> None:
        self.cancelled = cancelled
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.reason = ""  # "cancelled" or "deadline" once the watchdog closed the socket

    def check(self, now: float) -> None:
        if self.reason:
            return
        try:
            cancelled = self.cancelled()
        except Exception:  # a broken check must not stop the watchdog
            cancelled = False
        if cancelled:
            self.stop("cancelled")
        elif now > self.deadline:
            self.stop("deadline")

    def stop(self, reason: str) -> None:
        if self.reason:
            return
        self.reason = reason
        sock = self.sock
        if sock is not None:
            # The plain socket's shutdown (not SSLSocket's, which unwraps): the reader
            # blocked in recv gets end-of-file and the peer sees the connection close.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _connector(watched: _Watched) -> Callable[..., socket.socket]:
    """socket.create_connection, but polling: a cancelled call stops connecting at once."""

    def create(
        address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        host, port = address
        limit = timeout if isinstance(timeout, (int, float)) else 30.0
        end = min(time.monotonic() + limit, watched.deadline)
        error: OSError | None = None
        for family, kind, proto, _, addr in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                code = sock.connect_ex(addr)
                while code in _IN_PROGRESS:
                    if watched.reason or watched.cancelled():
                        raise _Stopped("cancelled")
                    left = end - time.monotonic()
                    if left <= 0:
                        raise TimeoutError("connect timed out")
                    _, writable, _ = select.select([], [sock], [], min(left, 0.02))
                    if writable:
                        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        break
                if code:
                    raise OSError(code, _strerror(code))
                sock.setblocking(True)
                sock.settimeout(timeout)
                return sock
            except (OSError, _Stopped) as exc:
                sock.close()
                if isinstance(exc, (_Stopped, TimeoutError)):
                    raise
                error = exc
        raise error or OSError("no address")

    return create


_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK})


def _strerror(code: int) -> str:
    return os.strerror(code)


class _Stopped(Exception):
    """Connecting was abandoned because the call was cancelled."""


class Response:
    """A response being read; iterate `lines()`, then `close()` (or use it as a context)."""

    def __init__(
        self, pool: Pool, conn: http.client.HTTPConnection, raw: http.client.HTTPResponse
    ) -> None:
        self.pool = pool
        self.conn = conn
        self.raw = raw
        self.status = raw.status
        self.content_type = (raw.getheader("Content-Type") or "").lower()
        self._watched: _Watched | None = None
        self._handle = 0
        self.complete = False

    def set_deadline(self, deadline: float) -> None:
        """Move this response's deadline (the engine's prompt and predict budgets)."""
        if self._watched is not None:
            self._watched.deadline = deadline

    def lines(self) -> Iterator[bytes]:
        """The body line by line (without line ends), until its end; EngineError when the
        call is cancelled, runs past its deadline or the connection breaks."""
        while True:
            try:
                line = self.raw.readline(1 << 20)
            except (http.client.IncompleteRead, OSError, ValueError) as exc:
                raise self._broken(exc) from None
            if not line:
                if self._watched is not None and self._watched.reason:
                    raise self._broken(None)
                if self.raw.length not in (None, 0) or not self.raw.isclosed():
                    raise self._broken(None)
                self.complete = True
                return
            yield line.rstrip(b"\r\n")

    def read(self, limit: int = MAX_ERROR_BODY) -> bytes:
        try:
            data = self.raw.read(limit)
        except (http.client.IncompleteRead, OSError, ValueError) as exc:
            raise self._broken(exc) from None
        if self._watched is not None and self._watched.reason:
            raise self._broken(None)
        self.complete = self.raw.isclosed()
        return data

    def _broken(self, exc: BaseException | None) -> EngineError:
        reason = self._watched.reason if self._watched else ""
        if reason == "cancelled":
            return EngineError("cancelled", "cancelled")
        if reason == "deadline":
            return EngineError("deadline", "deadline")
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return self.pool.timeout_error()
        return EngineError(
            "protocol",
            f"{self.pool.endpoint.shown} closed the connection in the middle of a reply",
        )

    def close(self) -> None:
        """Done with the response: a wholly read one leaves its connection for the next
        request; otherwise the connection is closed, which also stops the engine's task."""
        if self._handle:
            self.pool.watchdog.unwatch(self._handle)
            self._handle = 0
        reusable = self.complete and not self.raw.will_close
        if self._watched is not None and self._watched.reason:
            reusable = False
        self.pool.release(self.conn, reusable)

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Pool:
    """Keep-alive connections to one engine, and the requests sent over them."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        headers: dict[str, str] | None = None,
        secret: str = "",
        ca_file: str = "",
        connect_timeout_s: float = 3.0,
        request_timeout_s: float = 30.0,
        retries: int = 2,
        backoff_s: float = 0.25,
    ) -> None:
        self.endpoint = endpoint
        self.headers = dict(headers or {})
        if secret:
            self.headers["Authorization"] = f"Bearer {secret}"
        self._secret = secret
        self.ca_file = ca_file
        self._tls = tls_context(ca_file) if endpoint.scheme == "https" else None
        self.connect_timeout_s = connect_timeout_s
        self.request_timeout_s = request_timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.watchdog = Watchdog()
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._warming = False
        self.connects = 0  # connections opened (for tests and the doctor)
        self.requests = 0  # requests sent, retries included

    # -- connections ------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        e = self.endpoint
        if self._tls is not None:
            return http.client.HTTPSConnection(
                e.host, e.port, timeout=self.connect_timeout_s, context=self._tls
            )
        return http.client.HTTPConnection(e.host, e.port, timeout=self.connect_timeout_s)

    def _connect(self, watched: _Watched) -> http.client.HTTPConnection:
        conn = self._connection()
        conn._create_connection = _connector(watched)  # type: ignore[attr-defined]
        try:
            conn.connect()
        except _Stopped:
            conn.close()
            raise EngineError("cancelled", "cancelled") from None
        except Exception as exc:
            conn.close()
            raise self._connect_error(exc) from None
        self.connects += 1
        # Past the handshake, the watchdog owns the deadlines; the socket's own timeout is
        # only a backstop.
        if conn.sock is not None:
            conn.sock.settimeout(self.request_timeout_s + 5.0)
        return conn

    def _take(self) -> tuple[http.client.HTTPConnection | None, bool]:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if _alive(conn):
                    return conn, True
                conn.close()
        return None, False

    def release(self, conn: http.client.HTTPConnection, reusable: bool) -> None:
        if reusable and conn.sock is not None:
            with self._lock:
                if len(self._idle) < MAX_IDLE:
                    self._idle.append(conn)
                    return
        conn.close()
        self.warm()

    def warm(self) -> None:
        """Open a spare connection in the background when none is idle (a stream closed
        early cannot be reused; the next keystroke should not pay the handshake)."""
        with self._lock:
            if self._idle or self._warming:
                return
            self._warming = True

        def connect() -> None:
            try:
                watched = _Watched(lambda: False, time.monotonic() + self.connect_timeout_s)
                conn = self._connect(watched)
                self.release(conn, True)
            except EngineError as exc:
                log.debug("no spare connection: %s", exc)
            finally:
                with self._lock:
                    self._warming = False

        threading.Thread(target=connect, name="airgap-remote-warm", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- requests ---------------------------------------------------------------------------

    def open(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        cancelled: IsCancelled | None = None,
        deadline: float | None = None,
        accept: str = "application/json",
    ) -> Response:
        """Send a request and return its response once the status line says success (2xx);
        EngineError otherwise. Connect errors, 429 and 5xx are retried with backoff while
        attempts and time are left."""
        is_cancelled = cancelled or (lambda: False)
        end = deadline if deadline is not None else time.monotonic() + self.request_timeout_s
        payload = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, "Accept": accept, "User-Agent": "airgap-lsp"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            try:
                return self._attempt(method, path, payload, headers, is_cancelled, end)
            except EngineError as exc:
                left = end - time.monotonic()
                if exc.kind not in RETRYABLE or attempt >= self.retries or left <= 0:
                    raise
                pause = self.backoff_s * (2**attempt) * random.uniform(0.8, 1.2)
                if exc.retry_after is not None:
                    pause = max(pause, min(exc.retry_after, 5.0))
                if pause >= left:
                    raise
                log.info("%s; retrying in %.2f s", exc, pause)
                attempt += 1
                stop = time.monotonic() + pause
                while time.monotonic() < stop:
                    if is_cancelled():
                        raise EngineError("cancelled", "cancelled") from None
                    time.sleep(min(0.02, max(0.0, stop - time.monotonic())))

    def _attempt(
        self,
        method: str,
        path: str,
        payload: bytes | None,
        headers: dict[str, str],
        cancelled: IsCancelled,
        end: float,
    ) -> Response:
        if cancelled():
            raise EngineError("cancelled", "cancelled")
        watched = _Watched(cancelled, end)
        handle = self.watchdog.watch(watched)
        try:
            for fresh in (False, True):
                conn, reused = (None, False) if fresh else self._take()
                if conn is None:
                    conn = self._connect(watched)
                watched.sock = conn.sock
                if watched.reason:  # stopped before the socket was known to the watchdog
                    conn.close()
                    raise self._stopped(watched)
                try:
                    self.requests += 1
                    conn.request(method, self.endpoint.base + path, payload, headers)
                    raw = conn.getresponse()
                except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError) as exc:
                    conn.close()
                    if watched.reason:
                        raise self._stopped(watched) from None
                    if reused:  # the server closed an idle connection: try a fresh one
                        continue
                    raise self._send_error(exc) from None
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    conn.close()
                    if watched.reason:
                        raise self._stopped(watched) from None
                    raise self._send_error(exc) from None
                response = Response(self, conn, raw)
                response._watched, response._handle = watched, handle
                if 200 <= raw.status < 300:
                    handle = 0  # the response unwatches itself when closed
                    return response
                try:
                    raise self._status_error(response)
                finally:
                    response._handle = 0
                    response.close()
            raise EngineError("unreachable", f"{self.endpoint.shown} keeps closing connections")
        finally:
            if handle:
                self.watchdog.unwatch(handle)

    def json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        cancelled: IsCancelled | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        """A whole JSON reply."""
        seconds = timeout_s or self.request_timeout_s
        deadline = time.monotonic() + seconds
        try:
            with self.open(method, path, body, cancelled=cancelled, deadline=deadline) as response:
                data = response.read(16 << 20)
                return self.parse_json(data, response.content_type)
        except EngineError as exc:
            if exc.kind == "deadline":
                raise self.timeout_error(seconds) from None
            raise

    def parse_json(self, data: bytes, content_type: str = "") -> Any:
        if "html" in content_type or data.lstrip()[:1] == b"<":
            raise self.html_error()
        try:
            return json.loads(data)
        except ValueError:
            raise EngineError(
                "protocol",
                f"{self.endpoint.shown} sent a reply that is not JSON: {self.excerpt(data)}",
            ) from None

    # -- messages ---------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        return text.replace(self._secret, "[API key]") if self._secret else text

    def excerpt(self, data: bytes, limit: int = 120) -> str:
        text = " ".join(data.decode("utf-8", "replace").split())
        text = self.scrub(text)
        return repr(text if len(text) <= limit else text[: limit - 3] + "...")

    def timeout_error(self, seconds: float | None = None) -> EngineError:
        ms = round((seconds or self.request_timeout_s) * 1000)
        return EngineError(
            "timeout",
            f"{self.endpoint.shown} did not answer within {ms} ms (models.requestTimeoutMs)",
        )

    def html_error(self) -> EngineError:
        return EngineError(
            "protocol",
            f"{self.endpoint.shown} answered with an HTML page instead of the engine's API: is "
            "models.endpoint the engine's address (and not a proxy's login page)?",
        )

    @staticmethod
    def _stopped(watched: _Watched) -> EngineError:
        kind = "cancelled" if watched.reason == "cancelled" else "deadline"
        return EngineError(kind, kind)

    def _connect_error(self, exc: BaseException) -> EngineError:
        where = self.endpoint.shown
        if isinstance(exc, ssl.SSLCertVerificationError):
            hint = (
                f"it is not signed by the CA in models.caFile ({self.ca_file})"
                if self.ca_file
                else "if your organisation uses a private CA, set models.caFile to its "
                "certificate (PEM)"
            )
            detail = exc.verify_message or exc.reason or "verification failed"
            return EngineError(
                "tls", f"the TLS certificate of {where} is not trusted ({detail}); {hint}"
            )
        if isinstance(exc, ssl.SSLError):
            return EngineError("tls", f"TLS with {where} failed: {exc.reason or exc}")
        if isinstance(exc, (TimeoutError, socket.timeout)):
            ms = round(self.connect_timeout_s * 1000)
            return EngineError(
                "unreachable",
                f"{where} did not accept a connection within {ms} ms (models.connectTimeoutMs)",
            )
        if isinstance(exc, socket.gaierror):
            return EngineError("unreachable", f"cannot resolve the host of {where}")
        if isinstance(exc, ConnectionRefusedError):
            return EngineError(
                "unreachable", f"{where} refused the connection (is the engine running?)"
            )
        if isinstance(exc, OSError):
            reason = exc.strerror or type(exc).__name__
            return EngineError("unreachable", f"cannot connect to {where}: {reason}")
        return EngineError("unreachable", f"cannot connect to {where}: {type(exc).__name__}")

    def _send_error(self, exc: BaseException) -> EngineError:
        where = self.endpoint.shown
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return self.timeout_error()
        if isinstance(exc, (http.client.RemoteDisconnected, ConnectionError)):
            return EngineError("server", f"{where} closed the connection without answering")
        if isinstance(exc, http.client.BadStatusLine):
            return EngineError("protocol", f"{where} does not speak HTTP (a wrong port?)")
        return EngineError("protocol", f"{where} sent a broken reply ({type(exc).__name__})")

    def _status_error(self, response: Response) -> EngineError:
        status = response.status
        where = self.endpoint.shown
        try:
            body = response.read()
        except EngineError:
            body = b""
        detail = self._error_detail(body, response.content_type)
        if status in (401, 403):
            if not self._secret:
                text = (
                    f"{where} requires an API key (HTTP {status}): set models.apiKeyEnv or "
                    "models.apiKeyFile"
                )
            else:
                text = (
                    f"{where} refused the API key (HTTP {status}): check the key that "
                    "models.apiKeyEnv / models.apiKeyFile name"
                )
            return EngineError("auth", text, status)
        if status == 429:
            error = EngineError(
                "rate_limited", f"{where} is limiting requests (HTTP 429){detail}", status
            )
            error.retry_after = _retry_after(response.raw.getheader("Retry-After"))
            return error
        if status >= 500:
            error = EngineError("server", f"{where} failed (HTTP {status}){detail}", status)
            error.retry_after = _retry_after(response.raw.getheader("Retry-After"))
            return error
        if status == 404:
            return EngineError(
                "not_found",
                f"{where} has no such endpoint or model (HTTP 404){detail}: are models.backend "
                "and models.model right for this engine?",
                status,
            )
        return EngineError(
            "bad_request", f"{where} rejected the request (HTTP {status}){detail}", status
        )

    def _error_detail(self, body: bytes, content_type: str) -> str:
        if not body.strip():
            return ""
        if "html" in content_type or body.lstrip()[:1] == b"<":
            return ": an HTML page (a proxy in between?)"
        try:
            data = json.loads(body)
        except ValueError:
            return f": {self.excerpt(body)}"
        message = error_message(data)
        return f": {self.excerpt(message.encode())}" if message else f": {self.excerpt(body)}"


def error_message(data: Any) -> str:
    """The message inside the error shapes engines send: {"error": {"message"}} (OpenAI,
    vLLM, llama-server), {"message"} (SGLang, older vLLM), {"error": "..."} (Ollama)."""
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        if isinstance(data.get("message"), str):
            return data["message"]
        if isinstance(data.get("detail"), str):
            return data["detail"]
    return ""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _alive(conn: http.client.HTTPConnection) -> bool:
    """An idle connection the server has not closed. Readable means closed (end-of-file) or,
    with TLS 1.3, the session tickets the server sends after the handshake: those are read
    here without blocking, and only application data or an end counts as dead."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return True
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            if isinstance(sock, ssl.SSLSocket):
                sock.recv(1)
            else:
                sock.recv(1, socket.MSG_PEEK)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        finally:
            sock.settimeout(timeout)
        return False  # an end, or bytes nobody asked for
    except (OSError, ValueError):
        return False
