"""Turning raw model output into a suggestion an editor can show.

Owns the text-level clean-up after generation, for a `Shape` decided in `context.shaping`:
the end of the middle fitted to what follows the cursor (inserted lines end with a newline,
text that repeats the suffix is dropped), never a whitespace-only suggestion; and it
recognises placeholder output (`# Your code here` + `pass`) that is not worth showing.
"""

from __future__ import annotations

import re

from airgap_lsp.context.shaping import Shape


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
