"""The latency suite's transport to a llama.cpp-style `/infill` HTTP endpoint (e.g. llama-server).

Owns building the request the way llama.vim does (the lines before the cursor's line as
`input_prefix`, the cursor line up to the cursor as `prompt`, the rest as `input_suffix`; at most
256 lines before and 64 after; `n_indent`, `t_max_prompt_ms`, `t_max_predict_ms`, top-k/top-p
with the `infill` sampler, `cache_prompt`) and turning the answer into a suggestion as llama.vim
renders it. Differences from llama.vim, for a like-for-like comparison with the LSP client:
greedy decoding (llama.vim's sampler chain ending in `temperature` 0), no ring-buffer extra
context in completions (llama.vim evicts ring chunks similar to the text around the cursor, and
the only chunk here is that text; in the realistic scenario its warm-up request is sent as
llama.vim sends it, see `warm_body`), no `max_line_suffix` gate, and for single-line tasks the
stop string "\\n" (llama.vim's `stop_strings` option) so the server stops at the end of the line
as airgap-lsp does.

Cancellation is abandoning: each request runs on its own thread and a superseded answer is
dropped. Like llama.vim, which kills its curl job, the connection is closed too, so a server
that notices disconnects (llama-server does) stops computing the abandoned request.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import threading
import time
import urllib.parse
from typing import Any

from benchmarks.latency_session import Outcome, work_of
from benchmarks.latency_tasks import Kind

N_PREFIX_LINES = 256
N_SUFFIX_LINES = 64
N_PREDICT = 128
T_MAX_PROMPT_MS = 500
T_MAX_PREDICT_MS = 1500
RING_CHUNK_LINES = 64  # llama.vim's ring_chunk_size


def infill_body(text: str, offset: int, kind: Kind) -> dict[str, Any]:
    """The JSON llama.vim would send for a cursor at `offset` in `text`."""
    lines = text.split("\n")
    row = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    current = lines[row]
    line_prefix, line_suffix = current[:col], current[col:]
    if not current.strip():
        # llama.vim starts a whitespace-only line from its beginning.
        indent, line_prefix, line_suffix = 0, "", ""
    else:
        indent = len(line_prefix) - len(line_prefix.lstrip())
    before = lines[max(0, row - N_PREFIX_LINES) : row]
    after = lines[row + 1 : row + 1 + N_SUFFIX_LINES]
    body: dict[str, Any] = {
        "input_prefix": "\n".join(before) + "\n",
        "input_suffix": line_suffix + "\n" + "\n".join(after) + "\n",
        "input_extra": [],
        "prompt": line_prefix,
        "n_predict": N_PREDICT,
        "n_indent": indent,
        "top_k": 40,
        "top_p": 0.99,
        "temperature": 0.0,
        # llama.vim's chain; the trailing temperature 0 makes the last pick greedy.
        "samplers": ["top_k", "top_p", "infill", "temperature"],
        "stream": False,
        "cache_prompt": True,
        "t_max_prompt_ms": T_MAX_PROMPT_MS,
        "t_max_predict_ms": T_MAX_PREDICT_MS,
        "response_fields": [
            "content",
            "timings/prompt_n",
            "timings/prompt_ms",
            "timings/predicted_n",
            "timings/predicted_ms",
            "tokens_cached",
        ],
    }
    if kind == "line":
        body["stop"] = ["\n"]
    return body


def warm_body(text: str, offset: int, path: str) -> dict[str, Any]:
    """llama.vim's ring-buffer update (`s:ring_update`, every ring_update_ms in normal mode):
    the chunk it picked on entering the buffer (the lines around the cursor) sent as extra
    context with `n_predict: 0`, so the server has evaluated it before the first completion."""
    lines = text.split("\n")
    row = text.count("\n", 0, offset)
    half = RING_CHUNK_LINES // 2
    chunk = "\n".join(lines[max(0, row - half) : row + half]) + "\n"
    return {
        "input_prefix": "",
        "input_suffix": "",
        "input_extra": [{"text": chunk, "filename": path}],
        "prompt": "",
        "n_predict": 0,
        "temperature": 0.0,
        "stream": False,
        "samplers": [],
        "cache_prompt": True,
        "t_max_prompt_ms": 1,
        "t_max_predict_ms": 1,
        "response_fields": [""],
    }


def render(content: str, text: str, offset: int) -> str | None:
    """The suggestion llama.vim would show for `content` at the cursor (None when nothing)."""
    parts = content.split("\n")
    while parts and parts[-1] == "":
        parts.pop()
    if not parts:
        return None
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    current = text[line_start : line_end if line_end >= 0 else len(text)]
    col = offset - line_start
    if not current.strip():
        # The request started the line from column 0: drop the indentation already typed.
        lead = len(parts[0]) - len(parts[0].lstrip())
        parts[0] = parts[0][min(lead, col) :]
    suggestion = "\n".join(parts)
    if len(parts) == 1 and suggestion == current[col:]:
        return None  # repeats what is already after the cursor
    return suggestion if suggestion.strip() else None


class _Request:
    def __init__(self, transport: InfillTransport, text: str, offset: int, kind: Kind) -> None:
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[tuple[str | None, dict[str, Any], str | None]] = (
            self.loop.create_future()
        )
        self.abandoned = False
        self.conn: http.client.HTTPConnection | None = None
        self.transport = transport
        self.text, self.offset = text, offset
        body = json.dumps(infill_body(text, offset, kind)).encode()
        thread = threading.Thread(
            target=self._run, args=(transport.url, body, transport.timeout_s), daemon=True
        )
        transport.threads.append(thread)
        thread.start()

    def _run(self, url: str, body: bytes, timeout: float) -> None:
        parsed = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(
            parsed.hostname or "127.0.0.1", parsed.port, timeout=timeout
        )
        self.conn = conn
        try:
            if self.abandoned:
                raise ConnectionAbortedError("abandoned before sending")
            conn.request("POST", parsed.path or "/", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            raw = response.read()
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}: {raw[:200]!r}")
            data = json.loads(raw.decode("utf-8"))
            result: tuple[str | None, dict[str, Any], str | None] = (
                str(data.get("content", "")),
                data,
                None,
            )
        except (OSError, ValueError, http.client.HTTPException) as exc:
            result = (None, {}, f"{type(exc).__name__}: {exc}"[:200])
        finally:
            conn.close()
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            self.loop.call_soon_threadsafe(self._resolve, result)

    def _resolve(self, result: tuple[str | None, dict[str, Any], str | None]) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def cancel(self) -> None:
        # llama.vim kills its curl job: drop the answer and close the connection.
        self.abandoned = True
        sock = self.conn.sock if self.conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    async def outcome(self) -> Outcome:
        content, data, error = await self.future
        if self.abandoned:
            return Outcome(None, cancelled=True)
        if error is not None:
            return Outcome(None, error=error)
        row = {
            "promptTokens": data.get("timings/prompt_n"),  # evaluated now, not found cached
            "promptMs": data.get("timings/prompt_ms"),
            "generatedTokens": data.get("timings/predicted_n"),
            "predictMs": data.get("timings/predicted_ms"),
            "source": "model",
        }
        self.transport.completions.append(row)
        work = work_of(row, row["promptTokens"])
        return Outcome(render(content or "", self.text, self.offset), work=work)


class InfillTransport:
    """Requests to `url` (a `/infill` endpoint on a loopback address)."""

    abandons = True

    def __init__(self, name: str, url: str, timeout_s: float = 60.0) -> None:
        self.name = name
        self.url = url
        self.timeout_s = timeout_s
        self.threads: list[threading.Thread] = []
        self.completions: list[dict[str, Any]] = []  # timings of each answer that was shown
        self.model = url

    async def open(self, uri: str, text: str) -> None:
        return None

    async def change(self, uri: str, version: int, offset: int, inserted: str, text: str) -> None:
        return None

    def request(self, uri: str, text: str, offset: int, kind: Kind) -> _Request:
        return _Request(self, text, offset, kind)

    async def rest(self, uri: str, version: int, text: str, offset: int) -> None:
        """llama.vim's warm-up while the cursor rests in normal mode (its answer unused)."""
        path = urllib.parse.urlsplit(uri).path.rsplit("/", 1)[-1]
        body = json.dumps(warm_body(text, offset, path)).encode()
        thread = threading.Thread(target=self._post, args=(body,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _post(self, body: bytes) -> None:
        parsed = urllib.parse.urlsplit(self.url)
        conn = http.client.HTTPConnection(
            parsed.hostname or "127.0.0.1", parsed.port, timeout=self.timeout_s
        )
        try:
            conn.request("POST", parsed.path or "/", body, {"Content-Type": "application/json"})
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            pass  # a warm-up that fails costs the first request its head start, nothing else
        finally:
            conn.close()

    async def close(self, uri: str) -> None:
        # Abandoned requests may still run on the server; let them end before the next task
        # so they do not slow it down (llama.vim would have closed their connections).
        deadline = time.monotonic() + self.timeout_s
        for thread in self.threads:
            await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))
        self.threads = [t for t in self.threads if t.is_alive()]

    async def stats(self) -> dict[str, Any]:
        return {}
