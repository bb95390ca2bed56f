"""Offset bookkeeping between Python `str` indices (code points) and tree-sitter UTF-8 bytes.

Everything public in `context` speaks code-point offsets; tree-sitter speaks bytes and
(row, byte-column) points. `SourceText` pairs a text with its UTF-8 encoding and converts
between the two, taking the identity shortcut for ASCII text, which is the common case.
Also the line and indentation helpers every layer uses (line bounds, indentation, its width
and a text's indentation unit).
"""

from __future__ import annotations

from bisect import bisect_right


class SourceText:
    """A text with its UTF-8 bytes and offset conversions; immutable by convention."""

    __slots__ = ("_byte_line_starts", "_line_starts", "ascii", "data", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8", errors="surrogatepass")
        self.ascii = len(self.data) == len(text)
        self._line_starts: list[int] | None = None
        self._byte_line_starts: list[int] | None = None

    def _lines(self) -> tuple[list[int], list[int]]:
        if self._line_starts is None or self._byte_line_starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._line_starts = starts
            if self.ascii:
                self._byte_line_starts = starts
            else:
                bstarts = [0]
                bfind = self.data.find
                j = bfind(b"\n")
                while j >= 0:
                    bstarts.append(j + 1)
                    j = bfind(b"\n", j + 1)
                self._byte_line_starts = bstarts
        return self._line_starts, self._byte_line_starts

    def to_byte(self, offset: int) -> int:
        """Byte offset of code-point `offset` (clamped to the text)."""
        offset = max(0, min(offset, len(self.text)))
        if self.ascii:
            return offset
        starts, bstarts = self._lines()
        row = bisect_right(starts, offset) - 1
        return bstarts[row] + len(self.text[starts[row] : offset].encode("utf-8", "surrogatepass"))

    def to_char(self, byte: int) -> int:
        """Code-point offset of byte offset `byte` (clamped to the text)."""
        byte = max(0, min(byte, len(self.data)))
        if self.ascii:
            return byte
        starts, bstarts = self._lines()
        row = bisect_right(bstarts, byte) - 1
        chunk = self.data[bstarts[row] : byte]
        return starts[row] + len(chunk.decode("utf-8", errors="ignore"))

    def slice_bytes(self, start: int, end: int) -> str:
        """Text between two byte offsets."""
        return self.data[start:end].decode("utf-8", errors="replace")

    def line_of(self, offset: int) -> int:
        """Zero-based line number containing code-point `offset`."""
        return self.text.count("\n", 0, max(0, offset))


def point_at(text: str, offset: int) -> tuple[int, int]:
    """Tree-sitter point (row, byte column) of code-point `offset` in `text`."""
    row = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    return row, len(text[line_start:offset].encode("utf-8", "surrogatepass"))


def line_start(text: str, offset: int) -> int:
    """Offset of the first character of the line containing `offset`."""
    return text.rfind("\n", 0, offset) + 1


def line_end(text: str, offset: int) -> int:
    """Offset of the newline ending the line containing `offset` (or len(text))."""
    end = text.find("\n", offset)
    return len(text) if end < 0 else end


def indentation(line: str) -> str:
    """Leading whitespace of `line`."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(line: str, tab_size: int = 4) -> int:
    """Visual width of the leading whitespace of `line`."""
    return len(indentation(line).expandtabs(tab_size))


def indent_unit(text: str, default: str = "    ") -> str:
    """One indentation level of a text: a tab, or 2 / 4 spaces (4 when unclear; `default`
    when no line is indented).

    Spaces are judged by the steps between consecutive code lines, the way editors guess
    it: a file indented by 2 has many lines at 4 and 8 too, so widths alone would say 4.
    Block-comment lines (` * ...` under `/**`) are not code and do not count."""
    tabs = 0
    widths: list[int] = []
    steps = dict.fromkeys((2, 4), 0)
    previous: int | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("*"):
            continue
        ws = indentation(line)
        if ws.startswith("\t"):
            tabs += 1
            previous = None
            continue
        if ws:
            widths.append(len(ws))
        if previous is not None and abs(len(ws) - previous) in steps:
            steps[abs(len(ws) - previous)] += 1
        previous = len(ws)
    if tabs > len(widths):
        return "\t"
    if any(steps.values()):
        # Most steps win; a tie goes to 4. A step of 8 is a double dedent in either, no vote.
        return " " * max(steps, key=lambda k: (steps[k], k))
    if not widths:
        return default
    # Continuation lines aligned to a bracket have odd widths; most lines still agree.
    if sum(w % 4 == 0 for w in widths) >= 0.8 * len(widths):
        return "    "
    if sum(w % 2 == 0 for w in widths) >= 0.8 * len(widths):
        return "  "
    return "    "
