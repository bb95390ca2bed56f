"""Text helpers for action results: line endings, re-indentation of
code to a target's indentation and whole-line spans (code-point offsets).
"""

from __future__ import annotations

from airgap_lsp.context.text import indent_unit, line_end, line_start


def newline_of(text: str) -> str:
    """The file's line ending, judged by its first line break."""
    i = text.find("\n")
    return "\r\n" if i > 0 and text[i - 1] == "\r" else "\n"


def to_lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def with_newlines(text: str, newline: str) -> str:
    text = to_lf(text)
    return text.replace("\n", newline) if newline != "\n" else text


def reindent(code: str, indent: str, unit: str = "    ") -> str:
    """`code` with its common indentation replaced by `indent` and each further level of the
    code's own unit by `unit`; blank lines become empty; leading/trailing blank lines go."""
    lines = [line.rstrip() for line in to_lf(code).expandtabs(4).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return ""
    source_unit = len(indent_unit("\n".join(lines)).expandtabs(4))
    base = min(len(line) - len(line.lstrip(" ")) for line in lines if line)
    out: list[str] = []
    for line in lines:
        if not line:
            out.append("")
            continue
        rel = len(line) - len(line.lstrip(" ")) - base
        levels, extra = divmod(rel, source_unit)
        out.append(indent + unit * levels + " " * extra + line.lstrip(" "))
    return "\n".join(out)


def full_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to whole lines, without the last line's line break."""
    if end > start and text[end - 1] == "\n":
        end -= 1  # a selection that ends at column 0 does not include that line
    s = line_start(text, start)
    e = line_end(text, end)
    if e > s and text[e - 1] == "\r":
        e -= 1
    return s, e
