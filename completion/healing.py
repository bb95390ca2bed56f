"""Token healing: generating as if the last prompt token had not been cut where the cursor is.

A prompt that ends in the middle of what would be one token (`    ` before `return`, `x = `
before a name, `sor` of `sorted`) shows the model a tokenization it never saw in training: the
text `    return` is the tokens `   ` + ` return`, so after a prompt ending in a four-space token
the model writes ` return` and the suggestion has five spaces. Healing backs the prompt off by
its last token and makes the first generated tokens spell that token's text again, choosing
freely among every tokenization that does (`   ` then ` return`, or `    ` then `return`, …).

This module owns the vocabulary index that answers "which tokens may come next, given the text
still to be spelled" and the rule for how much of the healed text the output has spelled.
Knows nothing of llama.cpp: it takes each token's bytes.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

import numpy as np


class PieceIndex:
    """Every token's bytes, sorted for prefix search."""

    def __init__(self, n_vocab: int, piece: Callable[[int], bytes]) -> None:
        pairs = sorted((piece(t), t) for t in range(n_vocab))
        pairs = [(p, t) for p, t in pairs if p]  # control tokens spell nothing
        self._pieces = [p for p, _ in pairs]
        self._ids = np.array([t for _, t in pairs], dtype=np.int64)
        self._exact: dict[bytes, list[int]] = {}
        for p, t in pairs:
            self._exact.setdefault(p, []).append(t)
        self._memo: dict[bytes, np.ndarray] = {}

    def allowed(self, rest: bytes) -> np.ndarray:
        """Tokens consistent with spelling `rest` next: those that start with all of it, and
        those that are a shorter start of it (the rest follows in later tokens)."""
        hit = self._memo.get(rest)
        if hit is not None:
            return hit
        lo = bisect.bisect_left(self._pieces, rest)
        hi = bisect.bisect_left(self._pieces, _successor(rest)) if rest else len(self._pieces)
        shorter = [t for k in range(1, len(rest)) for t in self._exact.get(rest[:k], ())]
        out = np.concatenate([self._ids[lo:hi], np.array(shorter, dtype=np.int64)])
        if len(self._memo) < 4096:
            self._memo[rest] = out
        return out


def _successor(prefix: bytes) -> bytes:
    """The least byte string above every string that starts with `prefix`."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return prefix + b"\xff" * 64  # nothing spells more than 64 bytes of 0xff
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def still_to_spell(heal: bytes, produced: bytes) -> bytes:
    """What of `heal` the next token must still spell after the output `produced` (empty once
    it is spelled, or when `produced` already left it, as a rejected draft can)."""
    if len(produced) >= len(heal) or not heal.startswith(produced):
        return b""
    return heal[len(produced) :]


def back_off(
    tokens: Sequence[int], piece: Callable[[int], bytes], text: str
) -> tuple[list[int], str]:
    """The tokens of `text` without the last one, and that token's text (to be healed); the
    tokens unchanged and "" when there is nothing to heal or the cut splits a character."""
    if not tokens:
        return list(tokens), ""
    last = piece(tokens[-1])
    try:
        healed = last.decode("utf-8")
    except UnicodeDecodeError:
        return list(tokens), ""
    if not healed or not text.endswith(healed):
        return list(tokens), ""
    return list(tokens[:-1]), healed
