"""A closed document's memory is the first to go: `Engine.forget` reaches the sequence slots.

Two documents fill both slots of a context; closing the more recently used one must make a
third document take that slot, so the document still open keeps its prompt in memory
(least-recently-used alone would have evicted it).
"""

from __future__ import annotations

from airgap_lsp.completion.decoding import DecodeOptions
from airgap_lsp.completion.engine import Engine
from airgap_lsp.completion.runtime import Model

OPTIONS = DecodeOptions(max_tokens=2, drafting="none")


def _slot_of(engine: Engine, prompt: list[int]) -> int | None:
    for slot in engine.tcache.slots:
        if slot.tokens[: len(prompt)] == prompt:
            return slot.seq
    return None


def test_a_closed_documents_slot_is_reused_before_an_open_ones(target: Model):
    engine = Engine(target, None, n_ctx=256, n_seq=2)
    a = target.tokenize("def alpha(x):\n    return x + 1\n" * 3)
    b = target.tokenize("class Beta:\n    value = 2\n" * 3)
    c = target.tokenize("import os\nprint(os.getcwd())\n" * 3)
    engine.generate("a.py", a, OPTIONS)
    engine.generate("b.py", b, OPTIONS)
    slot_a, slot_b = _slot_of(engine, a), _slot_of(engine, b)
    assert slot_a is not None and slot_b is not None and slot_a != slot_b

    engine.forget("b.py")  # b closed; a, the least recently used, is still open
    engine.generate("c.py", c, OPTIONS)
    assert _slot_of(engine, c) == slot_b
    assert _slot_of(engine, a) == slot_a  # the open document kept its memory
    again = engine.generate("a.py", a, OPTIONS)
    assert again.stats.reused_tokens > 0 or target.is_recurrent
