"""Building the local engine from a recipe: the models' files, the context sizes and this
machine's measured costs.

Owns `EngineRecipe` (plain data, so that it can cross into the engine's own process) and
`build_engine`, which loads the target and the draft, creates the engine, starts it from the
cached costs (or measures the prompt speed alone the first time) and prepares the background
calibration. The same function runs in the engine's child process (`engine_child`) and, with
AIRGAP_LSP_ENGINE_PROCESS=0, inside the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from airgap_lsp.completion import calibration
from airgap_lsp.completion.calibration import CalibrationCache, Costs, Key, Measurement, Refresh
from airgap_lsp.completion.engine import Engine
from airgap_lsp.completion.runtime import Model, RuntimeError_

log = logging.getLogger(__name__)

Report = Callable[[str, int], None]  # message, percentage


class BackendError(Exception):
    """The configured models cannot be used; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class EngineRecipe:
    target: Path
    draft: Path | None  # None: no draft model (none configured, or it would not pay)
    gpu_layers: int
    context_size: int  # tokens per cached document
    cached_documents: int
    threads: int
    target_key: Key
    draft_key: Key | None
    target_costs: Costs | None  # from the calibration cache; None: measure the prompt speed
    draft_costs: Costs | None
    draft_heals: bool  # the draft writes single lines alone: it needs token healing's index


@dataclass
class Built:
    engine: Engine
    warnings: list[str]
    refresh: Refresh


def build_engine(recipe: EngineRecipe, say: Report, *, healing_index: bool = True) -> Built:
    """Load the models and create the engine (slow: seconds); BackendError for the user.
    Without `healing_index` the caller builds token healing's index itself (`healing_index`
    below), e.g. after telling that the engine is ready."""
    warnings: list[str] = []
    try:
        target = Model(recipe.target, gpu_layers=recipe.gpu_layers)
    except RuntimeError_ as exc:
        raise BackendError(str(exc)) from exc
    draft = None
    if recipe.draft is not None:
        try:
            say(f"loading draft {recipe.draft.name}", 60)
            draft = Model(recipe.draft, gpu_layers=recipe.gpu_layers)
        except RuntimeError_ as exc:
            warnings.append(f"draft model unavailable, decoding without it: {exc}")
            log.warning(warnings[-1])
    say("creating contexts", 85)
    try:
        engine = Engine(
            target,
            draft,
            n_ctx=recipe.context_size,
            n_seq=max(1, recipe.cached_documents),
            threads=recipe.threads,
        )
    except RuntimeError_ as exc:
        raise BackendError(str(exc)) from exc
    if engine.draft_warning:
        warnings.append(engine.draft_warning)
    measurement = Measurement(engine)
    if recipe.target_costs is not None:
        draft_costs = recipe.draft_costs if engine.draft else None
        calibration.apply(engine, recipe.target_costs, draft_costs)
    else:
        # Nothing measured on this machine yet: only the prompt speed, which the first
        # request's prompt budget needs; the rest is measured after the first suggestion.
        say("measuring this machine's prompt speed", 95)
        try:
            calibration.estimate_prompt_speed(engine, measurement)
        except RuntimeError_ as exc:  # the model loaded but cannot evaluate a batch here
            raise BackendError(f"the model failed its first evaluation: {exc}") from exc
    if healing_index:
        build_healing_index(engine, recipe)
    draft_key = recipe.draft_key if engine.draft else None
    refresh = Refresh(engine, CalibrationCache(), recipe.target_key, draft_key, measurement)
    return Built(engine, warnings, refresh)


def build_healing_index(engine: Engine, recipe: EngineRecipe) -> None:
    """Token healing's vocabulary index (≈ 0.5 s): built before the first keystroke needs it
    (a request that comes first builds it itself)."""
    engine.target.piece_index()
    if recipe.draft_heals and engine.draft is not None:
        engine.draft.piece_index()
