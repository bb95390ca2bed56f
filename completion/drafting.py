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
    the tokens that followed the most recent match are proposed.
    """

    max_n: int = 4
    min_n: int = 2
    _sources: list[Sequence[int]] = field(default_factory=list)
    _index: dict[tuple[int, ...], tuple[int, int]] = field(default_factory=dict)
    _live_indexed: int = 0
    last_order: int = 0  # length of the n-gram the last proposal matched (0: none)

    def reset(self, sources: Sequence[Sequence[int]], live: Sequence[int] = ()) -> None:
        """Index fixed sources, then `live` (the growing prompt + output, indexed as it grows:
        call `extended` after each append)."""
        self._sources = [s for s in sources if s]
        self._index = {}
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
        if k <= 0:
            return []
        for n in range(self.max_n, self.min_n - 1, -1):
            if len(history) < n:
                continue
            hit = self._index.get(tuple(history[-n:]))
            if hit is None:
                continue
            si, end = hit
            self.last_order = n
            return list(self._sources[si][end : end + k])
        return []


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
