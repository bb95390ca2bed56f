"""`airgap-lsp doctor` against engine doubles: what it finds, in words, and its exit code."""

from __future__ import annotations

from typing import Any

import pytest

from airgap_lsp.lsp.cli import main
from tests.remote.doubles import EngineDouble


def doctor(capsys: Any, *args: str) -> tuple[int, str]:
    code = main(["doctor", *args])
    return code, capsys.readouterr().out


def test_a_healthy_vllm(capsys: Any, vocab: Any, tokenizer_path: str) -> None:
    def tokenize(text: str) -> list[int]:
        return vocab.tokenize(text, special=True)

    with EngineDouble("vllm", pieces=["return a + b\n"], tokenize=tokenize) as d:
        flags = ["--backend", "openai", "--endpoint", d.url, "--tokenizer", tokenizer_path]
        code, out = doctor(capsys, *flags, "--model", d.served)
        assert code == 0, out
        for line in ("ok   reachable", "ok   auth", "ok   model", "ok   FIM tokens"):
            assert line in out
        assert "ok   tokenizer: the engine's tokenizer matches" in out
        assert "ok   latency: a probe completion: first token after" in out
        code, out = doctor(capsys, *flags, "--model", "qwen-other")
        assert code == 1 and "FAIL model: qwen-other is not served; served: qwen2.5-coder" in out


def test_problems_in_words(
    capsys: Any, tokenizer_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EngineDouble("ollama", api_key="right") as d:
        base = ["--backend", "ollama", "--endpoint", d.url, "--model", d.served]
        code, out = doctor(capsys, *base, "--tokenizer", tokenizer_path)
        assert code == 1
        assert "FAIL auth: " in out and "requires an API key (HTTP 401)" in out
        monkeypatch.setenv("WRONG_KEY", "sk-wrong-0123456789")
        code, out = doctor(
            capsys, *base, "--tokenizer", tokenizer_path, "--api-key-env", "WRONG_KEY"
        )
        assert "refused the API key" in out and "sk-wrong" not in out
        code, out = doctor(capsys, *base, "--tokenizer", "/nowhere/vocab.gguf")
        assert code == 1 and out.startswith("FAIL settings: models.tokenizer:")
    code, out = doctor(
        capsys, "--backend", "openai", "--endpoint", "http://127.0.0.1:9", "--model", "m"
    )
    assert code == 1 and "FAIL reachable: http://127.0.0.1:9 refused the connection" in out
    code, out = doctor(capsys, "--backend", "openai", "--endpoint", "ftp://x", "--model", "m")
    assert code == 1 and "models.endpoint must start with http:// or https://" in out
