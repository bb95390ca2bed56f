"""Shared fixtures: the real default models (fetched by the set-up command) and markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AIRGAP_DATA_DIR", ROOT.parent / "shared" / "data"))


def _model_path(name: str) -> Path:
    from airgap_lsp.completion import models

    spec = models.find_spec(name)
    assert spec is not None
    return models.model_path(spec)


@pytest.fixture(scope="session")
def target_path() -> Path:
    path = _model_path("qwen2.5-coder-1.5b")
    if not path.exists():
        pytest.fail(f"default target model missing at {path}: run `airgap-lsp models fetch`")
    return path


@pytest.fixture(scope="session")
def draft_path() -> Path:
    path = _model_path("qwen2.5-coder-0.5b")
    if not path.exists():
        pytest.fail(f"default draft model missing at {path}: run `airgap-lsp models fetch`")
    return path


@pytest.fixture(scope="session")
def vocab(draft_path: Path):  # type: ignore[no-untyped-def]
    """The real Qwen2.5-Coder tokenizer (vocabulary only: loads in well under a second)."""
    from airgap_lsp.completion.runtime import Model

    return Model(draft_path, vocab_only=True)


@pytest.fixture(scope="session")
def humaneval_plus() -> list[dict]:
    import gzip
    import json

    path = DATA_DIR / "HumanEvalPlus-v0.1.10.jsonl.gz"
    if not path.exists():
        pytest.fail(f"HumanEval+ data missing at {path}")
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]
