"""vLLM, SGLang and Ollama (which cannot run here) through `RemoteEngine`, against local doubles
that validate each request against the engine's documented schema and stream replies in the
engine's recorded shapes; llama-server's affinity and prompt format on its double too (the real
llama-server is exercised in test_llama_server_e2e)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from airgap_lsp.completion.engine import DecodeOptions
from airgap_lsp.completion.prompt import Budget, PromptInput, fim_prompt
from airgap_lsp.completion.remote.http import EngineError, Pool, parse_endpoint
from airgap_lsp.completion.remote.tokenizer import render
from tests.remote.doubles import EngineDouble, check_openai

PIECES = ["return", " a", " +", " b", "\n", "    # done", "\n"]
LONG = [*PIECES, *["    pass\n"] * 200]  # still streaming when the client leaves


def first_line(text: str) -> int | None:
    return text.index("\n") if "\n" in text else None


def prompt_tokens(vocab: Any) -> list[int]:
    request = PromptInput("def add(a, b):\n    ", "\n\nprint(add(1, 2))\n", "m.py")
    return fim_prompt(vocab, request, Budget(256, 64, 0)).tokens


def tokenizer(vocab: Any) -> Callable[[str], list[int]]:
    return lambda text: vocab.tokenize(text, special=True)


@pytest.mark.parametrize("kind", ["vllm", "sglang"])
def test_openai_engines_get_token_ids_without_suffix_and_stream_is_cut(
    kind: str, vocab: Any, make_engine: Any
) -> None:
    with EngineDouble(kind, pieces=LONG, tokenize=tokenizer(vocab)) as double:
        connected = make_engine(double)
        assert connected.warnings == []
        engine = connected.engine
        assert not engine.text_prompts  # the probe round trip matched our tokenizer
        prompt = prompt_tokens(vocab)
        result = engine.generate("doc", prompt, DecodeOptions(max_tokens=40), stop=first_line)
        assert (result.text, result.stop_reason) == ("return a + b", "stop")
        assert result.stats.generated == 5 and result.stats.prompt_tokens == len(prompt)
        body = double.completions()[0]
        assert "suffix" not in body and body["prompt"] == prompt
        assert body["model"] == double.served and body["max_tokens"] == 40
        assert body["temperature"] == 0 and body["stream"] is True
        assert double.rejected == [] and double.ignored == []
        # The stream was closed as soon as the line was complete: the engine saw us leave.
        assert double.disconnected.wait(2.0)
        # A whole reply ([DONE] and the usage event included) leaves its connection reusable.
        connections = double.connections
        for _ in range(2):
            result = engine.generate("doc", prompt, DecodeOptions(max_tokens=7))
            assert (result.text, result.stop_reason) == ("".join(PIECES), "max_tokens")
        assert double.connections <= connections + 1  # at most the spare opened after the cut
        tokenize_paths = [p for p, _ in double.requests if "tokenize" in p]
        # vLLM serves /tokenize; SGLang only /v1/tokenize (the engine tries both).
        assert tokenize_paths == (
            ["/tokenize"] if kind == "vllm" else ["/tokenize", "/v1/tokenize"]
        )


def test_the_vllm_double_enforces_the_documented_schema() -> None:
    """The double is strict where vLLM is: `suffix` is a 400, `model` and `prompt` are
    required, stream options need a stream (so the passing tests above mean something)."""
    good = {"model": "m", "prompt": [1, 2], "max_tokens": 4, "temperature": 0, "stream": True}
    assert check_openai(good, "m") == []
    for bad in (
        {**good, "suffix": "x"},
        {k: v for k, v in good.items() if k != "prompt"},
        {k: v for k, v in good.items() if k != "model"},
        {**good, "stream": False, "stream_options": {"include_usage": True}},
        {**good, "max_tokens": 0},
        {**good, "logit_bias": {"5": -1000}},
    ):
        with pytest.raises(Exception):  # noqa: B017 - SchemaError or LookupError
            check_openai(bad, "m")
    with EngineDouble("vllm") as double:
        pool = Pool(parse_endpoint(double.url), request_timeout_s=2)
        with pytest.raises(EngineError) as caught:
            pool.json("POST", "/v1/completions", {**good, "model": double.served, "suffix": "x"})
        assert caught.value.kind == "bad_request"
        assert "suffix is not currently supported" in str(caught.value)


def test_ollama_gets_our_prompt_as_raw_text_and_ndjson_is_read(
    vocab: Any, make_engine: Any
) -> None:
    with EngineDouble("ollama", pieces=PIECES) as double:
        engine = make_engine(double, context_size=2048).engine
        prompt = prompt_tokens(vocab)
        result = engine.generate("doc", prompt, DecodeOptions(max_tokens=3), stop=first_line)
        assert (result.text, result.stop_reason) == ("return a +", "max_tokens")
        body = double.completions()[0]
        assert body["raw"] is True and body["stream"] is True
        # Our FIM prompt, control tokens spelled out (Ollama tokenizes text itself).
        assert body["prompt"] == render(vocab, prompt)
        assert "<|fim_prefix|>" in body["prompt"] and "<|fim_middle|>" in body["prompt"]
        assert body["options"] == {"num_predict": 3, "temperature": 0, "top_k": 1, "num_ctx": 2048}
        assert double.rejected == [] and double.ignored == []
        # The final NDJSON event's timings (nanoseconds) became the prompt speed.
        result = engine.generate("doc", prompt, DecodeOptions(max_tokens=40))
        assert result.stop_reason == "eog" and result.text == "".join(PIECES)
        assert engine.prompt_ms_per_token == pytest.approx(0.5)


def test_ollama_unknown_model_is_a_clear_error(vocab: Any, make_engine: Any) -> None:
    with EngineDouble("ollama") as double:
        engine = make_engine(double, model="qwen9:nothere").engine
        result = engine.generate("doc", prompt_tokens(vocab), DecodeOptions(max_tokens=8))
        assert result.stop_reason == "error" and result.text == ""
        assert "HTTP 404" in engine.health.message
        assert "not found, try pulling it first" in engine.health.message


def test_llama_server_slot_affinity_and_prompt_cache(vocab: Any, make_engine: Any) -> None:
    with EngineDouble("llama-server", pieces=PIECES, tokenize=tokenizer(vocab)) as double:
        engine = make_engine(double).engine
        prompt = prompt_tokens(vocab)
        options = DecodeOptions(max_tokens=40, max_predict_ms=900)
        engine.generate("a.py", prompt, options)
        engine.generate("a.py", prompt, options, stop=first_line)
        engine.generate("b.py", prompt[:-3], options)
        first, again, other = double.completions()
        assert first["cache_prompt"] is True and first["prompt"] == prompt
        assert "id_slot" not in first and again["id_slot"] == 0 and "id_slot" not in other
        assert first["n_predict"] == 40 and first["t_max_predict_ms"] == 900
        assert first["temperature"] == 0 and first["top_k"] == 1
        assert double.ignored == []
        # What the engine holds for a.py: the next request evaluates only what differs.
        assert engine.tokens_to_evaluate("a.py", [*prompt, 5]) == 1


def test_healed_text_is_a_grammar_on_llama_server_and_checked_elsewhere(
    vocab: Any, make_engine: Any
) -> None:
    prompt = prompt_tokens(vocab)
    with EngineDouble("llama-server", pieces=["ret", "urn x", "\n"]) as double:
        engine = make_engine(double).engine
        result = engine.generate("d", prompt, DecodeOptions(max_tokens=9, heal="ret"))
        assert double.completions()[0]["grammar"] == 'root ::= "ret" .*'
        assert result.text == "urn x\n"
    with EngineDouble("vllm", pieces=["self", ".x", "\n"]) as double:
        engine = make_engine(double).engine
        result = engine.generate("d", prompt, DecodeOptions(max_tokens=9, heal="ret"))
        assert (result.text, result.stop_reason) == ("", "eog")  # not spelled: no suggestion
        assert "grammar" not in double.completions()[0]


def test_a_tokenizer_mismatch_is_reported_and_prompts_go_as_text(
    vocab: Any, make_engine: Any
) -> None:
    def other(text: str) -> list[int]:  # another model's tokenizer: ids shifted
        return [t + 7 for t in vocab.tokenize(text, special=True)]

    with EngineDouble("vllm", pieces=PIECES, tokenize=other) as double:
        connected = make_engine(double)
        assert len(connected.warnings) == 1
        assert "tokenizer differs" in connected.warnings[0]
        assert "first different at token 0" in connected.warnings[0]
        prompt = prompt_tokens(vocab)
        connected.engine.generate("d", prompt, DecodeOptions(max_tokens=8))
        assert double.completions()[0]["prompt"] == render(vocab, prompt)


def test_cancelling_closes_the_stream_at_once(vocab: Any, make_engine: Any) -> None:
    with EngineDouble("vllm", behaviour="forever", delay_s=0.01) as double:
        engine = make_engine(double).engine
        start = time.monotonic()
        cancel_at = start + 0.3

        def cancelled() -> bool:
            return time.monotonic() > cancel_at

        result = engine.generate(
            "d", prompt_tokens(vocab), DecodeOptions(max_tokens=4000), cancelled=cancelled
        )
        stopped = time.monotonic()
        assert result.stop_reason == "cancelled"
        assert double.disconnected.wait(2.0)
        assert stopped - cancel_at < 1.0  # the watchdog looks every 10 ms
