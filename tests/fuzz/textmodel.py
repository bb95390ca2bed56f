"""The fuzzer's reference text model: LSP positions, written from the specification alone.

Owns the oracle for what a document's text is after a sequence of edits and what a position
means. Lines end only at `\\n`, `\\r\\n` or `\\r` (LSP 3.17: `\\f`, `\\v`, `\\x1c`-`\\x1e`,
`\\x85`, U+2028 and U+2029 are ordinary characters). A column counts code units of the
negotiated position encoding: UTF-16 (a character above U+FFFF is two units, a lone surrogate
one), UTF-8 bytes or UTF-32 code points. It shares no code with the server on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE_END = re.compile(r"\r\n|\n|\r")
ENCODINGS = ("utf-16", "utf-8", "utf-32")


def units(text: str, encoding: str) -> int:
    """Length of `text` in code units of `encoding` (lone surrogates count as one character)."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-16":
        return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)
    return len(text.encode("utf-8", "surrogatepass"))


def line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) code-point offsets of each line's content, terminator excluded."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in LINE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


@dataclass(frozen=True)
class Pos:
    line: int
    character: int

    def wire(self) -> dict[str, int]:
        return {"line": self.line, "character": self.character}


def position_of(text: str, offset: int, encoding: str) -> Pos:
    """The position of a code-point offset (an offset inside `\\r\\n` is not asked for)."""
    for i, (start, end) in enumerate(line_spans(text)):
        if offset <= end:
            return Pos(i, units(text[start:offset], encoding))
    raise ValueError(f"offset {offset} past the end ({len(text)})")


def offset_of(text: str, pos: Pos, encoding: str) -> int | None:
    """The code-point offset of a position, or None when the position is not on a character
    boundary of the document (past a line's end, past the last line, inside a character)."""
    spans = line_spans(text)
    if pos.line < 0 or pos.character < 0 or pos.line >= len(spans):
        return None
    start, end = spans[pos.line]
    count = 0
    for i in range(start, end + 1):
        if count == pos.character:
            return i
        if count > pos.character or i == end:
            return None
        count += units(text[i], encoding)
    return None


def clamped_offset(text: str, pos: Pos, encoding: str) -> int:
    """What LSP says a client means by an out-of-range position: a column past the line's end
    is the line's end; a line past the last line is the end of the document."""
    spans = line_spans(text)
    if pos.line >= len(spans):
        return len(text)
    start, end = spans[pos.line]
    count = 0
    for i in range(start, end):
        if count >= pos.character:
            return i
        count += units(text[i], encoding)
    return end


def round_trips(text: str, pos: Pos, encoding: str) -> bool:
    """A returned position is usable: it names a character boundary of `text`."""
    offset = offset_of(text, pos, encoding)
    return offset is not None and position_of(text, offset, encoding) == pos


def apply_edit(text: str, start: int, end: int, new_text: str) -> str:
    return text[:start] + new_text + text[end:]


def same_text(a: str, b: str) -> bool:
    """Equal as UTF-16 code units: JSON joins an escaped high and low surrogate that arrived in
    two different edits into one character, which is the same document for every client."""
    return a.encode("utf-16-le", "surrogatepass") == b.encode("utf-16-le", "surrogatepass")
