"""Drafters: cheap guesses of the target model's next tokens, verified by the engine.

Owns the n-gram (prompt-lookup) drafter, which copies what followed the latest tokens
elsewhere in the prompt, the suffix, other documents or the previous suggestion, and the
vocabulary check that decides whether a draft model may propose tokens for a target at all.
The draft *model* drafter lives in the engine, which owns both models' contexts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class NgramDrafter:
    """Prompt-lookup drafting over token sources (no model cost).

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
