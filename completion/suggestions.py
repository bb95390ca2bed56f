"""Recent suggestions, reused as the user types into them.

Owns the typed-ahead cache (as llama.vim keeps one): each suggestion is stored with the text
just before the cursor it was made for (its last `BEFORE_CHARS` characters) and the rest of that
line. When a later request's text before the cursor is that text followed by the beginning of
a stored suggestion — the user typed what was suggested — the rest of that suggestion is
served at once, with no model call. Prefetched suggestions (made in the background for the
position after accepting one) live here too.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

BEFORE_CHARS = 256


@dataclass(frozen=True, slots=True)
class Cached:
    key: str
    before: str  # the text before the cursor the suggestion was made for (its end)
    line_suffix: str
    text: str
    source: str  # "model" or "prefetch"


@dataclass(frozen=True, slots=True)
class Hit:
    text: str  # what is left to suggest
    typed: int  # characters of the stored suggestion the user already typed
    source: str


class SuggestionCache:
    """A bounded, thread-safe list of recent suggestions, newest first on lookup."""

    def __init__(self, size: int = 64) -> None:
        self._items: deque[Cached] = deque(maxlen=size)
        self._lock = threading.Lock()

    def put(self, key: str, prefix: str, line_suffix: str, text: str, source: str) -> None:
        if not text.strip():
            return
        item = Cached(key, prefix[-BEFORE_CHARS:], line_suffix, text, source)
        with self._lock:
            self._items.append(item)

    def get(self, key: str, prefix: str, line_suffix: str) -> Hit | None:
        with self._lock:
            items = list(self._items)
        for item in reversed(items):
            if item.key != key or item.line_suffix != line_suffix:
                continue
            hit = _typed_into(item, prefix)
            if hit is not None:
                return hit
        return None

    def forget(self, key: str) -> None:
        with self._lock:
            kept = [i for i in self._items if i.key != key]
            self._items.clear()
            self._items.extend(kept)


def _typed_into(item: Cached, prefix: str) -> Hit | None:
    """The rest of item.text if `prefix` is item.before followed by a start of item.text."""
    start = max(0, len(prefix) - len(item.before) - len(item.text))
    at = prefix.rfind(item.before, start)
    if at < 0:
        return None
    typed = prefix[at + len(item.before) :]
    # item.before must be the whole text before the stored cursor when that was shorter.
    whole = len(item.before) == BEFORE_CHARS or at == 0
    if not whole or not item.text.startswith(typed) or len(typed) >= len(item.text):
        return None
    rest = item.text[len(typed) :]
    return Hit(rest, len(typed), item.source) if rest.strip() else None
