"""What each remote engine's completion API looks like on the wire.

Owns, per engine family, the streamed completion request (greedy, our own prompt, no `suffix`),
the parsing of its streamed events into `Chunk`s, and the paths of its health, model list and
tokenizer endpoints:

- llama-server: `POST /completion` with the prompt as token ids, `cache_prompt`, `id_slot`,
  `return_tokens`, `timings_per_token`; SSE (`data: {...}`, `: ping` comments);
- vLLM and SGLang (`openai`): `POST /v1/completions` with the prompt as token ids, `model`,
  `max_tokens`, `temperature: 0`; SSE ending with `data: [DONE]`;
- Ollama: `POST /api/generate` with `raw: true` and the prompt as text (Ollama tokenizes
  itself), `options.num_predict`; NDJSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airgap_lsp.completion.remote.http import EngineError, error_message


@dataclass(frozen=True, slots=True)
class Timings:
    prompt_n: int  # prompt tokens the engine evaluated
    prompt_ms: float
    cache_n: int | None  # prompt tokens it had cached (None: not said)


@dataclass(slots=True)
class Chunk:
    text: str = ""
    tokens: list[int] | None = None  # the generated token ids, when the engine says them
    done: bool = False  # the engine finished its reply
    finish: str = ""  # why: "eog" or "max_tokens" ("" while going on)
    timings: Timings | None = None
    slot: int | None = None


@dataclass(frozen=True, slots=True)
class Request:
    prompt: list[int] | str
    max_tokens: int
    max_predict_ms: float | None = None
    slot: int | None = None  # llama-server slot that served this document before
    grammar: str = ""  # GBNF the output must follow (llama-server)
    banned: frozenset[int] = frozenset()  # token ids the output may not contain
    model: str = ""  # the served name
    context_size: int = 0  # Ollama's num_ctx


DONE: dict[str, Any] = {"[DONE]": True}  # the SSE end marker, as an event


class Dialect:
    name = ""
    path = ""
    accept = "text/event-stream"
    sse = True
    text_prompt = False  # the prompt goes as text (the engine tokenizes it itself)
    health_path = "/health"
    models_path = "/v1/models"
    tokenize_paths: tuple[str, ...] = ()
    can_ban = True

    def body(self, r: Request) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, event: dict[str, Any]) -> Chunk:
        raise NotImplementedError

    def tokenize_body(self, text: str, model: str) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def parse_tokens(data: Any) -> list[int]:
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            raise ValueError("no token list")
        out = []
        for t in tokens:
            # llama-server with `with_pieces` answers objects; we never ask for them.
            value = t.get("id") if isinstance(t, dict) else t
            if not isinstance(value, int):
                raise ValueError("a token is not an integer")
            out.append(value)
        return out

    @staticmethod
    def served_models(data: Any) -> list[str]:
        """Model names in an OpenAI-style `/v1/models` reply."""
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return []
        return [str(m.get("id")) for m in items if isinstance(m, dict) and m.get("id")]


def _raise_stream_error(event: dict[str, Any], engine: str) -> None:
    if "error" in event:
        message = error_message(event) or json.dumps(event["error"])[:200]
        raise EngineError("server", f"{engine} reported an error: {message}")


class LlamaServer(Dialect):
    name = "llama-server"
    path = "/completion"
    tokenize_paths = ("/tokenize",)

    def body(self, r: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": r.prompt,
            "n_predict": r.max_tokens,
            "temperature": 0,
            "top_k": 1,
            "stream": True,
            "cache_prompt": True,
            "return_tokens": True,
            "timings_per_token": True,
        }
        if r.slot is not None:
            body["id_slot"] = r.slot
        if r.max_predict_ms:
            body["t_max_predict_ms"] = round(r.max_predict_ms)
        if r.grammar:
            body["grammar"] = r.grammar
        if r.banned:
            body["logit_bias"] = [[t, False] for t in sorted(r.banned)]
        return body

    def parse(self, event: dict[str, Any]) -> Chunk:
        _raise_stream_error(event, self.name)
        content = event.get("content", "")
        tokens = event.get("tokens")
        chunk = Chunk(
            text=content if isinstance(content, str) else "",
            tokens=[t for t in tokens if isinstance(t, int)] if isinstance(tokens, list) else None,
            slot=event.get("id_slot") if isinstance(event.get("id_slot"), int) else None,
        )
        t = event.get("timings")
        if isinstance(t, dict) and isinstance(t.get("prompt_n"), int):
            cache = t.get("cache_n")
            chunk.timings = Timings(
                t["prompt_n"],
                float(t.get("prompt_ms") or 0.0),
                cache if isinstance(cache, int) else None,
            )
        if event.get("stop") is True:
            chunk.done = True
            chunk.finish = "max_tokens" if event.get("stop_type") == "limit" else "eog"
        return chunk

    def tokenize_body(self, text: str, model: str) -> dict[str, Any]:
        return {"content": text, "add_special": False, "parse_special": True}


class OpenAI(Dialect):
    """vLLM and SGLang's OpenAI-compatible completions. `suffix` is never sent: vLLM answers
    it with 400 and SGLang ignores it; the FIM prompt is ours, in `prompt`."""

    name = "openai"
    path = "/v1/completions"
    # vLLM serves /tokenize; SGLang /v1/tokenize (newer vLLM too).
    tokenize_paths = ("/tokenize", "/v1/tokenize")

    def body(self, r: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": r.model,
            "prompt": r.prompt,
            "max_tokens": r.max_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if r.banned:
            body["logit_bias"] = {str(t): -100 for t in sorted(r.banned)}
        return body

    def parse(self, event: dict[str, Any]) -> Chunk:
        if event is DONE:
            return Chunk(done=True)
        _raise_stream_error(event, "the engine")
        if event.get("object") == "error":  # SGLang's and older vLLM's error shape
            raise EngineError("server", f"the engine reported an error: {error_message(event)}")
        chunk = Chunk()
        choices = event.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            text = choice.get("text")
            chunk.text = text if isinstance(text, str) else ""
            finish = choice.get("finish_reason")
            if finish:
                chunk.done = True
                chunk.finish = "max_tokens" if finish == "length" else "eog"
        t = event.get("timings")  # llama-server's OpenAI endpoint adds its timings
        if isinstance(t, dict) and isinstance(t.get("prompt_n"), int):
            chunk.timings = Timings(t["prompt_n"], float(t.get("prompt_ms") or 0.0), None)
        return chunk

    def tokenize_body(self, text: str, model: str) -> dict[str, Any]:
        return {"model": model, "prompt": text, "add_special_tokens": False}


class Ollama(Dialect):
    name = "ollama"
    path = "/api/generate"
    accept = "application/x-ndjson"
    sse = False
    text_prompt = True
    health_path = "/api/version"
    models_path = "/api/tags"
    can_ban = False

    def body(self, r: Request) -> dict[str, Any]:
        options: dict[str, Any] = {"num_predict": r.max_tokens, "temperature": 0, "top_k": 1}
        if r.context_size:
            options["num_ctx"] = r.context_size  # Ollama's own default would cut our prompt
        return {
            "model": r.model,
            "prompt": r.prompt,
            "raw": True,
            "stream": True,
            "options": options,
            "keep_alive": "30m",
        }

    def parse(self, event: dict[str, Any]) -> Chunk:
        _raise_stream_error(event, self.name)
        text = event.get("response")
        chunk = Chunk(text=text if isinstance(text, str) else "")
        if event.get("done") is True:
            chunk.done = True
            chunk.finish = "max_tokens" if event.get("done_reason") == "length" else "eog"
            n, ns = event.get("prompt_eval_count"), event.get("prompt_eval_duration")
            if isinstance(n, int) and isinstance(ns, (int, float)):
                chunk.timings = Timings(n, ns / 1e6, None)
        return chunk

    @staticmethod
    def served_models(data: Any) -> list[str]:
        items = data.get("models") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return []
        names = []
        for m in items:
            if isinstance(m, dict):
                names += [str(m[k]) for k in ("name", "model") if m.get(k)]
        return names


DIALECTS: dict[str, type[Dialect]] = {
    "llama-server": LlamaServer,
    "openai": OpenAI,
    "ollama": Ollama,
}


def dialect_for(backend: str) -> Dialect:
    return DIALECTS[backend]()


def heal_grammar(heal: str) -> str:
    """GBNF for an output that spells `heal` first (token healing) and goes on freely."""
    out = []
    for ch in heal:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return f'root ::= "{"".join(out)}" .*'
