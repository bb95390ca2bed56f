"""The synthetic models load and run in llama.cpp through completion.runtime, are useful for
speculative-decoding tests (clear greedy choices; a draft that agrees often but not always),
and Qwen3.5's recurrent memory can be rolled back (n_rs_seq) and saved/restored exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from airgap_lsp.completion.drafting import check_draft_vocab
from airgap_lsp.completion.runtime import LlamaContext, Model

from .make_gguf import (
    CONTROL_TOKENS,
    PairSpec,
    SyntheticModels,
    build_vocab,
    make_all,
    make_qwen2_pair,
)

# Logits are O(10); llama.cpp recomputing the same tokens in other batch shapes differs by
# ~1e-6 at most, so 1e-4 separates "the same state" from "a different state" with room.
TOL = 1e-4

PROMPTS = (
    "def fibonacci(n: int) -> int:\n",
    "class Cache:\n    def get(self, key",
    "import os\nimport sys\n\n\ndef main(argv",
    "for i in range(10):\n    print(i, ",
)

ROUND_TRIP_TEXTS = (
    "def add(a: int, b: int) -> int:\n    return a + b\n",
    "\tif x  ==  0:   # tabs, runs of spaces\r\n\t\tpass\n",
    "s = 'café ✓ 日本語 🐍'\nprint(f\"{s!r:>10}\")\n",
    "<|fim_prefix|> is plain text here\n",
    "",
)


@pytest.fixture(scope="module")
def models(
    synthetic_qwen2_pair: tuple[Path, Path],
    synthetic_qwen35_pair: tuple[Path, Path],
    synthetic_other_vocab: Path,
) -> Iterator[dict[str, Model]]:
    loaded = {
        "qwen2-target": Model(synthetic_qwen2_pair[0]),
        "qwen2-draft": Model(synthetic_qwen2_pair[1]),
        "qwen35-target": Model(synthetic_qwen35_pair[0]),
        "qwen35-draft": Model(synthetic_qwen35_pair[1]),
        "other-vocab": Model(synthetic_other_vocab),
    }
    yield loaded
    for m in loaded.values():
        m.close()


EXPECTED = {
    "qwen2-target": ("qwen2", False),
    "qwen2-draft": ("qwen2", False),
    "qwen35-target": ("qwen35", True),
    "qwen35-draft": ("qwen35", True),
    "other-vocab": ("qwen2", False),
}


def _llama(model: Model, **kw: int) -> LlamaContext:
    return LlamaContext(model, n_ctx=256, n_batch=64, threads=1, **kw)


def _greedy(model: Model, prompt: list[int], n: int) -> tuple[list[int], list[float]]:
    """n greedy tokens after `prompt`, and the top-2 logit margin at each step."""
    llama = _llama(model)
    llama.decode(prompt, 0)
    out: list[int] = []
    margins: list[float] = []
    for i in range(n):
        logits = llama.logits()
        top2 = np.partition(logits, -2)[-2:]
        margins.append(float(abs(top2[1] - top2[0])))
        out.append(int(np.argmax(logits)))
        llama.decode([out[-1]], len(prompt) + i)
    llama.close()
    return out, margins


@pytest.mark.parametrize("name", list(EXPECTED))
def test_loads_with_expected_architecture(models: dict[str, Model], name: str) -> None:
    model = models[name]
    arch, recurrent = EXPECTED[name]
    assert model.arch == arch
    assert model.is_recurrent is recurrent
    if name != "other-vocab":
        assert model.n_vocab == build_vocab().size
    assert model.path.stat().st_size < 5_000_000


@pytest.mark.parametrize("name", list(EXPECTED))
def test_control_tokens_are_detected(models: dict[str, Model], name: str) -> None:
    model = models[name]
    c = model.control
    assert c.has_fim
    spelled = {
        "<|fim_prefix|>": c.fim_prefix,
        "<|fim_suffix|>": c.fim_suffix,
        "<|fim_middle|>": c.fim_middle,
        "<|fim_pad|>": c.fim_pad,
        "<|file_sep|>": c.file_sep,
        "<|repo_name|>": c.repo_name,
        "<|endoftext|>": c.eos,
        "<|im_end|>": c.eot,
    }
    for text, token in spelled.items():
        assert token is not None, text
        assert model.token_text(token) == text
        assert model.is_control(token)
        assert model.tokenize(text, special=True) == [token]
        assert len(model.tokenize(text)) > 1  # not special: plain text
    for text in ("<|endoftext|>", "<|im_end|>", "<|file_sep|>", "<|fim_pad|>"):
        assert model.is_eog(model.tokenize(text, special=True)[0])
    assert not model.is_eog(c.fim_middle)  # type: ignore[arg-type]
    assert all(model.tokenize(t, special=True) != [] for t in CONTROL_TOKENS)
    assert not model.add_bos


@pytest.mark.parametrize("name", list(EXPECTED))
def test_tokenize_round_trips_python(models: dict[str, Model], name: str) -> None:
    model = models[name]
    for text in ROUND_TRIP_TEXTS:
        tokens = model.tokenize(text)
        assert model.detokenize(tokens) == text
    code = ROUND_TRIP_TEXTS[0]
    # The learned merges make code cheaper than one token per byte.
    assert len(model.tokenize(code)) < len(code.encode()) / 2


def test_vocabularies_are_shared_or_refused(models: dict[str, Model]) -> None:
    fp = {name: m.vocab_fingerprint(step=1) for name, m in models.items()}
    assert fp["qwen2-target"] == fp["qwen2-draft"] == fp["qwen35-target"] == fp["qwen35-draft"]
    assert fp["other-vocab"] != fp["qwen2-target"]
    assert fp["other-vocab"][1] != fp["qwen2-target"][1]
    for draft in ("qwen2-draft", "qwen35-draft"):
        target = models[draft.replace("draft", "target")]
        assert check_draft_vocab(
            target.vocab_fingerprint(), models[draft].vocab_fingerprint()
        ).compatible
    verdict = check_draft_vocab(
        models["qwen2-target"].vocab_fingerprint(), models["other-vocab"].vocab_fingerprint()
    )
    assert not verdict.compatible
    assert "spellings differ" in verdict.reason


@pytest.mark.parametrize("name", list(EXPECTED))
def test_greedy_decoding_has_clear_choices(
    models: dict[str, Model], name: str, synthetic_report: dict[str, str]
) -> None:
    model = models[name]
    margins: list[float] = []
    for prompt in PROMPTS[:2]:
        out, m = _greedy(model, model.tokenize(prompt), 50)
        assert len(out) == 50
        assert not any(model.is_control(t) for t in out)
        assert len(set(out)) >= 5  # not stuck on one token
        margins += m
    share = float(np.mean(np.array(margins) > 0.1))
    synthetic_report[f"{name} top-2 margin > 0.1"] = f"{share:.0%} of {len(margins)} steps"
    assert share >= 0.9


@pytest.mark.parametrize("arch", ["qwen2", "qwen35"])
def test_draft_agrees_often_but_not_always(
    models: dict[str, Model], arch: str, synthetic_report: dict[str, str]
) -> None:
    """The draft's greedy token given the target's own greedy continuation so far, i.e. what
    speculative decoding would accept."""
    target, draft = models[f"{arch}-target"], models[f"{arch}-draft"]
    rates: list[float] = []
    for prompt in PROMPTS:
        tokens = target.tokenize(prompt)
        wanted, _ = _greedy(target, tokens, 40)
        llama = _llama(draft)
        llama.decode(tokens + wanted[:-1], 0, logits="all")
        guessed = [int(np.argmax(llama.logits(len(tokens) - 1 + i))) for i in range(40)]
        llama.close()
        rates.append(float(np.mean(np.array(guessed) == np.array(wanted))))
    synthetic_report[f"{arch} draft agreement"] = (
        " ".join(f"{r:.0%}" for r in rates) + f" (mean {np.mean(rates):.0%})"
    )
    assert 0.4 <= np.mean(rates) <= 0.9
    assert all(0.1 < r < 1.0 for r in rates)


def _logits_after(model: Model, tokens: list[int], splits: list[int] | None = None) -> np.ndarray:
    """Logits after evaluating `tokens` in a fresh context, in pieces of the given sizes."""
    llama = _llama(model)
    pos = 0
    for size in splits or [len(tokens)]:
        llama.decode(tokens[pos : pos + size], pos)
        pos += size
    assert pos == len(tokens)
    out = llama.logits().copy()
    llama.close()
    return out


@pytest.fixture(scope="module")
def qwen35_case(models: dict[str, Model]) -> tuple[Model, list[int], list[int], int]:
    model = models["qwen35-target"]
    prompt = model.tokenize("def fibonacci(n: int) -> int:\n    if n < 2:\n")
    batch = model.tokenize(" return fibonacci(n - 1) + fibonacci")[:5]
    assert len(batch) == 5
    other = next(t for t in range(300, 400) if t != batch[2])
    return model, prompt, batch, other


def test_qwen35_rollback_with_n_rs_seq_is_exact(
    qwen35_case: tuple[Model, list[int], list[int], int], synthetic_report: dict[str, str]
) -> None:
    model, prompt, batch, other = qwen35_case
    p = len(prompt)
    llama = _llama(model, n_seq=2, n_rs_seq=8)
    assert llama.n_rs_seq == 8
    llama.decode(prompt, 0)
    llama.decode(batch, p, logits="all")
    assert llama.seq_rm(0, p + 2, -1)  # forget the last 3 of the 5
    assert llama.seq_pos_max(0) == p + 1
    llama.decode([other], p + 2)
    got = llama.logits().copy()
    same_splits = _logits_after(model, [*prompt, *batch[:2], other], [p, 2, 1])
    one_batch = _logits_after(model, [*prompt, *batch[:2], other])
    d_splits = float(np.abs(got - same_splits).max())
    d_one = float(np.abs(got - one_batch).max())
    synthetic_report["qwen35 rollback of 3 (n_rs_seq=8) vs fresh context"] = (
        f"max |diff| {d_splits:.2g} (same decode splits), {d_one:.2g} (one batch);"
        f" tolerance {TOL:g}"
    )
    assert max(d_splits, d_one) <= TOL
    # The rolled-back sequence goes on like a fresh one.
    llama.decode(batch[3:], p + 3, logits="all")
    ref = _logits_after(model, [*prompt, *batch[:2], other, *batch[3:]])
    assert np.abs(llama.logits() - ref).max() <= TOL
    llama.close()


def test_qwen35_rollback_is_refused_where_llama_cpp_knows_it_cannot(
    qwen35_case: tuple[Model, list[int], list[int], int],
) -> None:
    model, prompt, batch, _ = qwen35_case
    p = len(prompt)
    for n_rs_seq, back in ((0, 1), (4, 5)):
        llama = _llama(model, n_rs_seq=n_rs_seq)
        llama.decode(prompt, 0)
        llama.decode(batch, p)
        assert not llama.seq_rm(0, p + 5 - back, -1), (n_rs_seq, back)
        llama.close()
    llama = _llama(model, n_rs_seq=8)
    llama.decode(prompt, 0)
    llama.decode(batch, p)
    assert llama.seq_rm(0, p + 4, -1)
    assert not llama.seq_rm(0, p + 3, -1)  # one pending rollback until the next decode
    llama.close()


def test_qwen35_rollback_past_the_last_batch_is_silently_wrong(
    qwen35_case: tuple[Model, list[int], list[int], int],
) -> None:
    """llama.cpp keeps snapshots only for the tokens of the last decoded batch, but seq_rm
    accepts any rollback up to n_rs_seq: going back as far as the batch's start (or
    further) returns True and leaves a wrong state. Callers must never roll back more than
    len(last batch) - 1 tokens. If this test fails, llama.cpp started refusing these."""
    model, prompt, batch, _ = qwen35_case
    p = len(prompt)
    llama = _llama(model, n_rs_seq=8)
    llama.decode(prompt, 0)
    for i, t in enumerate(batch):
        llama.decode([t], p + i)  # one token at a time: no usable snapshot at all
    assert llama.seq_rm(0, p + 2, -1)
    llama.decode(batch[2:], p + 2)
    assert np.abs(llama.logits() - _logits_after(model, prompt + batch)).max() > 1.0
    llama.close()


@pytest.mark.parametrize("arch", ["qwen2", "qwen35"])
def test_seq_state_restores_exactly(
    models: dict[str, Model], arch: str, synthetic_report: dict[str, str]
) -> None:
    model = models[f"{arch}-target"]
    prompt = model.tokenize(PROMPTS[0])
    more = model.tokenize("    return n if n < 2 else fibonacci(n - 1)")
    p = len(prompt)
    llama = _llama(model, n_seq=2)
    llama.decode(prompt, 0)
    state = llama.seq_state(0)
    llama.decode(more, p)
    first = llama.logits().copy()
    llama.set_seq_state(0, state)
    assert llama.seq_pos_max(0) == p - 1
    llama.decode(more, p)
    again = llama.logits().copy()
    # Into another sequence too (what a fork of a cached prefix does).
    llama.set_seq_state(1, state)
    llama.decode(more, p, seq=1)
    other_seq = llama.logits().copy()
    llama.close()
    diff = max(float(np.abs(first - again).max()), float(np.abs(first - other_seq).max()))
    synthetic_report[f"{arch} seq_state/set_seq_state"] = (
        f"{len(state)} bytes, max |diff| {diff:.2g}"
    )
    assert diff <= TOL


def test_qwen2_kv_trim_is_exact(models: dict[str, Model]) -> None:
    model = models["qwen2-target"]
    prompt = model.tokenize(PROMPTS[1])
    batch = model.tokenize(": str) -> int:\n        return")[:5]
    p = len(prompt)
    llama = _llama(model)
    llama.decode(prompt, 0)
    llama.decode(batch, p)
    assert llama.seq_rm(0, p + 2, -1)
    llama.decode([300], p + 2)
    ref = _logits_after(model, [*prompt, *batch[:2], 300])
    assert np.abs(llama.logits() - ref).max() <= TOL
    llama.close()


def test_generation_is_deterministic(tmp_path: Path, synthetic_models: SyntheticModels) -> None:
    again = make_all(tmp_path / "again", seed=0)
    for a, b in zip(synthetic_models.paths(), again.paths(), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    other_seed = make_qwen2_pair(tmp_path / "seed1", PairSpec(seed=1))
    assert other_seed[0].read_bytes() != synthetic_models.qwen2_target.read_bytes()
