"""Drafters: cheap guesses of the target model's next tokens, verified by the engine.

Owns the drafters. Each is an object with one interface, as llama.cpp's `common_speculative`
implementations are: `begin` a generation, `draft` tokens that continue the history (none when
drafting does not pay at this step), `accept` how many of its draft the target verified; each
keeps its own counts and its own acceptance statistics in the cost model. There are two: the
draft model (`ModelDrafter`, a small model with the target's vocabulary) and prompt lookup
(`NgramDrafter` over an `NgramLookup` that copies what followed the latest tokens elsewhere in
the prompt, the suffix, other documents or the previous suggestion). Also owns the vocabulary
check that decides whether a draft model may propose tokens for a target at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from airgap_lsp.completion.adaptive import CostModel, NgramMode
from airgap_lsp.completion.runtime import AbortCheck, RuntimeError_
from airgap_lsp.completion.sequences import SequenceCache, Slot, common_prefix

if TYPE_CHECKING:
    from airgap_lsp.completion.engine import DecodeOptions

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DraftCounts:
    """One drafter's work in one generation."""

    drafted: int = 0  # tokens proposed (n-gram lookup: once verified)
    accepted: int = 0  # of them, tokens the target verified
    prompt_tokens: int = 0  # prompt tokens evaluated to catch up with the history


class Drafter(Protocol):
    """Proposes tokens that continue the history; the engine verifies them with the target."""

    name: str  # the DecodeStats fields its counts go to (drafted_<name>, accepted_<name>)
    counts: DraftCounts

    def begin(self, history: list[int]) -> None:
        """A generation starts from `history` (the prompt; the engine appends the output to
        this very list as it is verified)."""

    def draft(self, history: Sequence[int], room: int) -> list[int]:
        """At most `room` tokens continuing the history; [] when a draft does not pay now."""
        ...

    def accept(self, drafted: int, accepted: int) -> None:
        """The target verified this drafter's last draft: `accepted` of `drafted` tokens."""


def _argmax(row: np.ndarray) -> int:
    return int(np.argmax(row))


def _confidence(row: np.ndarray) -> float:
    """Softmax probability of the top token."""
    top = float(row.max())
    return 1.0 / float(np.exp(row - top).sum())


class ModelDrafter:
    """Greedy tokens of the draft model, drafted while they are likely enough.

    The draft's slot always holds exactly the history; drafting happens on a scratch copy of
    it, so rejected drafts never need a rollback (which recurrent state could not do after
    one-token steps) and the copy is simply dropped. The draft model first catches up with the
    prompt, and only when that is expected to cost less than drafting saves on this output.
    """

    name = "model"

    def __init__(
        self,
        cache: SequenceCache,
        scratch: int,
        costs: CostModel,
        options: DecodeOptions,
        draft_max: int,
        key: str,
        abort: AbortCheck,
    ) -> None:
        self.cache = cache
        self.scratch = scratch  # the draft context's sequence for drafting
        self.costs = costs
        self.options = options
        self.draft_max = draft_max  # the engine's most draft tokens per step
        self.key = key
        self.abort = abort
        # Asked for alone, the draft model drafts even where the costs say it does not pay;
        # verifying one by one (the exactness debug switch) drafts all it may.
        self.forced = options.drafting == "model"
        self.exhaustive = options.verify_one_by_one
        self.counts = DraftCounts()
        self.slot: Slot | None = None
        self.failed = False
        self.prompt_length = 0

    def begin(self, history: list[int]) -> None:
        self.prompt_length = len(history)

    def draft(self, history: Sequence[int], room: int) -> list[int]:
        if self.failed:
            return []
        k_max = min(self.draft_max, self.options.draft_max, room)
        costs = self.costs
        if not (self.forced or self.exhaustive or costs.draft_can_pay(k_max)):
            return []
        k = k_max if self.exhaustive else costs.best_model_draft(k_max)
        if self.forced and k == 0:
            k = min(k_max, 2)
        if k > 0 and self._catchup_pays(history):
            return self._drafts(history, k)
        return []

    def accept(self, drafted: int, accepted: int) -> None:
        self.counts.accepted += accepted
        self.costs.model.observe(drafted, accepted)

    def _catchup_pays(self, history: Sequence[int]) -> bool:
        """Whether bringing the draft model up to date with the prompt costs less than
        speculation is expected to save on the rest of this output."""
        if self.forced or self.exhaustive or self.slot is not None:
            return True
        have = max(common_prefix(s.tokens, history) for s in self.cache.slots)
        behind = len(history) - have
        costs = self.costs
        t1 = costs.target_step_ms or 80.0
        d = costs.draft_step_ms or 0.3 * t1
        k = max(costs.best_model_draft(self.draft_max), 1)
        ms_per_token = 1.0 / costs.rate(costs.model.p, k, d)
        written = len(history) - self.prompt_length
        remaining = max(self.options.expected_tokens - written, 1)
        return behind * costs.draft_prompt_ms < remaining * (t1 - ms_per_token)

    def _drafts(self, history: Sequence[int], k: int) -> list[int]:
        """k greedy tokens of the draft model continuing the history (fewer where it is
        unsure); [] and no more drafting in this generation if the draft model fails."""
        cache = self.cache
        t_step = time.monotonic()
        try:
            if self.slot is None:
                t0 = time.monotonic()
                prepared = cache.prepare(self.key, history, abort=self.abort)
                self.slot = prepared.slot
                self.counts.prompt_tokens += prepared.evaluated
                if prepared.evaluated >= 16:
                    ms = (time.monotonic() - t0) * 1000 / prepared.evaluated
                    self.costs.observe_draft_prompt(ms)
                t_step = time.monotonic()  # the prompt catch-up is accounted for apart
            else:
                keep = min(common_prefix(self.slot.tokens, history), len(history) - 1)
                keep = cache.truncate(self.slot, keep)
                cache.extend(self.slot, history[keep:], abort=self.abort)
            llama = cache.llama
            drafts = [_argmax(llama.logits(-1))]
            p_min = self.options.draft_p_min
            if k > 1 and _confidence(llama.logits(-1)) >= p_min:
                scratch = self.scratch
                llama.seq_rm(scratch, -1, -1)
                llama.seq_cp(self.slot.seq, scratch)
                pos = len(history)
                while len(drafts) < k:
                    llama.decode([drafts[-1]], pos, seq=scratch, abort=self.abort)
                    pos += 1
                    row = llama.logits(-1)
                    drafts.append(_argmax(row))
                    if _confidence(row) < p_min:
                        break
                llama.seq_rm(scratch, -1, -1)
            # What drafting cost per drafted token, bringing the draft up to date included.
            self.costs.observe_draft((time.monotonic() - t_step) * 1000 / len(drafts))
        except RuntimeError_ as exc:
            log.warning("draft model failed (%s); continuing without it", exc)
            self.failed = True
            return []
        self.counts.drafted += len(drafts)
        return drafts


