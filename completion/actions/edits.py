"""Edits of a document: the minimal edit between old and new text of a range, and applying
edits (offsets in the text as it was planned).
"""

from __future__ import annotations

from collections.abc import Sequence

from airgap_lsp.completion.actions.data import Edit


def minimal_edit(text: str, start: int, end: int, new: str) -> Edit | None:
    """The edit replacing text[start:end] with `new`, trimmed to the lines that change;
    None when nothing changes."""
    old = text[start:end]
    if old == new:
        return None
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    head = 0
    while head < min(len(old_lines), len(new_lines)) - 1 and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while (
        tail < min(len(old_lines), len(new_lines)) - head - 1
        and old_lines[-1 - tail] == new_lines[-1 - tail]
    ):
        tail += 1
    lead = sum(len(s) for s in old_lines[:head])
    trail = sum(len(s) for s in old_lines[len(old_lines) - tail :]) if tail else 0
    new_mid = "".join(new_lines[head : len(new_lines) - tail])
    return Edit(start + lead, end - trail, new_mid)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """`text` with non-overlapping edits applied (offsets in the original text)."""
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: e.start] + e.new_text + text[e.end :]
    return text
