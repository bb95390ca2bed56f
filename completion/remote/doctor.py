"""`airgap-lsp doctor`: what is wrong with the configured remote engine, in words.

Owns the checks, in the order a problem shows: the settings, the engine answers, it accepts
the API key, it serves the configured model, the served model has FIM tokens, its tokenizer
is ours, and how long a small completion takes. Each check says what it found and, when it
fails, what to do; later checks that depend on a failed one are skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from airgap_lsp.completion.engine import DecodeOptions
from airgap_lsp.completion.remote.config import RemoteSetupError, connect
from airgap_lsp.completion.remote.engines import RemoteEngine
from airgap_lsp.completion.remote.http import EngineError
from airgap_lsp.completion.remote.tokenizer import compare, probe_text
from airgap_lsp.completion.settings import ModelSettings


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool | None  # None: not applicable or skipped
    detail: str

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[self.ok]
        return f"{mark} {self.name}: {self.detail}"


def diagnose(m: ModelSettings) -> list[Check]:
    if m.backend == "local":
        return [Check("backend", None, "models.backend is local: no remote engine to check")]
    checks: list[Check] = []
    try:
        connected = connect(m)
    except RemoteSetupError as exc:
        return [Check("settings", False, str(exc))]
    engine = connected.engine
    notes = [w for w in connected.warnings if "does not answer" not in w and "tokenizer" not in w]
    checks.append(
        Check(
            "settings",
            True,
            f"{m.backend} at {engine.pool.endpoint.shown}"
            + (f", model {m.model}" if m.model else "")
            + "".join(f"; note: {n}" for n in notes),
        )
    )
    try:
        checks += _engine_checks(engine, m)
    finally:
        engine.close()
    return checks


def _timed_json(
    engine: RemoteEngine, method: str, path: str, body: object = None
) -> tuple[object, float]:
    t0 = time.monotonic()
    data = engine.pool.json(method, path, body)
    return data, (time.monotonic() - t0) * 1000


def _engine_checks(engine: RemoteEngine, m: ModelSettings) -> list[Check]:
    checks: list[Check] = []
    d = engine.dialect
    try:
        _, ms = _timed_json(engine, "GET", d.health_path)
        checks.append(Check("reachable", True, f"{d.health_path} answered in {ms:.0f} ms"))
    except EngineError as exc:
        if exc.kind in ("unreachable", "tls", "timeout", "protocol"):
            return [*checks, Check("reachable", False, str(exc))]
        checks.append(Check("reachable", True, f"it answers ({exc})"))
    try:
        data, _ = _timed_json(engine, "GET", d.models_path)
    except EngineError as exc:
        ok = exc.kind != "auth"
        checks.append(Check("auth", False if not ok else None, str(exc)))
        if not ok:
            return checks
        data = None
    else:
        key = "with the API key" if engine.pool.headers.get("Authorization") else "without a key"
        checks.append(Check("auth", True, f"{d.models_path} answered {key}"))
    served = d.served_models(data) if data is not None else []
    if m.model and d.name != "llama-server":  # llama-server serves one model, whatever it is asked
        if m.model in served:
            checks.append(Check("model", True, f"{m.model} is served"))
        elif served:
            checks.append(
                Check("model", False, f"{m.model} is not served; served: {', '.join(served[:8])}")
            )
        else:
            checks.append(Check("model", None, "the engine did not list its models"))
    else:
        shown = ", ".join(served[:3]) or "its model"
        checks.append(Check("model", True, f"serves {shown} (models.model not needed)"))
    checks.append(_fim_check(engine))
    checks.append(_tokenizer_check(engine, m))
    checks.append(_latency_check(engine))
    return checks


def _fim_check(engine: RemoteEngine) -> Check:
    vocab = engine.target
    c = vocab.control
    if not c.has_fim:
        return Check(
            "FIM tokens",
            False,
            f"models.tokenizer ({vocab.path.name}) has no FIM tokens: completions use chat "
            "prompts (slower, worse); use a coder model",
        )
    assert c.fim_prefix is not None
    spelled = vocab.token_text(c.fim_prefix)
    try:
        remote = engine.remote_tokens(spelled)
    except EngineError as exc:
        return Check("FIM tokens", False, f"the engine's tokenizer failed: {exc}")
    if remote is None:
        return Check("FIM tokens", True, f"{vocab.path.name} has them (the engine's not checkable)")
    if remote == [c.fim_prefix]:
        return Check("FIM tokens", True, f"the served model has {spelled} as token {c.fim_prefix}")
    return Check(
        "FIM tokens",
        False,
        f"the served model reads {spelled} as {len(remote)} ordinary tokens: it has no FIM "
        "tokens; serve a coder model with FIM (Qwen2.5-Coder, Qwen3.5...)",
    )


def _tokenizer_check(engine: RemoteEngine, m: ModelSettings) -> Check:
    text = probe_text(engine.target)
    try:
        remote = engine.remote_tokens(text)
    except EngineError as exc:
        return Check("tokenizer", False, f"the engine's tokenizer failed: {exc}")
    if remote is None:
        return Check("tokenizer", None, "the engine has no tokenizer endpoint (prompts go as text)")
    match = compare(engine.target.tokenize(text, special=True), remote)
    return Check("tokenizer", match.same, match.describe(m.tokenizer or "the default target"))


def _latency_check(engine: RemoteEngine) -> Check:
    vocab = engine.target
    c = vocab.control
    code = "def add(a, b):\n    return"
    if c.has_fim:
        assert c.fim_prefix is not None and c.fim_suffix is not None and c.fim_middle is not None
        tokens = [c.fim_prefix, *vocab.tokenize(code), c.fim_suffix, c.fim_middle]
    else:
        tokens = vocab.tokenize(code)
    t0 = time.monotonic()
    result = engine.generate("doctor", tokens, DecodeOptions(max_tokens=8))
    total = (time.monotonic() - t0) * 1000
    if result.stop_reason == "error":
        return Check("latency", False, f"a probe completion failed: {engine.health.message}")
    st = result.stats
    return Check(
        "latency",
        True,
        f"a probe completion: first token after {st.prompt_ms:.0f} ms, {st.generated} tokens in "
        f"{total:.0f} ms ({result.text.strip()[:30]!r})",
    )