class NgramDrafter:
    """Prompt-lookup drafts, verified where the cost model says a batch pays for them.

    Acceptance is tracked apart for a fresh match, a copy under way (the longest n-gram
    matched, or the previous draft was accepted whole) and a copy resumed after a
    substitution: the user's code repeating a block is copied far more reliably than a
    fresh match predicts.
    """

    name = "ngram"

    def __init__(self, costs: CostModel, options: DecodeOptions) -> None:
        self.costs = costs
        self.options = options
        self.exhaustive = options.verify_one_by_one
        self.lookup = NgramLookup()
        self.counts = DraftCounts()
        self.copying = False  # the last step verified an n-gram draft whole
        self.mode: NgramMode = "fresh"

    def begin(self, history: list[int]) -> None:
        self.lookup.reset([*self.options.ngram_sources], live=history)

    def draft(self, history: Sequence[int], room: int) -> list[int]:
        lookup = self.lookup
        lookup.extended()  # index what was appended to the history since
        proposal = lookup.propose(history, min(self.options.ngram_max, room))
        # A match of the longest n-gram is a copy in the making, as is the continuation
        # of a draft accepted whole.
        self.copying = self.copying or lookup.last_order >= lookup.max_n
        self.mode = "copy" if self.copying else "resume" if lookup.realigned else "fresh"
        n = len(proposal) if self.exhaustive else self.costs.ngram_pays(len(proposal), self.mode)
        if n <= 0:
            self.copying = False  # this step verifies no n-gram draft
            return []
        return proposal[:n]

    def accept(self, drafted: int, accepted: int) -> None:
        # Counted once verified: a draft whose verification was cancelled is not counted.
        self.counts.drafted += drafted
        self.counts.accepted += accepted
        self.costs.ngram_tracker(self.mode).observe(drafted, accepted)
        self.copying = accepted == drafted


