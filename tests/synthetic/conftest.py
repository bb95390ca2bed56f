"""Fixtures for the synthetic models: written once per test session into a temporary folder.

`synthetic_qwen2_pair` and `synthetic_qwen35_pair` give (target, draft) paths that share one
vocabulary; `synthetic_other_vocab` gives a qwen2 model with a different vocabulary. Figures
the tests measure (logit margins, draft agreement) go into `synthetic_report` and are printed
in pytest's summary.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .make_gguf import SyntheticModels, make_all

_report: dict[str, str] = {}


@pytest.fixture(scope="session")
def synthetic_models(tmp_path_factory: pytest.TempPathFactory) -> SyntheticModels:
    start = time.perf_counter()
    models = make_all(tmp_path_factory.mktemp("synthetic-gguf"), seed=0)
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in models.paths())
    _report["generated"] = f"in {time.perf_counter() - start:.2f} s: {sizes}"
    return models


@pytest.fixture(scope="session")
def synthetic_qwen2_pair(synthetic_models: SyntheticModels) -> tuple[Path, Path]:
    return synthetic_models.qwen2_target, synthetic_models.qwen2_draft


@pytest.fixture(scope="session")
def synthetic_qwen35_pair(synthetic_models: SyntheticModels) -> tuple[Path, Path]:
    return synthetic_models.qwen35_target, synthetic_models.qwen35_draft


@pytest.fixture(scope="session")
def synthetic_other_vocab(synthetic_models: SyntheticModels) -> Path:
    return synthetic_models.other_vocab


@pytest.fixture(scope="session")
def synthetic_report() -> dict[str, str]:
    return _report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _report:
        terminalreporter.section("synthetic models")
        for key, value in _report.items():
            terminalreporter.write_line(f"{key}: {value}")
