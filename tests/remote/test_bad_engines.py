"""Engines that misbehave, each with its stated outcome within its timeout: no hang, an empty
result, one clear message (never the API key), bounded retries."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airgap_lsp.completion.engine import DecodeOptions, DecodeResult, DecodeStats
from airgap_lsp.completion.prompt import Budget, PromptInput, fim_prompt
from airgap_lsp.completion.remote.engines import FallbackEngine
from tests.remote.doubles import EngineDouble

KEY = "sk-test-7d1f0e5bd2a94c8f"


def prompt(vocab: Any) -> list[int]:
    return fim_prompt(vocab, PromptInput("def f(x):\n    ", "\n", "m.py"), Budget(64, 16, 0)).tokens


def timed(engine: Any, vocab: Any, **options: Any) -> tuple[DecodeResult, float]:
    start = time.monotonic()
    result = engine.generate("doc", prompt(vocab), DecodeOptions(**options))
    return result, time.monotonic() - start


def test_accepts_and_never_answers_times_out(vocab: Any, make_engine: Any) -> None:
    with EngineDouble("vllm", behaviour="silent") as double:
        engine = make_engine(double, request_timeout_ms=800).engine
        result, seconds = timed(engine, vocab, max_tokens=16)
        assert (result.stop_reason, result.text) == ("error", "")
        assert 0.7 < seconds < 3.0
        assert "did not answer within 800 ms" in engine.health.message
        assert double.disconnected.wait(2.0)  # and the request was abandoned, not left open


@pytest.fixture
def mute_port() -> Iterator[int]:
    """A TCP port whose server accepts connections and never reads or writes a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for s in held:
        s.close()
    listener.close()


def test_a_server_that_never_speaks_http_times_out(
    vocab: Any, tokenizer_path: str, mute_port: int
) -> None:
    from airgap_lsp.completion.remote.config import connect
    from airgap_lsp.completion.settings import ModelSettings

    settings = ModelSettings(
        backend="llama-server",
        endpoint=f"http://127.0.0.1:{mute_port}",
        tokenizer=tokenizer_path,
        request_timeout_ms=600,
    )
    start = time.monotonic()
    connected = connect(settings)  # the start-up probe times out too: a warning, not a failure
    assert "does not answer yet" in connected.warnings[0]
    assert time.monotonic() - start < 5.0
    result, seconds = timed(connected.engine, vocab, max_tokens=8)
    assert result.stop_reason == "error" and seconds < 2.0


def test_a_stream_that_never_ends_is_cut_at_max_tokens_or_the_time_budget(
    vocab: Any, make_engine: Any
) -> None:
    with EngineDouble("sglang", behaviour="forever", delay_s=0.002) as double:
        engine = make_engine(double).engine
        result, seconds = timed(engine, vocab, max_tokens=20)
        assert result.stop_reason == "max_tokens" and result.text.startswith("x = 1\n")
        assert seconds < 2.5  # the reply's tail is read for DRAIN_S (0.5 s), then dropped
        result, seconds = timed(engine, vocab, max_tokens=4000, max_predict_ms=300)
        assert result.stop_reason == "budget" and result.text.startswith("x = 1\n")
        assert 0.25 < seconds < 2.0
        assert double.disconnected.wait(2.0)


def test_a_stream_that_stalls_times_out_but_a_slow_one_does_not(
    vocab: Any, make_engine: Any
) -> None:
    with EngineDouble("llama-server", behaviour="stall", pieces=["a", "b", "c"]) as double:
        engine = make_engine(double, request_timeout_ms=600).engine
        result, seconds = timed(engine, vocab, max_tokens=8)
        assert (result.stop_reason, result.text) == ("error", "")
        assert "did not answer within 600 ms" in engine.health.message
        assert 0.5 < seconds < 2.5
        assert double.disconnected.wait(2.0)
    # 12 events 100 ms apart: 1.2 s in all, never 600 ms of silence: not a timeout.
    with EngineDouble("llama-server", pieces=["x"] * 12, delay_s=0.1) as double:
        engine = make_engine(double, request_timeout_ms=600).engine
        result, _ = timed(engine, vocab, max_tokens=40)
        assert (result.stop_reason, result.text) == ("eog", "x" * 12)


