"""Fast start on the synthetic models: a load with cached calibration measures nothing; a load
without measures only the prompt speed (the full calibration waits for the first suggestion,
then runs in steps a request pre-empts, and fills the cache); the draft model is loaded only
where the cost model says it can pay, or when asked for."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from airgap_lsp.completion import calibration
from airgap_lsp.completion.backend import load_backend
from airgap_lsp.completion.calibration import CalibrationCache, Costs, Key
from airgap_lsp.completion.settings import CompletionSettings, ModelSettings, Settings

# Verifying k tokens costs k steps (a CPU) / nearly one step (a GPU).
CPU_LIKE = Costs({1: 10.0, 2: 20.0, 4: 40.0, 8: 80.0, 16: 160.0, 32: 320.0}, 1.0)
GPU_LIKE = Costs({1: 10.0, 2: 10.2, 4: 10.5, 8: 11.0, 16: 12.0, 32: 14.0}, 0.2)


@pytest.fixture
def pair(synthetic_qwen2_pair: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """The pair alone in a folder (an `auto` draft is found there), with a private home."""
    folder = tmp_path / "models"
    folder.mkdir()
    target, draft = synthetic_qwen2_pair
    return (
        Path(shutil.copy(target, folder / "target.gguf")),
        Path(shutil.copy(draft, folder / "draft.gguf")),
    )


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AIRGAP_LSP_CALIBRATION_CACHE", raising=False)
    monkeypatch.delenv("AIRGAP_LSP_FAKE_BACKEND", raising=False)
    # The engine in the server's process, where these tests look at its counters (the same
    # loading runs in the engine's child process otherwise: tests/engine/test_supervised.py).
    monkeypatch.setenv("AIRGAP_LSP_ENGINE_PROCESS", "0")
    # The tiny models' sub-millisecond batches on a busy test machine are any order; whether
    # a measurement is plausible is tested in tests/unit/test_calibration.py.
    monkeypatch.setattr(calibration, "plausible", lambda _costs: True)


def settings(target: Path, draft: str = "", **completion: object) -> Settings:
    models = ModelSettings(
        target=str(target),
        draft=draft,
        context_size=512,
        cached_documents=2,
        threads=1,
        search_paths=(str(target.parent),),
    )
    return Settings(models=models, completion=CompletionSettings(**completion))  # type: ignore[arg-type]


def test_a_warm_cache_measures_nothing_at_load(pair: tuple[Path, Path]) -> None:
    target, _ = pair
    cold = load_backend(settings(target))
    engine = cold.backend.engine  # type: ignore[attr-defined]
    # Only the prompt speed: a warm-up batch and one prompt batch; nothing cached yet.
    assert engine.target_llama.evaluated_tokens == 8 + 64
    assert engine.prompt_ms_per_token is not None
    assert not engine.costs.calibrated
    cache = CalibrationCache()
    key = Key.of(target, 1, 0)
    assert cache.get(key) is None

    refresh = cold.calibration
    assert refresh is not None and refresh.run()  # what the server runs after a suggestion
    stored = cache.get(key)
    assert stored is not None and set(stored.verify_ms) == {1, 2, 4, 8, 16, 32}
    assert engine.costs.calibrated

    warm = load_backend(settings(target))
    engine = warm.backend.engine  # type: ignore[attr-defined]
    assert engine.target_llama.evaluated_tokens == 0
    assert engine.costs.calibrated
    assert engine.costs.verify_ms == stored.verify_ms
    assert engine.prompt_ms_per_token == stored.prompt_ms_per_token


def test_the_refresh_yields_to_requests_and_keeps_what_it_measured(
    pair: tuple[Path, Path],
) -> None:
    target, _ = pair
    loaded = load_backend(settings(target))
    engine = loaded.backend.engine  # type: ignore[attr-defined]
    refresh = loaded.calibration
    assert refresh is not None and refresh.measurement is not None
    measured = refresh.measurement.verify_ms

    def request_waiting() -> bool:  # a request arrives once batches of 1 and 2 are timed
        return 2 in measured

    assert not refresh.run(request_waiting)
    assert not refresh.done and CalibrationCache().get(Key.of(target, 1, 0)) is None
    before = engine.target_llama.evaluated_tokens
    assert refresh.run()
    # Only what was left: batches of 4 (twice), 8, 16 and 32; not the warm-up, the prompt
    # batch (measured at load) or the batches of 1 and 2.
    assert engine.target_llama.evaluated_tokens - before == 4 * 2 + 8 + 16 + 32
    assert CalibrationCache().get(Key.of(target, 1, 0)) is not None


def seed(target: Path, costs: Costs) -> None:
    CalibrationCache().put(Key.of(target, 1, 0), costs)


def test_the_draft_is_not_loaded_where_it_cannot_pay(pair: tuple[Path, Path]) -> None:
    target, _ = pair
    seed(target, CPU_LIKE)
    loaded = load_backend(settings(target, draft="auto"))
    assert loaded.backend.engine.draft is None  # type: ignore[attr-defined]
    # The status says what runs: no "+ draft" for a draft left out.
    origin = loaded.backend.origin
    assert origin is not None and origin.draft == "" and "+ draft" not in origin.choice
    assert "draft not loaded: it cannot pay" in origin.choice, origin.choice


def test_the_draft_is_loaded_where_it_pays(pair: tuple[Path, Path]) -> None:
    target, draft = pair
    seed(target, GPU_LIKE)
    loaded = load_backend(settings(target, draft="auto"))
    assert loaded.backend.engine.draft is not None  # type: ignore[attr-defined]
    assert loaded.backend.engine.draft.path == draft  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["named", "drafting=model"])
def test_the_draft_is_loaded_when_asked_for(pair: tuple[Path, Path], how: str) -> None:
    target, draft = pair
    seed(target, CPU_LIKE)
    if how == "named":
        s = settings(target, draft=str(draft))
    else:
        s = settings(target, draft="auto", drafting="model")
    assert load_backend(s).backend.engine.draft is not None  # type: ignore[attr-defined]


def test_without_a_measurement_a_cpu_starts_without_the_draft(pair: tuple[Path, Path]) -> None:
    target, _ = pair
    loaded = load_backend(settings(target, draft="auto"))
    assert loaded.backend.engine.draft is None  # type: ignore[attr-defined]
