"""Local HTTP doubles of the engines that cannot run here (vLLM, SGLang, Ollama) and of engines
that misbehave.

`EngineDouble` is a threaded `http.server` on 127.0.0.1 (optionally TLS) that validates every
completion request against the engine's documented schema (vLLM answers `suffix` with 400, as
its OpenAI server does; required fields and types are checked; fields an engine would ignore
are recorded) and streams replies in the shapes those engines send (recorded from their
sources: vLLM's and SGLang's `text_completion` chunks and `data: [DONE]`, Ollama's NDJSON with
`done_reason` and nanosecond durations, llama-server's SSE with `stop`/`timings`). A
`behaviour` turns it into a bad engine: silent, streaming forever, HTML, closing mid-stream,
or answering a scripted sequence of statuses.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_FIELDS = {
    "model", "prompt", "suffix", "max_tokens", "temperature", "top_p", "n", "stream",
    "stream_options", "logprobs", "echo", "stop", "presence_penalty", "frequency_penalty",
    "best_of", "logit_bias", "seed", "user",
}  # fmt: skip
# Sampling extensions both vLLM and SGLang accept beyond OpenAI's schema.
OPENAI_EXTENSIONS = {"top_k", "min_p", "repetition_penalty", "ignore_eos", "skip_special_tokens"}
OLLAMA_FIELDS = {
    "model", "prompt", "suffix", "system", "template", "context", "stream", "raw", "format",
    "images", "options", "keep_alive", "think",
}  # fmt: skip
OLLAMA_OPTIONS = {
    "num_predict", "temperature", "top_k", "top_p", "min_p", "num_ctx", "seed", "stop",
    "repeat_penalty", "repeat_last_n", "num_keep", "typical_p", "presence_penalty",
    "frequency_penalty",
}  # fmt: skip
LLAMA_FIELDS = {
    "prompt", "n_predict", "temperature", "top_k", "top_p", "min_p", "stream", "cache_prompt",
    "id_slot", "return_tokens", "timings_per_token", "t_max_predict_ms", "grammar",
    "logit_bias", "samplers", "stop", "n_indent", "n_probs", "seed",
}  # fmt: skip


class SchemaError(Exception):
    pass


def _is_token_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in v)


def check_openai(body: Any, served: str) -> list[str]:
    """vLLM's/SGLang's CompletionRequest: what they reject (SchemaError) and what they would
    ignore (returned)."""
    if not isinstance(body, dict):
        raise SchemaError("the body must be a JSON object")
    if "suffix" in body and body["suffix"] is not None:
        raise SchemaError("suffix is not currently supported")  # vLLM's own message
    for name in ("model", "prompt"):
        if name not in body:
            raise SchemaError(f"Field required: {name}")
    if body["model"] != served:
        raise LookupError(f"The model `{body['model']}` does not exist.")
    prompt = body["prompt"]
    if not (isinstance(prompt, str) or _is_token_list(prompt)):
        raise SchemaError("prompt must be a string or a list of token ids")
    if isinstance(prompt, list) and not prompt:
        raise SchemaError("prompt cannot be empty")
    max_tokens = body.get("max_tokens", 16)
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise SchemaError("max_tokens must be at least 1")
    temperature = body.get("temperature", 1.0)
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise SchemaError("temperature must be a non-negative number")
    if not isinstance(body.get("stream", False), bool):
        raise SchemaError("stream must be a boolean")
    if "stream_options" in body:
        if not body.get("stream"):
            raise SchemaError("Stream options can only be defined when `stream=True`.")
        if not isinstance(body["stream_options"], dict):
            raise SchemaError("stream_options must be an object")
    bias = body.get("logit_bias")
    if bias is not None and (
        not isinstance(bias, dict)
        or not all(isinstance(v, (int, float)) and -100 <= v <= 100 for v in bias.values())
    ):
        raise SchemaError("logit_bias values must be numbers between -100 and 100")
    return sorted(set(body) - OPENAI_FIELDS - OPENAI_EXTENSIONS)


def check_ollama(body: Any, models: Sequence[str]) -> list[str]:
    if not isinstance(body, dict):
        raise SchemaError("invalid request body")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise SchemaError("model is required")
    if body["model"] not in models:
        raise LookupError(f'model "{body["model"]}" not found, try pulling it first')
    if not isinstance(body.get("prompt", ""), str):
        raise SchemaError("prompt must be a string")
    for name in ("raw", "stream"):
        if name in body and not isinstance(body[name], bool):
            raise SchemaError(f"{name} must be a boolean")
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise SchemaError("options must be an object")
    for name in ("num_predict", "top_k", "num_ctx"):
        if name in options and not isinstance(options[name], int):
            raise SchemaError(f"options.{name} must be an integer")
    ignored = sorted(set(body) - OLLAMA_FIELDS)
    ignored += [f"options.{k}" for k in sorted(set(options) - OLLAMA_OPTIONS)]
    return ignored


def check_llama(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise SchemaError("the body must be a JSON object")
    prompt = body.get("prompt")
    if not (isinstance(prompt, str) or _is_token_list(prompt)):
        raise SchemaError('"prompt" must be a string or a list of tokens')
    n = body.get("n_predict", -1)
    if not isinstance(n, int) or n < -1:
        raise SchemaError("n_predict must be an integer >= -1")
    return sorted(set(body) - LLAMA_FIELDS)


class EngineDouble:
    """`with EngineDouble("vllm", pieces=[...]) as d: d.url ...`

    kind: "vllm" | "sglang" | "ollama" | "llama-server".
    behaviour: "normal" | "silent" | "forever" | "html" | "cut" (closes after two events) |
    "stall" (falls silent after two events, the connection left open).
    statuses: HTTP statuses answered first, one per completion request (e.g. [429, 200]).
    """

    def __init__(
        self,
        kind: str,
        *,
        pieces: Sequence[str] = ("return a + b\n", "    # done\n"),
        served: str = "qwen2.5-coder",
        api_key: str | None = None,
        behaviour: str = "normal",
        statuses: Sequence[int] = (),
        tokenize: Callable[[str], list[int]] | None = None,
        delay_s: float = 0.005,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.kind = kind
        self.pieces = list(pieces)
        self.served = served
        self.api_key = api_key
        self.behaviour = behaviour
        self.statuses = list(statuses)
        self.tokenize = tokenize
        self.delay_s = delay_s
        self.requests: list[tuple[str, Any]] = []  # (path, body) of every request
        self.ignored: list[str] = []  # fields the engine would have ignored
        self.rejected: list[str] = []  # schema errors answered with 400
        self.disconnected = threading.Event()  # a client closed a stream we were writing
        self.connections = 0
        self._tls = tls
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.double = self  # type: ignore[attr-defined]
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def completions(self) -> list[Any]:
        paths = ("/v1/completions", "/api/generate", "/completion")
        return [body for path, body in self.requests if path in paths]

    def __enter__(self) -> EngineDouble:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up are part of the tests

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.double.connections += 1  # type: ignore[attr-defined]
        return sock, addr


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as the engines

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def d(self) -> EngineDouble:
        return self.server.double  # type: ignore[attr-defined]

    # -- plumbing ---------------------------------------------------------------------------

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str) -> None:
        kind = self.d.kind
        if kind == "ollama":
            self._json(status, {"error": message})
        elif kind == "sglang":
            self._json(
                status,
                {"object": "error", "message": message, "type": "BadRequestError", "code": status},
            )
        else:
            self._json(
                status,
                {"error": {"message": message, "type": "BadRequestError", "code": status}},
            )

    def _chunk(self, data: bytes) -> bool:
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
            return True
        except OSError:
            self.d.disconnected.set()
            return False

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.d.disconnected.set()

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _authorized(self) -> bool:
        if self.d.api_key is None:
            return True
        if self.headers.get("Authorization") == f"Bearer {self.d.api_key}":
            return True
        self._error(401, "Unauthorized")
        return False

    # -- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        d = self.d
        d.requests.append((self.path, None))
        if self.path in ("/health", "/api/version"):
            if d.kind == "ollama":
                self._json(200, {"version": "0.12.3"})
            else:
                self._json(200, {"status": "ok"})
            return
        if not self._authorized():
            return
        if self.path == "/v1/models" and d.kind != "ollama":
            self._json(200, {"object": "list", "data": [{"id": d.served, "object": "model"}]})
        elif self.path == "/api/tags" and d.kind == "ollama":
            self._json(200, {"models": [{"name": d.served, "model": d.served}]})
        else:
            self._error(404, "Not Found")

    def do_POST(self) -> None:
        d = self.d
        body = self._body()
        d.requests.append((self.path, body))
        if not self._authorized():
            return
        if self.path in ("/tokenize", "/v1/tokenize"):
            self._tokenize(body)
            return
        routes = {
            "vllm": "/v1/completions",
            "sglang": "/v1/completions",
            "ollama": "/api/generate",
            "llama-server": "/completion",
        }
        if self.path != routes[d.kind]:
            self._error(404, "Not Found")
            return
        if d.statuses:
            status = d.statuses.pop(0)
            if status != 200:
                self._error(status, f"status {status}")
                return
        try:
            if d.kind in ("vllm", "sglang"):
                d.ignored += check_openai(body, d.served)
            elif d.kind == "ollama":
                d.ignored += check_ollama(body, [d.served])
            else:
                d.ignored += check_llama(body)
        except SchemaError as exc:
            d.rejected.append(str(exc))
            self._error(400, str(exc))
            return
        except LookupError as exc:
            self._error(404, str(exc.args[0]))
            return
        self._complete(body)

    def _tokenize(self, body: Any) -> None:
        d = self.d
        if d.kind == "ollama" or d.tokenize is None:
            self._error(404, "Not Found")
            return
        if d.kind == "llama-server":
            self._json(200, {"tokens": d.tokenize(body["content"])})
        elif d.kind == "vllm" and self.path == "/tokenize":
            tokens = d.tokenize(body["prompt"])
            self._json(200, {"count": len(tokens), "max_model_len": 32768, "tokens": tokens})
        elif d.kind == "sglang" and self.path == "/v1/tokenize":
            tokens = d.tokenize(body["prompt"])
            self._json(200, {"tokens": tokens, "count": len(tokens), "max_model_len": 32768})
        else:
            self._error(404, "Not Found")

    def _complete(self, body: dict[str, Any]) -> None:
        d = self.d
        behaviour = d.behaviour
        if behaviour == "silent":  # read the request, never answer (until the client leaves)
            while not self._client_gone():
                time.sleep(0.01)
            d.disconnected.set()
            return
        if behaviour == "html":
            page = b"<!DOCTYPE html><html><body>Please sign in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        ndjson = d.kind == "ollama"
        self._start_stream("application/x-ndjson" if ndjson else "text/event-stream")
        limit = (
            body.get("max_tokens")
            or body.get("n_predict")
            or (body.get("options", {}).get("num_predict"))
        )
        sent = 0
        pieces = list(d.pieces)
        i = 0
        while True:
            if behaviour == "forever":
                piece = "x = 1\n"
            elif i < len(pieces):
                piece = pieces[i]
            else:
                break
            i += 1
            if behaviour == "stall" and i > 2:
                while not self._client_gone():
                    time.sleep(0.01)
                d.disconnected.set()
                return
            if behaviour == "cut" and i > 2:
                # Gone mid-stream: no terminating chunk, the socket just closes.
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if not self._chunk(self._event(piece, sent, done=False)):
                return
            sent += 1
            if behaviour != "forever" and limit and sent >= limit:
                break
            time.sleep(d.delay_s)
        finish = "length" if limit and sent >= limit else "stop"
        if not self._chunk(self._event("", sent, done=True, finish=finish)):
            return
        if d.kind in ("vllm", "sglang"):
            usage = {"prompt_tokens": 10, "completion_tokens": sent, "total_tokens": 10 + sent}
            if (body.get("stream_options") or {}).get("include_usage"):
                self._chunk(self._sse({**self._openai_head(), "choices": [], "usage": usage}))
            self._chunk(b"data: [DONE]\n\n")
        self._end_stream()

    def _client_gone(self) -> bool:
        import select

        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    @staticmethod
    def _sse(data: Any) -> bytes:
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    def _openai_head(self) -> dict[str, Any]:
        return {
            "id": "cmpl-1f0c",
            "object": "text_completion",
            "created": 1760000000,
            "model": self.d.served,
        }

    def _event(self, text: str, sent: int, *, done: bool, finish: str = "stop") -> bytes:
        d = self.d
        if d.kind in ("vllm", "sglang"):
            choice: dict[str, Any] = {
                "index": 0,
                "text": text,
                "logprobs": None,
                "finish_reason": finish if done else None,
                "stop_reason": None,
            }
            event = {**self._openai_head(), "choices": [choice]}
            if d.kind == "sglang":
                choice.pop("stop_reason")
                choice["matched_stop"] = 151643 if done and finish == "stop" else None
                event["usage"] = None
            return self._sse(event)
        if d.kind == "ollama":
            event = {
                "model": d.served,
                "created_at": "2025-10-01T12:00:00.000000Z",
                "response": text,
                "done": done,
            }
            if done:
                event |= {
                    "done_reason": "length" if finish == "length" else "stop",
                    "total_duration": 412_000_000,
                    "load_duration": 9_000_000,
                    "prompt_eval_count": 120,
                    "prompt_eval_duration": 60_000_000,
                    "eval_count": sent,
                    "eval_duration": 300_000_000,
                }
            return json.dumps(event).encode() + b"\n"
        tokens = d.tokenize(text) if d.tokenize and text else []
        event = {"index": 0, "content": text, "tokens": tokens, "stop": done, "id_slot": 0}
        event["tokens_predicted"] = sent
        if done:
            event["stop_type"] = "limit" if finish == "length" else "eos"
            event["timings"] = {"cache_n": 0, "prompt_n": 120, "prompt_ms": 60.0}
        return self._sse(event)
