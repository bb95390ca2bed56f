"""Turning raw model output into a suggestion an editor can show.

Owns the decision single-line vs multi-line from the cursor position, the streaming stop rule
applied while tokens arrive (end of line, end of block, line budget), and the final clean-up:
text that repeats the suffix is dropped and a whitespace-only suggestion is never returned;
and it recognises placeholder output (`# Your code here` + `pass`) that is not worth showing.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

OPENERS = (":", "{", "(", "[", "=>", "->")


@dataclass(frozen=True, slots=True)
class Shape:
    """How long a suggestion may be, decided before generation."""

    multiline: bool
    indent: str  # indentation of the line the cursor is on (before the cursor)
    max_lines: int = 24
    # The cursor is at the start of a line that has code after it: the suggestion is a new
    # line inserted there, ending with its newline so the existing code moves down.
    inserts_line: bool = False
    # The first non-empty line after the cursor's line, stripped: a block that reaches it has
    # started to repeat the code below and is over.
    next_line: str = ""


def with_next_line(shape: Shape, suffix_after_line: str) -> Shape:
    """The shape, knowing the code that follows the cursor's line."""
    following = next((ln.strip() for ln in suffix_after_line.split("\n") if ln.strip()), "")
    return dataclasses.replace(shape, next_line=following)


def decide_shape(line_prefix: str, line_suffix: str, max_lines: int = 24) -> Shape:
    """Multi-line when the cursor sits on an empty line or right after a block opener with
    nothing after it; single-line when typing inside a line or with text after the cursor."""
    indent = line_prefix[: len(line_prefix) - len(line_prefix.lstrip())]
    before = line_prefix.rstrip()
    after = line_suffix.strip()
    if after and not re.fullmatch(r"[\)\]\}\"'`,;]*", after):
        return Shape(False, indent, 1, inserts_line=not before)
    if not before or before.endswith(OPENERS):
        return Shape(True, indent, max_lines)
    return Shape(False, indent, 1)


def _indent_width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def stop_index(text: str, shape: Shape, line_prefix: str) -> int | None:
    """Where a growing suggestion must end, or None to keep generating.

    Single-line: at the first newline after some content. Multi-line: at the first non-empty
    line indented less than the block the cursor opened or sits in (the block ended), or after
    max_lines lines.
    """
    if not shape.multiline:
        nl = text.find("\n")
        if nl < 0:
            return None
        if text[:nl].strip() or line_prefix.strip():
            return nl + 1 if shape.inserts_line else nl
        # The cursor was at the end of a line with nothing typed: skip to the next line's content.
        nl2 = text.find("\n", nl + 1)
        return nl2 if nl2 >= 0 else None
    lines = text.split("\n")
    if line_prefix.strip() == "":
        # The first line continues the cursor's line: its indentation is the cursor's plus
        # whatever the model wrote before the code (at column 0 of an empty line, all of it).
        if lines[0].strip():
            base = _indent_width(line_prefix + lines[0])
        elif len(lines) == 1:
            return None  # the indentation of the first line is not known yet
        else:
            base = _indent_width(shape.indent)
    else:
        base = _indent_width(shape.indent) + 1  # after an opener, the body is indented deeper
    complete = lines[:-1]  # the last line may still be growing
    offset = 0
    for i, line in enumerate(complete):
        if i > 0 and line.strip() and _indent_width(line) < base:
            return max(offset - 1, 0)
        if i > 0 and shape.next_line and line.strip() == shape.next_line:
            return max(offset - 1, 0)
        if i + 1 >= shape.max_lines:
            return offset + len(line)
        offset += len(line) + 1
    return None


def trim_suffix_overlap(completion: str, suffix: str) -> str:
    """Drop the tail of a completion that repeats what follows the cursor."""
    if not completion or not suffix:
        return completion
    stripped = suffix.split("\n", 1)[0].strip()
    tail = completion.rstrip()
    # e.g. completion `foo(a, b))` before the suffix `)`: the suffix's copy stays.
    for k in range(min(len(stripped), len(tail)), 0, -1):
        if tail.endswith(stripped[:k]):
            return tail[: len(tail) - k]
    suffix_lines = [ln for ln in suffix.split("\n") if ln.strip()]
    comp_lines = completion.split("\n")
    if suffix_lines and len(comp_lines) > 1:
        # Cut at the first completion line that equals the next non-empty suffix line.
        first = suffix_lines[0].strip()
        for i, line in enumerate(comp_lines[1:], 1):
            if line.strip() == first:
                return "\n".join(comp_lines[:i]).rstrip("\n")
    return completion


def finalize(completion: str, suffix: str, shape: Shape) -> str | None:
    """The suggestion to show, or None when nothing useful remains."""
    if shape.inserts_line:
        line = completion.split("\n", 1)[0].rstrip()
        following = suffix.split("\n", 1)[0]
        # A copy of the line below the cursor is not a new line.
        if not line.strip() or line.strip() == following.strip():
            return None
        return line + "\n"
    text = completion.rstrip() if shape.multiline else completion.rstrip("\n").rstrip()
    text = trim_suffix_overlap(text, suffix)
    if not text.strip():
        return None
    return text


_STUB_LINE = re.compile(
    r"(pass|\.\.\.|raise NotImplementedError(\(.*\))?|todo!\(.*\)|unimplemented!\(.*\));?"
)
_COMMENT_START = ("#", "//", "/*", "*", "--")
_TODO = re.compile(r"your code|\btodo\b|implement|fill (this )?in|write (the |your )?code", re.I)


def is_placeholder(text: str) -> bool:
    """A suggestion that only says "write code here": comments such as `# Your code here` or
    `// TODO: implement`, with at most `pass` / `...` / `raise NotImplementedError` /
    `todo!()`. A lone `pass` is real code (an empty `except` block) and is not one."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    said_todo = False
    for line in lines:
        if line.startswith(_COMMENT_START):
            said_todo = said_todo or bool(_TODO.search(line))
        elif _STUB_LINE.fullmatch(line):
            said_todo = said_todo or "NotImplemented" in line or line.startswith("todo!")
        else:
            return False
    return said_todo


def strip_code_fence(text: str) -> str:
    """The body of the first fenced code block, for replies from chat-template prompts."""
    m = re.search(r"```[^\n`]*\n(.*?)(?:```|$)", text, re.S)
    return m.group(1) if m else text
