"""Speculative decoding on tiny random-weight qwen2 (transformer) and qwen35 (hybrid) pairs.

The reference is plain greedy decoding in a fresh context. With one-token verification the
engine must reproduce it token for token, through many accepted and rejected drafts and
through prompts that change in the middle (recurrent state restored from checkpoints); at full
speed it may only diverge where the reference's top-2 logits nearly tie.
"""

from __future__ import annotations

import sys

import pytest

from airgap_lsp.completion.engine import FINISH_ON_CANCEL, DecodeOptions, Engine
from airgap_lsp.completion.runtime import Model
from tests.engine.conftest import first_divergence, greedy_reference

NEAR_TIE = 0.25  # logits

PROMPTS = (
    "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n",
    "class Cache:\n    def __init__(self):\n        self.items = {}\n\n    def get(self, key):\n",
    "import os\n\ndef read_config(path):\n    with open(path) as f:\n",
    "def count_words(text):\n    counts = {}\n    for word in text.split():\n",
)


@pytest.fixture(scope="module", params=["qwen2", "qwen35"])
def pair(request, synthetic_qwen2_pair, synthetic_qwen35_pair):
    paths = synthetic_qwen2_pair if request.param == "qwen2" else synthetic_qwen35_pair
    target, draft = Model(paths[0]), Model(paths[1])
    return request.param, target, draft


def make_engine(target: Model, draft: Model | None, draft_max: int = 6) -> Engine:
    engine = Engine(target, draft, n_ctx=2048, n_seq=3, draft_max=draft_max)
    engine.tcache.checkpoint_every = 16
    if engine.dcache:
        engine.dcache.checkpoint_every = 16
    return engine


def test_pair_is_what_it_claims(pair):
    arch, target, draft = pair
    assert target.arch == draft.arch == arch
    assert target.is_recurrent == (arch == "qwen35")


def test_one_token_verification_equals_plain_greedy(pair):
    arch, target, draft = pair
    engine = make_engine(target, draft)
    drafted = accepted = 0
    for i, text in enumerate(PROMPTS):
        prompt = target.tokenize(text)
        ref, _ = greedy_reference(target, prompt, 60)
        result = engine.generate(
            f"doc{i}",
            prompt,
            DecodeOptions(max_tokens=60, drafting="model", verify_one_by_one=True),
        )
        assert result.tokens == ref, (arch, i, first_divergence(result.tokens, ref))
        drafted += result.stats.drafted_model
        accepted += result.stats.accepted_model
    # Many drafts were accepted and many rejected: both paths were exercised.
    assert accepted >= 20 and drafted - accepted >= 20, (drafted, accepted)


def test_full_speed_equals_plain_up_to_near_ties(pair):
    arch, target, draft = pair
    engine = make_engine(target, draft)
    report = []
    for i, text in enumerate(PROMPTS):
        prompt = target.tokenize(text)
        ref, margins = greedy_reference(target, prompt, 60)
        result = engine.generate(f"doc{i}", prompt, DecodeOptions(max_tokens=60, drafting="model"))
        j = first_divergence(result.tokens, ref)
        if j is not None:
            assert j < len(margins) and margins[j] < NEAR_TIE, (arch, i, j, margins[j])
            report.append((i, j, round(margins[j], 4)))
        assert result.stats.tokens_per_step > 1.0
    print(f"{arch}: divergences at near-ties (prompt, index, margin): {report}")


