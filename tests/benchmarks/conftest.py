"""Shared fixtures for the harness tests; `slow` tests run only when asked for.

Run them with `-m slow` (or any -m expression naming slow) or `AIRGAP_RUN_SLOW=1`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.harness import (
    HumanEvalTask,
    InfillTask,
    load_humaneval_plus,
    load_single_line_infilling,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: full-dataset checks (minutes on a shared machine)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("AIRGAP_RUN_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or AIRGAP_RUN_SLOW=1")
    here = Path(__file__).parent
    # This hook sees every collected item; touch only this directory's tests.
    for item in items:
        if item.get_closest_marker("slow") and item.path.is_relative_to(here):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def he_tasks() -> list[HumanEvalTask]:
    return load_humaneval_plus()


@pytest.fixture(scope="session")
def infill_tasks() -> list[InfillTask]:
    return load_single_line_infilling()
