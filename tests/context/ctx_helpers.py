"""Helpers for the context tests: a cursor marker and a stand-in token counter."""

from __future__ import annotations

import re

CURSOR = "█"
_TOKEN = re.compile(r"\w+|[^\w\s]|\n")


def count_tokens(text: str) -> int:
    """Words, punctuation and newlines each count one token (not additive over joins)."""
    return len(_TOKEN.findall(text))


def split_cursor(marked: str) -> tuple[str, int]:
    offset = marked.index(CURSOR)
    return marked.replace(CURSOR, ""), offset
