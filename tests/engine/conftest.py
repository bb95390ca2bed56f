"""Engine tests reuse the synthetic models and add a plain greedy reference decoder and the real
target loaded as the server loads it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from airgap_lsp.completion.backend import load_backend
from airgap_lsp.completion.runtime import LlamaContext, Model
from airgap_lsp.completion.settings import CompletionSettings, ModelSettings, Settings
from tests.synthetic.conftest import (  # noqa: F401  (fixtures)
    synthetic_models,
    synthetic_other_vocab,
    synthetic_qwen2_pair,
    synthetic_qwen35_pair,
)


def greedy_reference(
    model: Model, prompt: Sequence[int], n: int, n_ctx: int = 2048
) -> tuple[list[int], list[float]]:
    """Plain greedy decoding, one token per decode, in a fresh context: the ground truth.
    Returns the tokens and the top-2 logit margin at each step."""
    llama = LlamaContext(model, n_ctx=n_ctx, n_seq=1)
    llama.decode(list(prompt), 0)
    out: list[int] = []
    margins: list[float] = []
    pos = len(prompt)
    for _ in range(n):
        row = llama.logits(-1)
        top2 = np.partition(row, -2)[-2:]
        margins.append(float(abs(top2[1] - top2[0])))
        tok = int(np.argmax(row))
        if model.is_eog(tok):
            break
        out.append(tok)
        llama.decode([tok], pos)
        pos += 1
    llama.close()
    return out, margins


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def load(path: Path) -> Model:
    return Model(path)


@pytest.fixture(scope="module", params=["qwen2", "qwen35"])
def target(request, synthetic_qwen2_pair, synthetic_qwen35_pair):  # noqa: F811
    """Each synthetic target in turn: a transformer and a hybrid (recurrent) model."""
    paths = synthetic_qwen2_pair if request.param == "qwen2" else synthetic_qwen35_pair
    model = Model(paths[0])
    yield model
    model.close()


@pytest.fixture(scope="module")
def plain_backend(target_path):
    """The real target alone as the server loads it (engine process included), no draft, no
    time budgets: what it writes depends on the model only."""
    settings = Settings(
        models=ModelSettings(target=str(target_path), draft=""),
        completion=CompletionSettings(drafting="none", max_prompt_ms=0, max_predict_ms=0),
    )
    backend = load_backend(settings).backend
    yield backend
    backend.close()
