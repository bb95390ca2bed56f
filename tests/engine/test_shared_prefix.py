"""A new document starts from another document's memory when their prompts share a prefix.

The repository-level prompt puts the repository's name and other files' context first, so two
documents of one workspace often share hundreds of tokens. The second document must evaluate
only its own tail (counted in evaluated tokens), keep the first document's sequence intact, and
generate exactly what it generates without the copy. Recurrent (hybrid `qwen35`) state is never
cut: the copy starts from the other sequence's last checkpoint within the shared part.
"""

from __future__ import annotations

import pytest

from airgap_lsp.completion.decoding import DecodeOptions
from airgap_lsp.completion.engine import Engine
from airgap_lsp.completion.prompt import Budget, PromptInput, fim_prompt
from airgap_lsp.completion.runtime import Model
from airgap_lsp.completion.sequences import CHECKPOINT_EVERY

OPTIONS = DecodeOptions(max_tokens=8, drafting="none")

OTHER_FILE = "".join(
    f"def helper_{i}(values, scale={i}):\n"
    f"    total = sum(v * scale for v in values if v > {i})\n"
    f"    return total / max(1, len(values))\n\n"
    for i in range(24)
)
DOC_A = "from helpers import helper_3\n\n\ndef mean_of(rows):\n    return helper_3("
DOC_B = "import helpers\n\n\nclass Report:\n    def __init__(self, rows):\n        self.rows = "


def _prompt(model: Model, path: str, text: str) -> list[int]:
    request = PromptInput(text, "\n", path=path, extra_files=[("helpers.py", OTHER_FILE)])
    return fim_prompt(model, request, Budget(prefix=256, suffix=32, extra=600)).tokens


def _shared(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def result_start(model: Model, shared: int) -> int:
    """Where reuse ends: transformers keep the whole shared part; recurrent state only exists
    at the checkpoints within it."""
    return shared if not model.is_recurrent else shared - shared % CHECKPOINT_EVERY


def _second_document_reuses_the_first(model: Model) -> None:
    a, b = _prompt(model, "src/mean.py", DOC_A), _prompt(model, "src/report.py", DOC_B)
    shared = _shared(a, b)
    assert shared > CHECKPOINT_EVERY, "the test needs a shared part longer than a checkpoint"

    # The reference holds the same memory by the older way: the document's own sequence,
    # evaluated as `a` and cut back to the shared part (floats depend on how the prompt was
    # split into batches, so a reference evaluating `b` in one batch may pick another near-tie).
    own = Engine(model, None, n_ctx=1024, n_seq=2)
    own.generate("report.py", a, OPTIONS)
    alone = own.generate("report.py", b, OPTIONS)
    assert alone.stats.reused_tokens == result_start(model, shared)

    engine = Engine(model, None, n_ctx=1024, n_seq=2)
    engine.generate("mean.py", a, OPTIONS)
    before = engine.target_llama.evaluated_tokens
    result = engine.generate("report.py", b, OPTIONS)
    prompt_evaluated = len(b) - result.stats.reused_tokens

    start = result_start(model, shared)
    assert result.stats.reused_tokens == start, (result.stats.reused_tokens, shared)
    assert prompt_evaluated == len(b) - start
    generated = engine.target_llama.evaluated_tokens - before - prompt_evaluated
    assert generated <= OPTIONS.max_tokens
    assert result.tokens == alone.tokens  # the copy is the same memory as evaluating it

    # The first document kept its own sequence: asking it again evaluates nothing new.
    slots = {s.key: s for s in engine.tcache.slots}
    assert slots["mean.py"].tokens[: len(a)] == a
    assert slots["report.py"].tokens[: len(b)] == b
    again = engine.generate("mean.py", a, OPTIONS)
    assert again.stats.reused_tokens >= len(a) - CHECKPOINT_EVERY


def test_a_second_document_evaluates_only_its_tail_synthetic(target: Model):
    _second_document_reuses_the_first(target)


@pytest.mark.model
def test_a_second_document_evaluates_only_its_tail_real(target_path):
    model = Model(target_path)
    try:
        _second_document_reuses_the_first(model)
    finally:
        model.close()