@dataclass(slots=True)
class NgramLookup:
    """Prompt lookup over token sources (no model cost).

    The latest `n` generated tokens (n from max_n down to min_n) are looked up in the sources;
    the tokens that followed the most recent match are proposed. While a copy is under way the
    drafter also remembers where in its source the copy stands, so that after a substitution
    (the next test case's new name, value or currency) it finds its place again next to that
    position from the last one or two tokens, instead of losing the copy until a long n-gram
    matches again.
    """

    max_n: int = 4
    min_n: int = 2
    behind: int = 4  # how far before and after the expected source position a copy may resume
    ahead: int = 12
    _sources: list[Sequence[int]] = field(default_factory=list)
    _index: dict[tuple[int, ...], tuple[int, int]] = field(default_factory=dict)
    _live_indexed: int = 0
    # (source, position of the next token to copy, len(history) at that moment)
    _copy: tuple[int, int, int] | None = None
    _guessed: bool = False  # the last proposal guessed a substitution
    last_order: int = 0  # length of the n-gram the last proposal matched (0: none)
    realigned: bool = False  # the last proposal resumed a copy next to where it stood

    def reset(self, sources: Sequence[Sequence[int]], live: Sequence[int] = ()) -> None:
        """Index fixed sources, then `live` (the growing prompt + output, indexed as it grows:
        call `extended` after each append)."""
        self._sources = [s for s in sources if s]
        self._index = {}
        self._copy = None
        self._guessed = False
        for si, src in enumerate(self._sources):
            self._add(si, src, 0)
        self._sources.append(live)
        self._live_indexed = 0
        self.extended()

    def _add(self, si: int, src: Sequence[int], start: int) -> None:
        # Only n-grams that have a continuation; later positions overwrite earlier ones, so
        # the most recent occurrence wins.
        for n in range(self.min_n, self.max_n + 1):
            for i in range(max(0, start - n + 1), len(src) - n):
                self._index[tuple(src[i : i + n])] = (si, i + n)

    def extended(self) -> None:
        live = self._sources[-1]
        if len(live) > self._live_indexed + 1:
            self._add(len(self._sources) - 1, live, max(self._live_indexed - 1, 0))
        self._live_indexed = len(live) - 1

    def propose(self, history: Sequence[int], k: int) -> list[int]:
        self.last_order = 0
        self.realigned = False
        if k <= 0:
            return []
        hit: tuple[int, int] | None = None
        for n in range(self.max_n, self.min_n - 1, -1):
            if len(history) >= n:
                hit = self._index.get(tuple(history[-n:]))
                if hit is not None:
                    self.last_order = n
                    break
        guessed = False
        if self.last_order < self.max_n:
            resumed = self._resume(history)
            if resumed is not None:
                si, end, guessed = resumed
                hit, self.realigned = (si, end), True
        if hit is None:
            # The copy may resume after a longer substitution: keep its place for a while.
            if self._copy is not None and len(history) - self._copy[2] > self.ahead:
                self._copy = None
            return []
        si, end = hit
        self._copy = (si, end, len(history))
        self._guessed = guessed
        return list(self._sources[si][end : end + k])

    def _resume(self, history: Sequence[int]) -> tuple[int, int, bool] | None:
        """Where the copy under way continues: right after the token that was just replaced,
        else the source position nearest to where it would stand had every new token replaced
        one source token, that follows the last two (else the last one) generated tokens."""
        if self._copy is None or not history:
            return None
        si, pos, seen = self._copy
        src = self._sources[si]
        expected = pos + len(history) - seen
        new = history[seen:]
        if (
            new
            and not (self._guessed and len(new) == 1)
            and expected < len(src)
            and list(new[:-1]) == list(src[pos : expected - 1])
            and new[-1] != src[expected - 1]
        ):
            # The copy held up to a token that was replaced by another: take it as a
            # substitution and go on copying after the token it replaced.
            return si, expected, True
        for m in (2, 1):
            if len(history) < m:
                continue
            tail = list(history[-m:])
            best: int | None = None
            for j in range(max(m, expected - self.behind), min(len(src), expected + self.ahead)):
                if list(src[j - m : j]) == tail and (
                    best is None or abs(j - expected) < abs(best - expected)
                ):
                    best = j
            if best is not None:
                return si, best, False
        return None


@dataclass(frozen=True, slots=True)
class VocabCheck:
    compatible: bool
    reason: str = ""


def check_draft_vocab(
    target: tuple[int, int, tuple[str, ...]], draft: tuple[int, int, tuple[str, ...]]
) -> VocabCheck:
    """Accept a draft model as llama.cpp's speculative example does: same vocabulary type,
    sizes within 128 tokens, and the same spelling of sampled tokens."""
    t_type, t_n, t_texts = target
    d_type, d_n, d_texts = draft
    if t_type != d_type:
        return VocabCheck(False, f"vocabulary types differ ({t_type} vs {d_type})")
    if abs(t_n - d_n) > 128:
        return VocabCheck(False, f"vocabulary sizes differ ({t_n} vs {d_n})")
    for i, (a, b) in enumerate(zip(t_texts, d_texts, strict=False)):
        if a != b:
            return VocabCheck(False, f"token spellings differ (sample {i}: {a!r} vs {b!r})")
    return VocabCheck(True)
