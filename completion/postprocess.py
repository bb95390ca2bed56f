"""Turning raw model output into a suggestion an editor can show.

Owns the shape of a suggestion, decided from the whole document before generation (where the
hole can end, whether the model sees code below it), the streaming stop rule applied while
tokens arrive, and the final clean-up: text that repeats the code below is dropped and a
whitespace-only suggestion is never returned; and it recognises placeholder output
(`# Your code here` + `pass`) that is not worth showing.

Where code follows the cursor, a fill-in-the-middle model sees it and ends its middle with its
end-of-generation token where the hole ends: that answer is kept whole and only cut where it
demonstrably runs into the code below (it repeats the next lines) or out of the scope the code
below continues. With nothing below, the model cannot know where to stop, and the shape does:
one line inside a statement, the block the cursor opened or sits in otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPENERS = (":", "{", "(", "[", "=>", "->")
# A line ending like these, with the body already below, continues on a new line.
NEW_LINE_OPENERS = (":", "{")
_BLOCK_HEADER = re.compile(
    r"\s*(async\s+)?(def|class|if|elif|else|for|while|with|try|except|finally|match|case)\b"
)
# The start of a new top-level definition, in any of the supported languages.
_DEFINITION = re.compile(
    r"(@|(async\s+def|def|class|func|fn|pub|impl|struct|enum|trait|mod|interface|function|"
    r"export)\b)"
)
_CLOSERS = re.compile(r"[\)\]\}\"'`,;]*")
_LOOKAHEAD_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Shape:
    """How a suggestion may end, decided before generation."""

    multiline: bool  # a block is expected (token budget, status); spans are allowed anyway
    indent: str  # indentation of the line the cursor is on (before the cursor)
    max_lines: int = 24
    # Code follows the cursor (on its line or below): the model sees where the hole ends.
    code_below: bool = False
    line_prefix: str = ""  # the cursor's line before the cursor
    line_rest: str = ""  # the cursor's line after the cursor
    # The first two non-empty lines the middle must not repeat, stripped: the code below.
    next_lines: tuple[str, ...] = ()
    # Indentation width of the code that follows the hole: a middle line left of column 1
    # while that code is indented has left the scope the code below continues.
    scope_indent: int = 0
    # Asked at the start of the next line: the cursor ends a block header whose body is below.
    new_line: bool = False
    newline: str = "\n"  # how the cursor's line ends

    @property
    def at_line_start(self) -> bool:
        return not self.line_prefix.strip()


def decide_shape(text: str, offset: int, max_lines: int = 24, block: bool | None = None) -> Shape:
    """The shape of a suggestion at `offset` in `text`.

    With code below the cursor the hole's end is the model's to say. With nothing below:
    multi-line on an empty line or right after a block opener, single-line inside a statement.
    `block` overrides that last choice when a syntax tree knows better.
    """
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    line_prefix, line_rest = text[start:offset], text[offset:end].rstrip("\r")
    after = text[end + 1 : end + 1 + _LOOKAHEAD_CHARS] if end < len(text) else ""
    indent = line_prefix[: len(line_prefix) - len(line_prefix.lstrip())]
    before = line_prefix.rstrip()
    if not line_rest.strip() and not after.strip():
        multiline = block if block is not None else (not before or before.endswith(OPENERS))
        return Shape(multiline, indent, max_lines if multiline else 1, line_prefix=line_prefix)
    below = (line_prefix + line_rest + "\n" + after) if not before else after
    lines = [ln for ln in below.split("\n") if ln.strip()]
    header = before.endswith(NEW_LINE_OPENERS) and (
        before.endswith("{") or bool(_BLOCK_HEADER.match(before))
    )
    # A block is expected on a line of its own or after an opener; inside a statement (code
    # after the cursor on its line) it is not, but a span that runs over several lines is
    # still the model's to write.
    if not before:
        multiline = True
    elif line_rest.strip() and not _CLOSERS.fullmatch(line_rest.strip()):
        multiline = False
    else:
        multiline = block if block is not None else before.endswith(OPENERS)
    return Shape(
        multiline=multiline,
        indent=indent,
        max_lines=max_lines,
        code_below=True,
        line_prefix=line_prefix,
        line_rest=line_rest,
        next_lines=tuple(ln.strip() for ln in lines[:2]),
        scope_indent=_indent_width(lines[0]) if lines else 0,
        new_line=header and not line_rest.strip() and bool(after.split("\n", 1)[0].strip()),
        newline="\r\n" if text.startswith("\r\n", end - 1) else "\n",
    )


def _indent_width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _distinctive(line: str) -> bool:
    """A line that is not just a closer or a keyword: seeing it again means a repeat."""
    return sum(c.isalnum() for c in line) >= 3 and line[0] not in ")]}"


def _repeats_below(lines: list[str], i: int, shape: Shape) -> bool:
    """Line `i` of the middle (and, for a plain line such as `}`, the next one) is the code
    that follows the hole."""
    if not shape.next_lines or lines[i].strip() != shape.next_lines[0]:
        return False
    if _distinctive(shape.next_lines[0]):
        return True
    following = next((ln.strip() for ln in lines[i + 1 :] if ln.strip()), None)
    return len(shape.next_lines) > 1 and following == shape.next_lines[1]


def _stop_infill(text: str, shape: Shape) -> int | None:
    """The stop rule with code below: the model's own end token ends the middle; cut before
    a line that repeats the code below, a line at column 0 while the code below is indented
    (the middle left its scope), a second new top-level definition, or after max_lines."""
    lines = text.split("\n")
    complete = lines[:-1]  # the last line may still be growing
    first = 0 if shape.at_line_start else 1  # otherwise line 0 continues the cursor's line
    offset = 0
    definitions = 0
    for i, line in enumerate(complete):
        if i >= first and _repeats_below(complete, i, shape):
            return max(offset - 1, 0)
        if i >= 1 and line.strip():
            if shape.scope_indent > 0 and _indent_width(line) == 0 and line[0] != "#":
                return max(offset - 1, 0)
            if _indent_width(line) == 0 and _DEFINITION.match(line):
                definitions += 1
                if definitions >= 2:
                    return max(offset - 1, 0)
        if i + 1 >= shape.max_lines:
            return offset + len(line)
        offset += len(line) + 1
    return None


def stop_index(text: str, shape: Shape, line_prefix: str) -> int | None:
    """Where a growing suggestion must end, or None to keep generating.

    With code below: see `_stop_infill`. Otherwise single-line: at the first newline after
    some content; multi-line: at the first non-empty line indented less than the block the
    cursor opened or sits in (the block ended), or after max_lines lines.
    """
    if shape.code_below:
        return _stop_infill(text, shape)
    if not shape.multiline:
        nl = text.find("\n")
        if nl < 0:
            return None
        if text[:nl].strip() or line_prefix.strip():
            return nl
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
    if not completion.strip():
        return None
    if shape.code_below:
        return _finalize_infill(completion, suffix, shape)
    text = completion.rstrip() if shape.multiline else completion.rstrip("\n").rstrip()
    text = trim_suffix_overlap(text, suffix)
    return text if text.strip() else None


def _finalize_infill(completion: str, suffix: str, shape: Shape) -> str | None:
    """The middle as the model ended it, with its end fitted to what follows the cursor."""
    if not shape.line_rest.strip():
        # Nothing after the cursor on its line: trailing whitespace means nothing.
        return completion.rstrip() or None
    if shape.at_line_start:
        # New lines above code that starts on the cursor's line: they end with a newline and
        # the indentation that code then needs (the model's, else the cursor's).
        body = completion.rstrip()
        tail = completion[len(body) :]
        indent = tail.rsplit("\n", 1)[1].strip("\r") if "\n" in tail else shape.indent
        return body + shape.newline + indent if body else None
    # Inside a line: the middle joins the rest of it (`a, b` before `)`).
    text = trim_suffix_overlap(completion, suffix) if "\n" not in completion else completion
    return text if text.strip() else None


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
