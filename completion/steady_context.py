"""Keeping a document's prompt steady while the user types in it.

The code context (enclosing scopes, definitions named near the cursor, extra files, where the
prefix window starts) is chosen for a request; chosen anew on every keystroke it shifts now and
then, and every shift invalidates the cached prompt from that point on: measured typing in the
middle of a 470-line file (a 1,500-token prompt), 15 % of keystrokes re-evaluated more than
500 prompt tokens.

A fill-in-the-middle prompt is prefix, suffix, then middle. What the user types goes into the
middle, after an anchor (where the cursor was when the prompt was laid out), as llama.vim does
with llama-server's `/infill` (it anchors at the line start): the prefix up to the anchor and
the suffix after the cursor stay the same tokens, so a keystroke costs the model only the
characters typed. The anchor is the cursor itself, not its line start, so that a first request
sees the prefix cut at the cursor as in FIM training (a middle ending in the indentation's
whitespace token, say, is a tokenization the model never saw; see `healing`).

This module owns the per-document record of the last choice and the rules for reusing it. The
context holds while the text above the window is unchanged, the cursor is inside the window and
the prefix stays within a margin of its size when chosen. The anchor holds while the document
differs from the anchored one only between the anchor and the cursor (text typed, accepted or
erased there) and that stretch stays short; otherwise the cursor becomes the anchor.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

GROWTH = 1.25  # the prefix may grow by this factor before the context is chosen anew
MIDDLE_TOKENS = 256  # a longer middle moves into the prefix (one re-evaluation of the suffix)


@dataclass(frozen=True, slots=True)
class Kept:
    """The prompt's parts for a request, from the remembered choice."""

    prefix: str  # context head + the window up to the anchor
    middle: str  # from the anchor to the cursor
    suffix: str | None  # the anchored suffix, or None: the anchor moved, choose a suffix
    files: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Chosen:
    """A code context chosen anew for a request."""

    prefix: str  # context head + the window up to the cursor
    window_start: int  # where the window starts in the text
    files: tuple[tuple[str, str], ...]  # (path, text) of the other files in the prompt
    prefix_tokens: int
    given: tuple[tuple[str, str], ...]  # the request's own extra files


@dataclass(frozen=True, slots=True)
class Layout:
    """How one request's prompt was laid out, to be recorded for the document's next requests:
    the code context if it was chosen anew, the anchor if the prompt was anchored anew."""

    text: str
    offset: int  # the cursor
    chosen: Chosen | None = None
    anchor: int | None = None  # the middle is text[anchor:offset]
    suffix: str = ""  # the suffix the prompt used (a head of text[offset:])


@dataclass(frozen=True, slots=True)
class _Anchor:
    offset: int
    before: str  # text[:offset] when anchored
    after: str  # the text after the cursor when anchored
    suffix: str  # the suffix the prompt used (a head of `after`)


@dataclass(frozen=True, slots=True)
class _Choice:
    window_start: int
    above: str  # text[:window_start] when chosen
    head: str  # context pieces placed before the window
    files: tuple[tuple[str, str], ...]
    prefix_limit: int
    given: tuple[tuple[str, str], ...]  # the request's own extra files when chosen
    anchor: _Anchor | None = None


class SteadyContexts:
    """The last context chosen per document (a few documents, least recently used dropped).
    Used on the model worker; `forget` may come from the server's event loop."""

    def __init__(self, capacity: int = 16) -> None:
        self.capacity = capacity
        self._by_key: OrderedDict[str, _Choice] = OrderedDict()
        self._lock = threading.Lock()

    def forget(self, key: str) -> None:
        self._put(key, None)

    def _get(self, key: str) -> _Choice | None:
        with self._lock:
            choice = self._by_key.get(key)
            if choice is not None:
                self._by_key.move_to_end(key)
            return choice

    def _put(self, key: str, choice: _Choice | None) -> None:
        with self._lock:
            if choice is None:
                self._by_key.pop(key, None)
                return
            self._by_key[key] = choice
            self._by_key.move_to_end(key)
            while len(self._by_key) > self.capacity:
                self._by_key.popitem(last=False)

    def record(self, key: str, layout: Layout) -> None:
        """Record the layout of the prompt a request used."""
        chosen = layout.chosen
        if chosen is not None:
            self.remember(
                key,
                layout.text,
                layout.offset,
                chosen.prefix,
                chosen.window_start,
                chosen.files,
                chosen.prefix_tokens,
                chosen.given,
            )
        if layout.anchor is not None:
            self.anchor(key, layout.text, layout.anchor, layout.offset, layout.suffix)

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
            self._put(key, None)
            return
        choice = _Choice(
            window_start,
            text[:window_start],
            prefix[: len(prefix) - len(window)],
            tuple(files),
            int(max(prefix_tokens, 1) * GROWTH),
            tuple(given),
        )
        self._put(key, choice)

    def anchor(self, key: str, text: str, anchor: int, offset: int, suffix: str) -> None:
        """The prompt for the cursor at `offset` put text[anchor:offset] in the middle and
        `suffix` (a head of text[offset:]) after the prefix."""
        choice = self._get(key)
        if choice is None or not choice.window_start <= anchor <= offset:
            return
        if not text.startswith(suffix, offset):
            return
        mark = _Anchor(anchor, text[:anchor], text[offset:], suffix)
        self._put(key, dataclasses.replace(choice, anchor=mark))

    def reuse(
        self,
        key: str,
        text: str,
        offset: int,
        count_tokens: Callable[[str], int],
        given: Sequence[tuple[str, str]] = (),
    ) -> Kept | None:
        """The remembered context grown to the cursor, or None when it no longer applies."""
        choice = self._get(key)
        # The prompt budget is not compared: the context may have been chosen under one shrunk
        # to fit the prompt time budget, and the next request asks with the full one again.
        if choice is None or offset < choice.window_start:
            return None
        if choice.given != tuple(given):
            return None
        if not text.startswith(choice.above):
            return None
        mark = choice.anchor
        if (
            mark is not None
            and mark.offset <= offset
            and text.startswith(mark.before)
            and text.endswith(mark.after)
            and len(text) - len(mark.after) == offset
            and count_tokens(text[mark.offset : offset]) <= MIDDLE_TOKENS
        ):
            prefix = choice.head + text[choice.window_start : mark.offset]
            return Kept(prefix, text[mark.offset : offset], mark.suffix, choice.files)
        prefix = choice.head + text[choice.window_start : offset]
        if count_tokens(prefix) > choice.prefix_limit:
            return None
        return Kept(prefix, "", None, choice.files)
