"""Input the engine must refuse or survive, on the tiny synthetic models: a prompt larger than
a slot's context is refused before any cached document is evicted, and text with lone
surrogates (which a client can send) tokenizes."""

from __future__ import annotations

import pytest

from airgap_lsp.completion.engine import DecodeOptions, Engine
from airgap_lsp.completion.runtime import Model

CODE = "def add(a, b):\n    return a + b\n"


def test_a_prompt_larger_than_the_context_is_refused_and_evicts_nothing(target: Model):
    engine = Engine(target, None, n_ctx=256, n_seq=2)
    capacity = engine.target_llama.n_ctx // engine.target_llama.n_seq  # tokens per slot
    assert capacity >= 256
    kept = target.tokenize(CODE)
    first = engine.generate("kept.py", kept, DecodeOptions(max_tokens=4, drafting="none"))
    assert first.stop_reason in ("eog", "max_tokens")
    held = list(engine.tcache.slots[0].tokens)
    assert held[: len(kept)] == kept

    huge = target.tokenize(CODE * 200)
    assert len(huge) > capacity
    result = engine.generate("huge.py", huge, DecodeOptions(max_tokens=16, drafting="none"))
    assert result.stop_reason == "context_full" and result.text == ""
    assert engine.tcache.slots[0].tokens == held  # the other document's cache survived

    # A prompt that fits but leaves less room than max_tokens generates within the room.
    near = huge[: capacity - 3]
    fit = engine.generate("near.py", near, DecodeOptions(max_tokens=64, drafting="ngram"))
    assert fit.stop_reason in ("eog", "max_tokens", "stop")
    assert len(fit.tokens) <= 3
    # And the engine still serves the first document from its cache.
    again = engine.generate("kept.py", kept, DecodeOptions(max_tokens=4, drafting="none"))
    assert again.stats.reused_tokens == len(kept) - 1 or target.is_recurrent


def test_lone_surrogates_tokenize(target: Model):
    for text in ("x = '\ud800'\n", "\udfff", "a\ud83d\n\ude00b", CODE + "\udc80"):
        tokens = target.tokenize(text)
        assert tokens, text
    # Each lone surrogate stands for one character: the rest of the text is unchanged.
    assert target.detokenize(target.tokenize("ab\ud800cd")) == "ab?cd"


def test_an_action_whose_prompt_does_not_fit_gets_a_clear_message():
    from airgap_lsp.completion.actions import ActionError, Run
    from airgap_lsp.completion.actions.outcomes import outcome_of

    run = Run(
        reply="",
        stop_reason="context_full",
        prompt_tokens=9000,
        generated=0,
        prompt_ms=0.0,
        predict_ms=0.0,
        total_ms=0.0,
        drafted=0,
        accepted=0,
    )
    with pytest.raises(ActionError, match=r"9,000 tokens\) does not fit .*contextSize"):
        outcome_of(None, run)  # type: ignore[arg-type]  (refused before the plan is read)
