"""Prefix and suffix windows around the cursor, cut at line boundaries, within a token budget.

Token counts come from the injected `count_tokens`. Lines are first added up one by one (cheap,
an estimate for sub-word tokenizers) and the joined window is then counted exactly and shrunk
until it fits, so the returned text never exceeds the budget as `count_tokens` measures it.
"""

from __future__ import annotations

from collections.abc import Callable

TokenCounter = Callable[[str], int]


def prefix_window(
    text: str, offset: int, budget: int, count_tokens: TokenCounter, *, quantum: int = 1
) -> int:
    """Start offset of the longest line-aligned window text[start:offset] within `budget`.

    With `quantum` > 1 the first line of the window is rounded to a multiple of `quantum`
    (shrinking the window a little) so the window start, and with it the prompt's token
    prefix, stays put while the cursor moves within a few lines.
    """
    if budget <= 0 or offset <= 0:
        return offset
    cursor_ls = text.rfind("\n", 0, offset) + 1
    if count_tokens(text[cursor_ls:offset]) > budget:
        return _tail_chars(text, cursor_ls, offset, budget, count_tokens)
    starts = [cursor_ls]
    used = count_tokens(text[cursor_ls:offset])
    pos = cursor_ls
    while pos > 0:
        prev = text.rfind("\n", 0, pos - 1) + 1
        used += count_tokens(text[prev:pos])
        if used > budget:
            break
        starts.append(prev)
        pos = prev
    first_line = text.count("\n", 0, starts[-1])
    if quantum > 1 and starts[-1] > 0:
        aligned = -(-first_line // quantum) * quantum
        cursor_line = first_line + len(starts) - 1
        if aligned <= cursor_line:
            starts = starts[: len(starts) - (aligned - first_line)]
    while len(starts) > 1 and count_tokens(text[starts[-1] : offset]) > budget:
        starts.pop()
    return starts[-1]


def suffix_window(text: str, offset: int, budget: int, count_tokens: TokenCounter) -> int:
    """End offset of the longest line-aligned window text[offset:end] within `budget`."""
    if budget <= 0 or offset >= len(text):
        return offset
    first_end = _line_end_incl(text, offset)
    if count_tokens(text[offset:first_end]) > budget:
        return _head_chars(text, offset, first_end, budget, count_tokens)
    ends = [first_end]
    used = count_tokens(text[offset:first_end])
    pos = first_end
    while pos < len(text):
        nxt = _line_end_incl(text, pos)
        used += count_tokens(text[pos:nxt])
        if used > budget:
            break
        ends.append(nxt)
        pos = nxt
    while len(ends) > 1 and count_tokens(text[offset : ends[-1]]) > budget:
        ends.pop()
    return ends[-1]


def fit_head(text: str, budget: int, count_tokens: TokenCounter) -> str:
    """Longest run of whole leading lines of `text` within `budget` ('' if none fits)."""
    if count_tokens(text) <= budget:
        return text
    end = suffix_window(text, 0, budget, count_tokens)
    head = text[:end]
    return head if count_tokens(head) <= budget else ""


def _line_end_incl(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _tail_chars(text: str, lo: int, offset: int, budget: int, count_tokens: TokenCounter) -> int:
    """Smallest start in [lo, offset] with count_tokens(text[start:offset]) <= budget."""
    hi = offset
    while lo < hi:
        mid = (lo + hi) // 2
        if count_tokens(text[mid:offset]) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _head_chars(text: str, offset: int, hi: int, budget: int, count_tokens: TokenCounter) -> int:
    """Largest end in [offset, hi] with count_tokens(text[offset:end]) <= budget."""
    lo = offset
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(text[offset:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo
