"""The engine in its own process, on the tiny synthetic models: the same results as in the
server's process, cancellation that reaches the decode loop, and every way the child can fail
(a Python error at a token, a native death mid-decode, deaths at load, load errors, a failing
calibration): each pending call is answered, the user is told once, the child comes back and
the next request works; a child that dies at load three times in a row is not started again.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from airgap_lsp.completion.calibration import Key
from airgap_lsp.completion.decoding import stop_rule
from airgap_lsp.completion.engine import DecodeOptions, Engine
from airgap_lsp.completion.engine_process import SupervisedEngine
from airgap_lsp.completion.local_engine import BackendError, EngineRecipe, build_engine
from airgap_lsp.completion.prompt import Prompt
from airgap_lsp.completion.runtime import Model
from airgap_lsp.context import Shape

CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n"


def recipe(target: Path, draft: Path | None = None, context_size: int = 512) -> EngineRecipe:
    return EngineRecipe(
        target=target,
        draft=draft,
        gpu_layers=0,
        context_size=context_size,
        cached_documents=2,
        threads=1,
        target_key=Key.of(target, 1, 0),
        draft_key=Key.of(draft, 1, 0) if draft else None,
        target_costs=None,
        draft_costs=None,
        draft_heals=False,
    )


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AIRGAP_LSP_ENGINE_FAULT", raising=False)


@pytest.fixture
def supervised(synthetic_qwen2_pair, private_cache):
    target, draft = synthetic_qwen2_pair
    engines: list[SupervisedEngine] = []

    def start(with_draft: bool = False, context_size: int = 512) -> SupervisedEngine:
        vocab = Model(target, vocab_only=True)
        engine = SupervisedEngine.start(
            recipe(target, draft if with_draft else None, context_size), vocab, lambda _m, _p: 0
        )
        engines.append(engine)
        return engine

    yield start
    for engine in engines:
        engine.close()


def told(engine: SupervisedEngine) -> list[tuple[bool, str]]:
    heard: list[tuple[bool, str]] = []
    engine.health.listen(lambda ok, message: heard.append((ok, message)))
    return heard


def wait_for(condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_the_child_gives_the_in_process_engines_results(synthetic_qwen2_pair, supervised):
    target, draft = synthetic_qwen2_pair
    child = supervised(with_draft=True)
    assert child.draft is not None
    local = build_engine(recipe(target, draft), lambda _m, _p: None).engine
    tokens = child.target.tokenize(CODE)
    for drafting in ("none", "ngram", "model"):
        options = DecodeOptions(max_tokens=24, drafting=drafting)
        there = child.generate("a.py", tokens, options)
        here = local.generate("a.py", tokens, options)
        assert (there.tokens, there.text, there.stop_reason) == (
            here.tokens,
            here.text,
            here.stop_reason,
        )
    assert child.tokens_to_evaluate("a.py", tokens) == local.tokens_to_evaluate("a.py", tokens)


def test_stop_rules_travel_or_run_here_with_the_same_cut(synthetic_qwen2_pair, supervised):
    target, _ = synthetic_qwen2_pair
    child = supervised()
    local: Engine = build_engine(recipe(target), lambda _m, _p: None).engine
    tokens = child.target.tokenize(CODE)
    options = DecodeOptions(max_tokens=40, drafting="none")
    free = local.generate("a.py", tokens, options).text
    assert len(free) > 4
    cut_at = len(free) // 2
    shape = Shape(multiline=False, indent="")
    fim = Prompt(
        tokens=tokens, kind="fim", prefix_tokens=len(tokens), suffix_tokens=0, extra_tokens=0
    )
    travelling = stop_rule(fim, shape)  # a module-level partial
    streamed_texts: list[str] = []

    def staying(text: str) -> int | None:  # a closure: runs here on the streamed text
        streamed_texts.append(text)
        return cut_at if len(text) > cut_at else None

    for rule in (travelling, staying):
        there = child.generate("a.py", tokens, options, rule)
        here = local.generate("a.py", tokens, options, rule)
        assert (there.tokens, there.text, there.stop_reason) == (
            here.tokens,
            here.text,
            here.stop_reason,
        )
    assert streamed_texts  # the child streamed the text after each token


def test_a_cancel_reaches_the_decode_loop(supervised):
    child = supervised()
    tokens = child.target.tokenize(CODE)
    flag = threading.Event()
    threading.Timer(0.05, flag.set).start()
    t0 = time.monotonic()
    result = child.generate("a.py", tokens, DecodeOptions(max_tokens=100_000), None, flag.is_set)
    assert result.stop_reason == "cancelled"
    assert time.monotonic() - t0 < 5.0
    # The child serves the next request.
    assert child.generate("a.py", tokens, DecodeOptions(max_tokens=4)).stop_reason != "cancelled"


@pytest.mark.parametrize("fault", ["segv-at-token:3", "abort-at-token:3"])
def test_a_death_mid_decode_is_answered_told_once_and_recovered(
    supervised, monkeypatch: pytest.MonkeyPatch, fault: str
):
    monkeypatch.setenv("AIRGAP_LSP_ENGINE_FAULT", fault)
    child = supervised()
    heard = told(child)
    first_pid = child.pid
    tokens = child.target.tokenize(CODE)
    t0 = time.monotonic()
    result = child.generate("a.py", tokens, DecodeOptions(max_tokens=20, drafting="none"))
    assert result.stop_reason == "engine_died" and result.text == ""
    assert time.monotonic() - t0 < 1.0 + 1.0  # answered at once (the fault is at token 3)
    signame = "SIGSEGV" if fault.startswith("segv") else "SIGABRT"
    assert heard[:1] == [
        (False, f"the model process stopped (killed by {signame}); starting it again")
    ]
    # Meanwhile: an empty answer at once, never a wait for the restart.
    wait_for(lambda: child.pid is not None)
    assert child.pid != first_pid and child.restarts == 1
    # The new process's pid is known a moment before it says it is ready.
    wait_for(lambda: len(heard) > 1)
    assert heard[1:] == [(True, "the model process answers again")]
    quiet = child.generate("a.py", tokens, DecodeOptions(max_tokens=2, drafting="none"))
    assert quiet.stop_reason in ("max_tokens", "eog")  # the fault is at token 3 of every run


def test_a_sigkill_from_outside_answers_every_waiting_call(supervised):
    child = supervised(context_size=32768)  # room for generations that outlast the kill
    heard = told(child)
    tokens = child.target.tokenize(CODE)
    results = []

    def ask() -> None:
        results.append(child.generate("a.py", tokens, DecodeOptions(max_tokens=100_000)))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    for t in threads:
        t.join(timeout=2.0)
        assert not t.is_alive()
    assert sorted(r.stop_reason for r in results) == ["engine_died"] * 3
    assert heard[0][0] is False and "SIGKILL" in heard[0][1]
    wait_for(lambda: child.pid is not None)
    assert child.generate("a.py", tokens, DecodeOptions(max_tokens=2)).stop_reason != "engine_died"


def test_a_python_error_at_a_token_fails_that_request_only(supervised, monkeypatch):
    monkeypatch.setenv("AIRGAP_LSP_ENGINE_FAULT", "raise-at-token:2")
    child = supervised()
    pid = child.pid
    tokens = child.target.tokenize(CODE)
    failed = child.generate("a.py", tokens, DecodeOptions(max_tokens=8, drafting="none"))
    assert failed.stop_reason == "error" and failed.text == ""
    served = child.generate("a.py", tokens, DecodeOptions(max_tokens=1, drafting="none"))
    assert served.stop_reason in ("max_tokens", "eog") and child.pid == pid


@pytest.mark.parametrize("fault", ["abort-at-load", "segv-at-load"])
def test_three_deaths_at_load_stop_the_restarts_with_a_clear_message(
    synthetic_qwen2_pair, private_cache, monkeypatch, fault: str
):
    monkeypatch.setenv("AIRGAP_LSP_ENGINE_FAULT", fault)
    target, _ = synthetic_qwen2_pair
    with pytest.raises(BackendError, match="died while loading the models 3 times in a row"):
        SupervisedEngine.start(recipe(target), Model(target, vocab_only=True), lambda _m, _p: 0)


def test_three_deaths_at_restart_stop_the_restarts(supervised, monkeypatch):
    child = supervised()
    heard = told(child)
    monkeypatch.setenv("AIRGAP_LSP_ENGINE_FAULT", "abort-at-load")  # for the next children
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    wait_for(lambda: child.gave_up != "")
    assert "3 times in a row" in child.gave_up and child.pid is None
    assert heard[-1] == (False, child.gave_up)
    tokens = child.target.tokenize(CODE)
    assert child.generate("a.py", tokens, DecodeOptions(max_tokens=2)).stop_reason == "engine_down"


def test_a_load_error_that_is_no_backend_error_is_told(
    synthetic_qwen2_pair, private_cache, monkeypatch
):
    monkeypatch.setenv("AIRGAP_LSP_ENGINE_FAULT", "value-error-at-load")
    target, _ = synthetic_qwen2_pair
    with pytest.raises(BackendError, match="ValueError: n_batch"):
        SupervisedEngine.start(recipe(target), Model(target, vocab_only=True), lambda _m, _p: 0)


def test_a_failing_calibration_ends_it_and_the_engine_serves_on(supervised, monkeypatch):
    monkeypatch.setenv("AIRGAP_LSP_ENGINE_FAULT", "raise-in-refresh")
    child = supervised()
    refresh = child.refresh()
    assert refresh.run() is True and refresh.done  # given up, not retried forever
    tokens = child.target.tokenize(CODE)
    assert child.generate("a.py", tokens, DecodeOptions(max_tokens=2)).stop_reason in (
        "max_tokens",
        "eog",
    )