def test_an_html_page_is_reported_as_such(vocab: Any, make_engine: Any) -> None:
    with EngineDouble("vllm", behaviour="html") as double:
        engine = make_engine(double).engine
        result, _ = timed(engine, vocab, max_tokens=8)
        assert result.stop_reason == "error"
        assert "answered with an HTML page instead of the engine's API" in engine.health.message


def test_a_stream_closed_midway_is_an_error_not_a_partial_suggestion(
    vocab: Any, make_engine: Any
) -> None:
    pieces = ["return", " x", " +", " 1"]
    with EngineDouble("ollama", behaviour="cut", pieces=pieces) as double:
        engine = make_engine(double).engine
        result, seconds = timed(engine, vocab, max_tokens=8)
        assert (result.stop_reason, result.text) == ("error", "")
        assert "closed the connection in the middle of a reply" in engine.health.message
        assert seconds < 2.0


def test_a_wrong_api_key_is_refused_once_without_the_key_in_any_message(
    vocab: Any, make_engine: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("TEAM_LLM_KEY", KEY)
    with EngineDouble("vllm", api_key="the-right-key") as double:
        connected = make_engine(double, api_key_env="TEAM_LLM_KEY")
        engine = connected.engine
        result, _ = timed(engine, vocab, max_tokens=8)
        assert result.stop_reason == "error"
        message = engine.health.message
        assert "refused the API key (HTTP 401)" in message
        assert len(double.completions()) == 1  # an auth failure is not retried
        everything = " ".join([message, *connected.warnings, caplog.text])
        assert KEY not in everything
        # The key did travel, in the Authorization header only.
        assert double.api_key != KEY


def test_api_key_file_and_a_missing_key_variable(
    vocab: Any, make_engine: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airgap_lsp.completion.remote.config import RemoteSetupError

    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    with EngineDouble("vllm", api_key=KEY, pieces=["ok"]) as double:
        engine = make_engine(double, api_key_file=str(key_file)).engine
        result, _ = timed(engine, vocab, max_tokens=8)
        assert (result.text, result.stop_reason) == ("ok", "eog")
        monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
        with pytest.raises(RemoteSetupError, match="NO_SUCH_KEY_VAR, which is not set"):
            make_engine(double, api_key_env="NO_SUCH_KEY_VAR")


def test_429_then_success_is_retried(vocab: Any, make_engine: Any) -> None:
    with EngineDouble("vllm", statuses=[429], pieces=["ok"]) as double:
        engine = make_engine(double).engine
        result, seconds = timed(engine, vocab, max_tokens=8)
        assert (result.text, result.stop_reason) == ("ok", "eog")
        assert len(double.completions()) == 2 and seconds < 2.0
        assert engine.health.ok


def test_5xx_is_retried_a_bounded_number_of_times(vocab: Any, make_engine: Any) -> None:
    with EngineDouble("sglang", statuses=[503] * 10) as double:
        engine = make_engine(double).engine
        result, seconds = timed(engine, vocab, max_tokens=8)
        assert result.stop_reason == "error"
        assert len(double.completions()) == 3  # the first try and two retries
        assert "failed (HTTP 503): 'status 503'" in engine.health.message
        assert seconds < 3.0


def test_engine_not_running(vocab: Any, make_engine: Any) -> None:
    with EngineDouble("vllm") as double:
        url = double.url
    port = int(url.rsplit(":", 1)[1])

    class Gone:
        kind, served = "vllm", "m"

    Gone.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    connected = make_engine(Gone)
    assert "refused the connection (is the engine running?)" in connected.warnings[0]
    result, seconds = timed(connected.engine, vocab, max_tokens=8)
    assert result.stop_reason == "error" and seconds < 3.0


def test_tls_with_an_unknown_ca_is_refused_and_trusted_with_ca_file(
    vocab: Any, make_engine: Any, server_tls: Any, certificate: Any
) -> None:
    with EngineDouble("vllm", tls=server_tls, pieces=["ok"]) as double:
        assert double.url.startswith("https://")
        connected = make_engine(double)
        assert "is not trusted" in connected.warnings[0]
        assert "set models.caFile" in connected.warnings[0]
        result, _ = timed(connected.engine, vocab, max_tokens=8)
        assert result.stop_reason == "error"
        assert "is not trusted" in connected.engine.health.message
        engine = make_engine(double, ca_file=str(certificate[0])).engine
        connections = double.connections
        ok = engine.generate("d", prompt(vocab), DecodeOptions(max_tokens=8), stop=lambda t: 1)
        assert (ok.text, ok.stop_reason) == ("o", "stop")  # closed early: a spare is opened
        time.sleep(0.3)
        for _ in range(3):
            result, _ = timed(engine, vocab, max_tokens=8)
            assert (result.text, result.stop_reason) == ("ok", "eog")
        # The spare served them all: TLS 1.3 session tickets waiting on an idle connection
        # do not make it look closed.
        assert double.connections == connections + 1


def test_health_is_told_once_per_change(vocab: Any, make_engine: Any) -> None:
    with EngineDouble("vllm", statuses=[500] * 6, pieces=["ok"]) as double:
        engine = make_engine(double).engine
        engine.pool.retries = 0
        heard: list[tuple[bool, str]] = []
        engine.health.listen(lambda ok, message: heard.append((ok, message)))
        for _ in range(3):
            timed(engine, vocab, max_tokens=8)
        assert [ok for ok, _ in heard] == [False]
        double.statuses.clear()
        result, _ = timed(engine, vocab, max_tokens=8)
        assert result.text == "ok"
        assert [ok for ok, _ in heard] == [False, True]
        assert heard[1][1].endswith("answers again")


class LocalStandIn:
    """The in-process engine's interface, answering `local`."""

    def __init__(self, vocab: Any) -> None:
        self.target = vocab
        self.prompt_ms_per_token = 1.0
        self.calls = 0

    def tokens_to_evaluate(self, key: str, prompt: Any) -> int:
        return len(prompt)

    def generate(self, key, prompt, options, stop=None, cancelled=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return DecodeResult([], "local", "eog", DecodeStats())

    def reset(self) -> None:
        pass


def test_fallback_serves_locally_while_the_remote_is_down_and_goes_back(
    vocab: Any, make_engine: Any
) -> None:
    with EngineDouble("vllm", statuses=[503] * 3, pieces=["remote"]) as double:
        remote = make_engine(double).engine
        remote.pool.retries = 0
        local = LocalStandIn(vocab)
        engine = FallbackEngine(remote, local)  # type: ignore[arg-type]
        assert timed(engine, vocab, max_tokens=8)[0].text == "local"  # remote failed: local
        assert timed(engine, vocab, max_tokens=8)[0].text == "local"  # still down: local only
        assert len(double.completions()) == 1
        double.statuses.clear()
        remote.health.retry_at = 0.0  # the pause is over: the remote is tried again
        assert timed(engine, vocab, max_tokens=8)[0].text == "remote"
        assert local.calls == 2 and remote.health.ok


def test_an_engine_too_slow_for_the_prompt_budget_is_learned_from_the_cut(
    vocab: Any, make_engine: Any
) -> None:
    """A cut prompt still says how slow the engine is: the planner can then shed context or
    give a prompt at its floor the time it needs, instead of cutting every request (seen on a
    2-core llama-server: every first request empty at the 4 s budget, nothing ever learned)."""
    # Still evaluating the prompt when the budget ends: nothing streamed yet.
    with EngineDouble("llama-server", behaviour="silent") as double:
        engine = make_engine(double).engine
        assert engine.prompt_ms_per_token is None
        tokens = vocab.tokenize("values = [1, 2, 3]\n" * 20)  # a prompt worth measuring
        result = engine.generate("doc", tokens, DecodeOptions(max_tokens=8, max_prompt_ms=200))
        assert (result.stop_reason, result.text) == ("prompt_budget", "")
        assert engine.prompt_ms_per_token is not None
        assert engine.prompt_ms_per_token >= 200 / len(tokens)
