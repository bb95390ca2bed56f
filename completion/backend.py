"""Building a completion backend from settings.

Owns model loading (resolving names to files, loading target and draft, creating the engine)
with progress reports: the engine starts from this machine's cached calibration (the first time,
from a quick measurement of the prompt speed alone; `calibration`), and the draft model is
loaded only where that calibration says it can pay, or when asked for. Also the fake backend
that protocol tests and editor-plugin tests use (selected with AIRGAP_LSP_FAKE_BACKEND=1) so
they run without any model; its loads can be made to fail like real ones (`_fake_fault`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airgap_lsp.completion import calibration
from airgap_lsp.completion.calibration import CalibrationCache, Key, Refresh
from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.completer import (
    Backend,
    Completer,
    CompletionRequest,
    Suggestion,
    line_around,
)
from airgap_lsp.completion.engine import DecodeOptions, Engine, IsCancelled
from airgap_lsp.completion.engine_process import SupervisedEngine, in_child_process
from airgap_lsp.completion.local_engine import BackendError, EngineRecipe, Report, build_engine
from airgap_lsp.completion.model_plan import Origin, plan_models
from airgap_lsp.completion.models import AUTO, ModelError
from airgap_lsp.completion.runtime import Model, RuntimeError_
from airgap_lsp.completion.selection import CacheMemory
from airgap_lsp.completion.settings import CompletionSettings, Settings

if TYPE_CHECKING:
    from airgap_lsp.completion.health import Health

log = logging.getLogger(__name__)


@dataclass
class Loaded:
    backend: Backend
    load_seconds: float
    warnings: list[str]
    # The full measurement of this machine's costs, run in the background after the first
    # suggestion (a local backend whose calibration came from its prompt speed alone).
    calibration: Refresh | None = None


def fake_requested() -> bool:
    return os.environ.get("AIRGAP_LSP_FAKE_BACKEND", "") not in ("", "0")


def load_backend(
    settings: Settings, report: Report | None = None, context: ContextProvider | None = None
) -> Loaded:
    """Load the configured models (slow: seconds) and return a ready backend."""
    say = report or (lambda _m, _p: None)
    t0 = time.monotonic()
    if fake_requested():
        _fake_fault(settings.models.target)
        say("fake backend", 100)
        return Loaded(FakeBackend(), 0.0, [])
    m = settings.models
    if m.backend != "local":
        return _load_remote(settings, say, context, t0)
    warnings: list[str] = []
    try:
        say("finding the models", 5)
        plan = plan_models(m)
        log.info("models: %s", plan.origin.describe())
        for warning in plan.warnings:
            log.warning(warning)
        warnings.extend(plan.warnings)
        say(f"loading {plan.target.name}", 10)
        # Its vocabulary only, here: the weights are the engine's, in its own process.
        vocab = Model(plan.target, vocab_only=True) if in_child_process() else None
    except (ModelError, RuntimeError_) as exc:
        raise BackendError(str(exc)) from exc
    cache = CalibrationCache()
    target_key = Key.of(plan.target, m.threads, m.gpu_layers)
    target_costs = cache.get(target_key)
    draft_key = draft_costs = None
    load_draft = False
    if plan.draft is not None:
        draft_key = Key.of(plan.draft, m.threads, m.gpu_layers)
        draft_costs = cache.get(draft_key)
        decision = calibration.decide_draft(
            target_costs,
            draft_costs,
            plan.target.stat().st_size,
            plan.draft.stat().st_size,
            m.gpu_layers,
            DecodeOptions().draft_max,
            forced=draft_asked_for(settings),
        )
        log.info(
            "draft model %s %s: %s",
            plan.draft.name,
            "loaded" if decision.load else "not loaded",
            decision.reason,
        )
        load_draft = decision.load
        if not load_draft:  # the status says what runs, not what was planned
            choice = plan.origin.choice.replace(f" + draft {plan.origin.draft}", "")
            plan.origin = dataclasses.replace(
                plan.origin, choice=f"{choice}; draft not loaded: {decision.reason}", draft=""
            )
    recipe = EngineRecipe(
        target=plan.target,
        draft=plan.draft if load_draft else None,
        gpu_layers=m.gpu_layers,
        context_size=m.context_size,
        cached_documents=plan.cached_documents,
        threads=m.threads,
        target_key=target_key,
        draft_key=draft_key,
        target_costs=target_costs,
        draft_costs=draft_costs,
        draft_heals=settings.completion.single_line_model == "draft",
    )
    health: Health | None = None
    if vocab is not None:
        supervised = SupervisedEngine.start(recipe, vocab, say)
        engine: Any = supervised
        warnings += supervised.warnings
        refresh: Any = supervised.refresh()
        health = supervised.health
    else:
        built = build_engine(recipe, say)
        engine, refresh = built.engine, built.refresh
        warnings += built.warnings
    say("ready", 100)
    completer = Completer(engine, settings.completion, context)
    completer.origin = plan.origin
    completer.memory = CacheMemory(
        plan.target_kv,
        plan.draft_kv if load_draft else None,
        m.context_size,
        plan.cached_documents,
    )
    completer.health = health  # the engine's process: told when it dies and is back
    return Loaded(completer, time.monotonic() - t0, warnings, refresh)


def draft_asked_for(settings: Settings) -> bool:
    """The draft model is loaded whatever the costs when the settings ask for it: named (not
    `auto`), drafting only with it, or writing single lines."""
    name = settings.models.draft.strip().lower()
    c = settings.completion
    return (name not in ("", AUTO)) or c.drafting == "model" or c.single_line_model == "draft"


def _load_remote(
    settings: Settings, say: Report, context: ContextProvider | None, t0: float
) -> Loaded:
    """A completer over a remote engine (and, with `fallback: "local"`, over the in-process
    model while the remote is down)."""
    from airgap_lsp.completion.remote.config import RemoteSetupError, connect
    from airgap_lsp.completion.remote.engines import FallbackEngine

    m = settings.models
    try:
        connected = connect(m, say)
    except RemoteSetupError as exc:
        raise BackendError(str(exc)) from exc
    engine: Any = connected.engine
    warnings = connected.warnings
    if m.fallback == "local":
        local_models = dataclasses.replace(m, backend="local", fallback="")
        local = load_backend(dataclasses.replace(settings, models=local_models), say, context)
        warnings += local.warnings
        local_engine = local.backend.engine
        if local_engine is None:
            warnings.append("models.fallback: no local model to fall back to")
        elif local_engine.target.vocab_fingerprint() != engine.target.vocab_fingerprint():
            warnings.append(
                f"models.fallback: the local model {local_engine.target.path.name} does not "
                "share the served model's vocabulary (models.tokenizer); no fallback"
            )
        else:
            engine = FallbackEngine(engine, local_engine)
    say("ready", 100)
    completer = Completer(engine, settings.completion, context)
    completer.description = engine.description
    completer.health = engine.health
    completer.local_fallback = isinstance(engine, FallbackEngine)
    return Loaded(completer, time.monotonic() - t0, warnings)


FAKE_FAULT = "fake-fault:"


def _fake_fault(target: str) -> None:
    """With the fake backend, a target named `fake-fault:<kind>` fails to load the way a real
    model can (fault-injection tests of the server): `value` (a ValueError), `memory`
    (MemoryError), `calibration` (an evaluation error past the load) or `backend`."""
    if not target.startswith(FAKE_FAULT):
        return
    kind = target[len(FAKE_FAULT) :]
    if kind == "value":
        raise ValueError("n_batch (8) must exceed n_rs_seq + 1 (9)")
    if kind == "memory":
        raise MemoryError()
    if kind == "calibration":
        raise RuntimeError_("llama_decode returned -3")
    raise BackendError(f"fake model {kind!r} cannot be loaded")


class FakeBackend:
    """A deterministic stand-in: completes a blank line in a body with `return None`-like text
    and anything else with a short canned tail; never loads a model."""

    description = "fake backend (AIRGAP_LSP_FAKE_BACKEND)"
    engine: Engine | None = None  # no model: code actions say so
    health: Health | None = None
    local_fallback = False
    origin: Origin | None = None

    def __init__(self) -> None:
        self.calls = 0
        self.settings = CompletionSettings()

    def forget(self, key: str) -> None:
        pass

    def memory_report(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        pass

    def warm(self, request: CompletionRequest, cancelled: IsCancelled) -> int:
        return 0

    def complete(self, request: CompletionRequest, cancelled: IsCancelled) -> Suggestion | None:
        self.calls += 1
        delay = float(os.environ.get("AIRGAP_LSP_FAKE_DELAY_MS", "0")) / 1000
        end = time.monotonic() + delay
        while time.monotonic() < end:
            if cancelled():
                return None
            time.sleep(0.005)
        line_prefix, _ = line_around(request.text, request.offset)
        if line_prefix.strip():
            text = " # airgap"
        else:
            text = "return 42  # airgap\n" + line_prefix + "# end"
        return Suggestion(text=text, multiline="\n" in text, stop_reason="fake", total_ms=delay)
