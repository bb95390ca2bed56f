"""LSP positions: lines and columns of a text, converted to and from code-point offsets.

Owns the one definition of a line the server uses. LSP ends a line only at `\\n`, `\\r\\n` or
`\\r`; `str.splitlines` also breaks at `\\f`, `\\v`, `\\x1c`-`\\x1e`, `\\x85`, U+2028 and U+2029,
which for a client are ordinary characters. A column counts code units of the negotiated
position encoding: UTF-16 (the LSP default: a character above U+FFFF is two units, a lone
surrogate one), UTF-8 bytes or UTF-32 code points.

Positions a client may send out of range are read as LSP says: a column past a line's end is
the line's end, a line past the last line is the end of the text; a column inside a character
(between the two halves of a surrogate pair, inside a UTF-8 sequence) is that character's start,
as VS Code and gopls read it, so no offset splits a character. An offset inside a `\\r\\n` has
no position of its own and is given as the end of its line.
"""

from __future__ import annotations

import re
from bisect import bisect_right

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
LINE_END = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """The lines of `text` with their line ends, like `str.splitlines(keepends=True)` but
    breaking only at LSP line ends (no empty last line after a final line end)."""
    lines: list[str] = []
    start = 0
    for m in LINE_END.finditer(text):
        lines.append(text[start : m.end()])
        start = m.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def encoding_name(kind: object) -> str:
    """The encoding of a negotiated `PositionEncodingKind`, given as the enum member or its
    string (`str()` of the member is "PositionEncodingKind.Utf16", not "utf-16"); UTF-16, the
    LSP default, when there is none or it is unknown."""
    value = getattr(kind, "value", kind)
    return value if isinstance(value, str) and value in (UTF8, UTF16, UTF32) else UTF16


def units(text: str, encoding: str = UTF16) -> int:
    """Length of `text` in code units of `encoding`."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _unit(char: str, encoding: str) -> int:
    code = ord(char)
    if encoding == UTF8:
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    return 2 if encoding == UTF16 and code > 0xFFFF else 1


def index_of_column(line: str, character: int, encoding: str = UTF16) -> int:
    """Code points of `line` (no line end) before a column, clamped to the line; a column
    inside a character counts the points before that character."""
    if character <= 0:
        return 0
    if encoding == UTF32 or line.isascii():
        return min(character, len(line))
    count = 0
    for i, char in enumerate(line):
        count += _unit(char, encoding)
        if count >= character:
            return i + 1 if count == character else i
    return len(line)


def _line_starts(text: str) -> list[int]:
    if "\r" not in text:  # the common case, without the regex
        starts = [0]
        find = text.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        return starts
    return [0, *(m.end() for m in LINE_END.finditer(text))]


class LineIndex:
    """Where each line of one text starts, and position <-> offset conversion in one encoding.

    Immutable: build a new one for a new text (building scans the text once)."""

    __slots__ = ("encoding", "starts", "text")

    def __init__(self, text: str, encoding: str = UTF16, starts: list[int] | None = None) -> None:
        self.text = text
        self.encoding = encoding
        self.starts = _line_starts(text) if starts is None else starts

    def edited(self, text: str, start: int, end: int, length: int) -> LineIndex:
        """The index of `text`: this text with [start, end) replaced by `length` code points,
        where `start` and `end` are offsets this index gives (never inside a line end).

        Only the lines around the edit are scanned again; the rest move by the length change.
        One line before the edit is included because a `\r` there and a `\n` at its start make
        one line end, and one after because the edit may join or split the `\r\n` there."""
        starts = self.starts
        delta = length - (end - start)
        first = max(0, self.line_of(start) - 1)
        after = self.line_of(end) + 2
        lo = starts[first]
        new = starts[: first + 1]
        if after < len(starts):
            hi = starts[after] + delta
            new.extend(m.end() for m in LINE_END.finditer(text, lo, hi) if m.end() < hi)
            new.extend([s + delta for s in starts[after:]])
        else:
            new.extend(m.end() for m in LINE_END.finditer(text, lo))
        return LineIndex(text, self.encoding, new)

    @property
    def line_count(self) -> int:
        """Lines, counting the empty line after a final line end."""
        return len(self.starts)

    def content_end(self, line: int) -> int:
        """Offset where `line`'s content ends (before its line end)."""
        if line + 1 >= len(self.starts):
            return len(self.text)
        end = self.starts[line + 1]
        return end - 2 if self.text.startswith("\r\n", end - 2) else end - 1

    def offset(self, line: int, character: int) -> int:
        """Code-point offset of a position (clamped as LSP says; see the module docstring)."""
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start = self.starts[line]
        content = self.text[start : self.content_end(line)]
        return start + index_of_column(content, character, self.encoding)

    def exact_offset(self, line: int, character: int) -> int | None:
        """Code-point offset of a position of this text, or None when the position is not one
        (past its line's end or the last line, inside a character): the client's cursor is
        somewhere this text does not have."""
        offset = self.offset(line, character)
        return offset if line >= 0 and self.position(offset) == (line, character) else None

    def line_of(self, offset: int) -> int:
        return bisect_right(self.starts, max(0, min(offset, len(self.text)))) - 1

    def line_start(self, offset: int) -> int:
        """Offset where the line holding `offset` starts."""
        return self.starts[self.line_of(offset)]

    def position(self, offset: int) -> tuple[int, int]:
        """(line, character) of a code-point offset (clamped to the text)."""
        offset = max(0, min(offset, len(self.text)))
        line = self.line_of(offset)
        start = self.starts[line]
        end = min(offset, self.content_end(line))
        return line, units(self.text[start:end], self.encoding)