def test_prompt_changes_in_the_middle_reuse_state_and_stay_exact(pair):
    arch, target, draft = pair
    engine = make_engine(target, draft)
    base = PROMPTS[0] + PROMPTS[1] + PROMPTS[2]
    edits = [
        base,
        base.replace("return n", "return n * 2"),  # an edit in the middle
        base.replace("return n", "return n * 2") + "        line = f.readline()\n",  # typing on
        base[: len(base) // 2],  # a large deletion
        base,  # back to the start
    ]
    reused = []
    for text in edits:
        prompt = target.tokenize(text)
        ref, _ = greedy_reference(target, prompt, 30)
        result = engine.generate(
            "same-doc",
            prompt,
            DecodeOptions(max_tokens=30, drafting="model", verify_one_by_one=True),
        )
        assert result.tokens == ref, (arch, first_divergence(result.tokens, ref))
        reused.append(result.stats.reused_tokens)
    assert reused[0] == 0 and all(r > 0 for r in reused[1:]), reused


def test_ngram_drafting_equals_plain_greedy(pair):
    arch, target, _ = pair
    engine = make_engine(target, None)
    drafted = 0
    for i, text in enumerate(PROMPTS):
        # The model's own continuation, seen before, is what n-gram drafting can copy.
        prompt = target.tokenize(text)
        ref, _ = greedy_reference(target, prompt, 40)
        lookup = tuple(ref)
        result = engine.generate(
            f"n{i}",
            prompt,
            DecodeOptions(
                max_tokens=40, drafting="ngram", verify_one_by_one=True, ngram_sources=(lookup,)
            ),
        )
        assert result.tokens == ref, (arch, i)
        drafted += result.stats.drafted_ngram
        fast = make_engine(target, None).generate(
            f"f{i}", prompt, DecodeOptions(max_tokens=40, drafting="ngram", ngram_sources=(lookup,))
        )
        j = first_divergence(fast.tokens, ref)
        assert j is None or greedy_reference(target, prompt, j + 1)[1][j] < NEAR_TIE
    assert drafted >= 40


def test_cancellation_stops_within_one_step(pair):
    _, target, draft = pair
    engine = make_engine(target, draft)
    prompt = target.tokenize(PROMPTS[1])
    flag = {"set": False, "at": 0}
    count = {"n": 0}

    def stop(text: str) -> int | None:
        count["n"] += 1
        if count["n"] == 8 and not flag["set"]:
            flag["set"], flag["at"] = True, count["n"]
        return None

    result = engine.generate(
        "c", prompt, DecodeOptions(max_tokens=60, drafting="model"), stop, lambda: flag["set"]
    )
    assert result.stop_reason == "cancelled"
    # Tokens already verified in the step that saw the cancel are kept; no new step starts.
    assert result.stats.generated - flag["at"] <= engine.draft_max + 1
    assert result.stats.generated < 60


def test_cancel_at_any_check_returns_cancelled_and_keeps_the_cache_exact(pair):
    """Whichever check sees the cancel (between steps, before drafting, between the pieces of
    a verification batch or inside its graph computation), the request ends as cancelled with
    a prefix of the right output, and the next request on the same document still decodes
    exactly what plain greedy decoding would."""
    arch, target, draft = pair
    engine = make_engine(target, draft)
    prompt = target.tokenize(PROMPTS[3])
    ref, _ = greedy_reference(target, prompt, 30)
    options = DecodeOptions(max_tokens=30, drafting="model", verify_one_by_one=True)
    places: set[str] = set()
    for later in range(0, 40, 3):
        state = {"armed": 0, "calls": 0}

        def arm(text: str, state: dict[str, int] = state) -> int | None:
            state["armed"] = 1  # the first token is out: the prompt phase is over
            return None

        def cancelled(later: int = later, state: dict[str, int] = state) -> bool:
            if not state["armed"]:
                return False
            state["calls"] += 1
            if state["calls"] > later:
                places.add(sys._getframe(1).f_code.co_name)
                return True
            return False

        result = engine.generate("doc", prompt, options, arm, cancelled)
        assert result.stop_reason == "cancelled", (arch, later)
        assert result.tokens == ref[: len(result.tokens)]
        again = engine.generate("doc", prompt, options)
        assert again.tokens == ref, (arch, later, first_divergence(again.tokens, ref))
    assert {"_on_abort", "run"} <= places, places


def test_a_banned_token_is_avoided_at_its_position_only_and_drafting_stays_exact(pair):
    arch, target, draft = pair
    engine = make_engine(target, draft)
    prompt = target.tokenize(PROMPTS[0])
    ref, _ = greedy_reference(target, prompt, 24)
    ban = (3, frozenset({ref[3]}))
    plain = engine.generate(
        "p", prompt, DecodeOptions(max_tokens=24, drafting="none", verify_one_by_one=True, ban=ban)
    )
    assert plain.tokens[:3] == ref[:3] and plain.tokens[3] != ref[3]
    drafted = engine.generate(
        "d", prompt, DecodeOptions(max_tokens=24, drafting="model", verify_one_by_one=True, ban=ban)
    )
    assert drafted.tokens == plain.tokens, (arch, first_divergence(drafted.tokens, plain.tokens))
    assert drafted.stats.drafted_model > 0


def test_incompatible_draft_falls_back_to_plain_decoding(
    synthetic_qwen2_pair, synthetic_other_vocab
):
    target = Model(synthetic_qwen2_pair[0])
    other = Model(synthetic_other_vocab)
    engine = Engine(target, other, n_ctx=1024, n_seq=1)
    assert engine.draft is None and engine.dcache is None
    assert "cannot draft" in engine.draft_warning
    prompt = target.tokenize(PROMPTS[0])
    ref, _ = greedy_reference(target, prompt, 20)
    result = engine.generate("x", prompt, DecodeOptions(max_tokens=20, drafting="model"))
    assert result.tokens == ref
    assert result.stats.drafted_model == 0


def test_prefix_reuse_evaluates_only_the_changed_tail(synthetic_qwen2_pair):
    target = Model(synthetic_qwen2_pair[0])
    engine = make_engine(target, None)
    a = target.tokenize(PROMPTS[0] + PROMPTS[1] + PROMPTS[2])
    b = a[:-7] + target.tokenize("    x = 1\n")
    engine.generate("d", a, DecodeOptions(max_tokens=1, drafting="none"))
    before = engine.target_llama.evaluated_tokens
    result = engine.generate("d", b, DecodeOptions(max_tokens=1, drafting="none"))
    common = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    assert result.stats.reused_tokens == common
    assert engine.target_llama.evaluated_tokens - before == len(b) - common
    # Another document does not evict the first one's cached prefix.
    engine.generate("other", target.tokenize(PROMPTS[3]), DecodeOptions(max_tokens=1))
    before = engine.target_llama.evaluated_tokens
    again = engine.generate("d", b, DecodeOptions(max_tokens=1, drafting="none"))
    assert again.stats.reused_tokens == len(b) - 1
    assert engine.target_llama.evaluated_tokens - before == 1


def test_time_budgets_hold(synthetic_qwen2_pair):
    target = Model(synthetic_qwen2_pair[0])
    engine = make_engine(target, None)
    prompt = target.tokenize(PROMPTS[0] * 4)
    result = engine.generate("b", prompt, DecodeOptions(max_tokens=60, max_predict_ms=0.001))
    assert result.stop_reason == "budget"
    assert 1 <= result.stats.generated < 60  # a partial output is returned
    cold = make_engine(target, None)
    result = cold.generate("p", prompt, DecodeOptions(max_prompt_ms=0.001))
    assert result.stop_reason == "prompt_budget" and result.tokens == []
    # The budget left the slot consistent: the next request completes normally and exactly.
    ref, _ = greedy_reference(target, prompt, 10)
    again = cold.generate("p", prompt, DecodeOptions(max_tokens=10, drafting="none"))
    assert again.tokens == ref


def test_prompt_shrinks_to_fit_the_prompt_time_budget(synthetic_qwen2_pair):
    from airgap_lsp.completion.completer import Completer, CompletionRequest
    from airgap_lsp.completion.planner import MIN_PREFIX_TOKENS, MIN_SUFFIX_TOKENS
    from airgap_lsp.completion.settings import CompletionSettings

    target = Model(synthetic_qwen2_pair[0])
    engine = make_engine(target, None)
    text = "".join(PROMPTS) * 40
    request = CompletionRequest(key="big", text=text, offset=len(text) // 2, path="a.py")
    unbounded = Completer(engine, CompletionSettings(max_prompt_ms=0)).complete(
        request, lambda: False
    )
    engine.reset()
    engine.prompt_ms_per_token = 10.0  # as if this machine evaluated 100 prompt tokens/s
    bounded = Completer(engine, CompletionSettings(max_prompt_ms=1000)).complete(
        request, lambda: False
    )
    assert unbounded is not None and bounded is not None
    assert unbounded.prompt_tokens > 1000
    # The windows at their floor, nothing extra.
    assert bounded.prompt_tokens <= MIN_PREFIX_TOKENS + MIN_SUFFIX_TOKENS + 16
    assert "other files" in bounded.shed


def test_healed_output_spells_the_backed_off_token_first_and_drafting_stays_exact(pair):
    arch, target, draft = pair
    engine = make_engine(target, draft)
    text = PROMPTS[1]
    tokens = target.tokenize(text)
    healed = target.piece(tokens[-1]).decode()
    assert healed.strip()  # a real token to heal, not whitespace only
    prompt = tokens[:-1]
    outputs = []
    for i, drafting in enumerate(("none", "model", "ngram")):
        options = DecodeOptions(
            max_tokens=24, drafting=drafting, verify_one_by_one=True, heal=healed
        )
        result = engine.generate(f"h{i}", prompt, options)
        spelled = b"".join(target.piece(t) for t in result.tokens)
        assert spelled.startswith(healed.encode()), (arch, drafting, spelled[:40])
        assert result.text == spelled.decode("utf-8", "replace")[len(healed) :]
        outputs.append(result.tokens)
    assert outputs[1] == outputs[0] and outputs[2] == outputs[0], arch
    # Unconstrained, the random model does not spell it on its own: the constraint acted.
    free = engine.generate("free", prompt, DecodeOptions(max_tokens=4, drafting="none"))
    assert not b"".join(target.piece(t) for t in free.tokens).startswith(healed.encode())


def test_a_cancelled_short_prompt_tail_is_still_cached_and_a_long_one_is_not(pair):
    arch, target, _ = pair
    engine = make_engine(target, None)
    long = target.tokenize(PROMPTS[0] + PROMPTS[1] + PROMPTS[2])
    assert len(long) > FINISH_ON_CANCEL
    result = engine.generate("a", long, DecodeOptions(max_tokens=8), cancelled=lambda: True)
    assert result.stop_reason == "cancelled" and not result.tokens
    assert engine.tokens_to_evaluate("a", long) == len(long)  # aborted: nothing kept
    engine.generate("a", long[:-10], DecodeOptions(max_tokens=1))
    result = engine.generate("a", long, DecodeOptions(max_tokens=8), cancelled=lambda: True)
    assert result.stop_reason == "cancelled" and not result.tokens
    # The user typed on: the next request evaluates only its own new token.
    assert engine.tokens_to_evaluate("a", long) == 0, arch
    again = engine.generate("a", long, DecodeOptions(max_tokens=1, drafting="none"))
    if not target.is_recurrent:  # a recurrent one rewinds to its last checkpoint instead
        assert again.stats.reused_tokens == len(long) - 1
