"""Keeping a document's prompt steady while the user types in it.

The code context (enclosing scopes, definitions named near the cursor, extra files, where the
prefix window starts) is chosen for a request; chosen anew on every keystroke it shifts now and
then, and every shift invalidates the cached prompt from that point on: measured typing in the
middle of a 470-line file (a 1,500-token prompt), 15 % of keystrokes re-evaluated more than
500 prompt tokens.
This module owns the per-document record of the last choice and the rule for reusing it: the
text above the window is unchanged, the cursor is still inside the window, and the grown
prefix stays within a margin of its size when chosen. Then only the text typed since (and the
suffix, which follows it in the prompt) is new to the model.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

GROWTH = 1.25  # the prefix may grow by this factor before the context is chosen anew


@dataclass(frozen=True, slots=True)
class _Choice:
    window_start: int
    above: str  # text[:window_start] when chosen
    head: str  # context pieces placed before the window
    files: tuple[tuple[str, str], ...]
    prefix_limit: int
    given: tuple[tuple[str, str], ...]  # the request's own extra files when chosen


class SteadyContexts:
    """The last context chosen per document (a few documents, least recently used dropped)."""

    def __init__(self, capacity: int = 16) -> None:
        self.capacity = capacity
        self._by_key: OrderedDict[str, _Choice] = OrderedDict()

    def remember(
        self,
        key: str,
        text: str,
        offset: int,
        prefix: str,
        window_start: int,
        files: Sequence[tuple[str, str]],
        prefix_tokens: int,
        given: Sequence[tuple[str, str]] = (),
    ) -> None:
        window = text[window_start:offset]
        if not prefix.endswith(window):
            self._by_key.pop(key, None)
            return
        self._by_key[key] = _Choice(
            window_start,
            text[:window_start],
            prefix[: len(prefix) - len(window)],
            tuple(files),
            int(max(prefix_tokens, 1) * GROWTH),
            tuple(given),
        )
        self._by_key.move_to_end(key)
        while len(self._by_key) > self.capacity:
            self._by_key.popitem(last=False)

    def reuse(
        self,
        key: str,
        text: str,
        offset: int,
        count_tokens: Callable[[str], int],
        given: Sequence[tuple[str, str]] = (),
    ) -> tuple[str, tuple[tuple[str, str], ...]] | None:
        """(prefix, extra files) of the remembered context grown to the cursor, or None when it
        no longer applies."""
        choice = self._by_key.get(key)
        # The prompt budget is not compared: the context may have been chosen under one shrunk
        # to fit the prompt time budget, and the next request asks with the full one again.
        if choice is None or offset < choice.window_start:
            return None
        if choice.given != tuple(given):
            return None
        if not text.startswith(choice.above):
            return None
        prefix = choice.head + text[choice.window_start : offset]
        if count_tokens(prefix) > choice.prefix_limit:
            return None
        self._by_key.move_to_end(key)
        return prefix, choice.files
