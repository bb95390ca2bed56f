"""The shape of a completion: decided before generation, enforced while it streams, and
checked against the syntax tree after it (pure functions).

* `decide_shape` — the one decider: where a suggestion may end, from the whole document (the
  line around the cursor, the code below it, the syntax tree) — a `Shape`;
* `stop_index` — the streaming stop rule for a shape;
* `completion_mode` — single line or multi-line at a block, from the syntax tree at the cursor
  (used by `decide_shape` when nothing follows the cursor);
* `trim_to_block` — a multi-line completion ends where the cursor's block ends (dedent below
  the block for indentation languages, the brace closing the enclosing block otherwise);
* `dedupe_suffix` — drop a completion tail that repeats the start of the suffix (typically an
  auto-closed bracket), unless keeping it is what makes the code parse;
* `heal_word_end` — a middle that ends inside a word the code after the cursor finishes
  drops the letters it wrote twice, when that makes the word one the document uses;
* `trim_parse_errors` — a completion that adds ERROR/MISSING nodes to prefix + suffix is cut to
  its longest clean prefix on line or token boundaries, or dropped;
* `shape_completion` — all of the above in order.

`text` is always the whole document without the completion and `offset` the cursor in it.

Where code follows the cursor, a fill-in-the-middle model sees it and ends its middle with its
end-of-generation token where the hole ends: that answer is kept whole and only cut where it
demonstrably runs into the code below (it repeats the next lines) or out of the scope the code
below continues, or where it adds parse errors to the whole file. With nothing below, the
model cannot know where to stop, and the shape does: one line inside a statement, the block
the cursor opened or sits in otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import tree_sitter as ts

from airgap_lsp.context.languages import Language, language_for, parser_for
from airgap_lsp.context.nodes import ancestors, error_count, node_before
from airgap_lsp.context.syntax import TextEdit, apply_edit, parse
from airgap_lsp.context.text import indent_unit, indent_width, line_end, line_start

_OPEN_CONTAINERS = frozenset(
    {
        "argument_list",
        "arguments",
        "parameters",
        "formal_parameters",
        "parameter_list",
        "list",
        "dictionary",
        "set",
        "tuple",
        "array",
        "object",
        "parenthesized_expression",
        "initializer_list",
        "type_arguments",
        "literal_value",
    }
)
_TOKEN = re.compile(r"\w+|\s+|.", re.DOTALL)
_CHAR_LITERAL = re.compile(r"'(?:\\.|[^\\'\n])'")
_MAX_PARSES = 48
_BLOCK_KEYWORD = re.compile(
    r"\s*(async\s+)?(def|class|if|elif|else|for|while|with|try|except|finally|match|case)\b"
)


class CompletionMode(StrEnum):
    SINGLE_LINE = "single_line"
    MULTI_LINE = "multi_line"
    # Code follows the hole and the model saw it: its middle is kept whole unless it adds
    # parse errors or repeats the code below.
    INFILL = "infill"


LanguageLike = Language | str | None


def _lang(language: LanguageLike) -> Language | None:
    return language_for(language) if isinstance(language, str) else language


OPENERS = (":", "{", "(", "[", "=>", "->")
# A line ending like these, with the body already below, continues on a new line.
NEW_LINE_OPENERS = (":", "{")
FENCE = "```"
# The start of a new top-level definition, in any of the supported languages. A re-export
# (`export * from "./a"`, `export { b } from "./b"`) is a line of a list, not a definition.
_DEFINITION = re.compile(
    r"(@|(async\s+def|def|class|func|fn|pub|impl|struct|enum|trait|mod|interface|function|"
    r"export(?!\s*(\*|\{[^}]*\})(\s*as\s+\w+)?\s*from\b))\b)"
)
_PRELUDE = re.compile(r"\s*(@|#|//|/\*|\*)")
_CLOSERS = re.compile(r"[\)\]\}\"'`,;]*")
_LOOKAHEAD_CHARS = 4000


_DEFAULT_UNIT = "    "  # one indentation level where neither the file nor its language says


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
    # Their indentation widths: a copy of the code below writes it at its own depths.
    next_indents: tuple[int, ...] = ()
    # Asked at the start of the next line: the cursor ends a block header whose body is below.
    new_line: bool = False
    # The cursor's line and indentation were inserted by us (`as_if_enter`): its depth is a
    # guess, not where the user or the editor put the cursor.
    guessed_indent: bool = False
    # The last non-empty line before the cursor's line, stripped (with code below only).
    prev_line: str = ""
    newline: str = "\n"  # how the cursor's line ends
    # The document holds a Markdown code fence: a fence in the middle may be meant.
    fenced: bool = False
    # Blocks end with a closing bracket (not with a dedent): the code below may start by
    # closing the cursor's block.
    braces: bool = False
    # One indentation level where the file shows none (the language's convention).
    default_unit: str = _DEFAULT_UNIT
    # Indentation width of the Python `def` around the cursor (-1: none). With nothing
    # below, the rest of that function may follow the cursor's inner block.
    function_indent: int = -1

    @property
    def scope_indent(self) -> int:
        """Indentation width of the code that follows the hole: a middle line left of column 1
        while that code is indented has left the scope the code below continues."""
        return self.next_indents[0] if self.next_indents else 0

    @property
    def at_line_start(self) -> bool:
        return not self.line_prefix.strip()

    @property
    def mode(self) -> CompletionMode:
        """How the finished suggestion is shaped (see `shape_completion`)."""
        if self.code_below:
            return CompletionMode.INFILL
        return CompletionMode.MULTI_LINE if self.multiline else CompletionMode.SINGLE_LINE


def decide_shape(
    text: str,
    offset: int,
    language: LanguageLike = None,
    tree: ts.Tree | None = None,
    *,
    max_lines: int = 24,
    block: bool | None = None,
) -> Shape:
    """The shape of a suggestion at `offset` in `text`.

    With code below the cursor the hole's end is the model's to say. With nothing below: a
    block on an empty line or at a block opener (from the syntax tree when the language is
    known), one line inside a statement. `block` overrides that choice (a client's request).
    """
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    line_prefix, line_rest = text[start:offset], text[offset:end].rstrip("\r")
    after = text[end + 1 : end + 1 + _LOOKAHEAD_CHARS] if end < len(text) else ""
    indent = line_prefix[: len(line_prefix) - len(line_prefix.lstrip())]
    before = line_prefix.rstrip()
    lang = _lang(language)
    unit = lang.indent if lang else _DEFAULT_UNIT  # where the file shows no indentation
    if not line_rest.strip() and not after.strip():
        if block is None:
            if lang is not None:
                block = completion_mode(text, offset, lang, tree) is CompletionMode.MULTI_LINE
            else:
                block = not before or before.endswith(OPENERS)
        return Shape(
            block,
            indent,
            max_lines if block else 1,
            line_prefix=line_prefix,
            default_unit=unit,
            function_indent=_enclosing_def(text, start, indent)
            if lang and lang.indent_blocks
            else -1,
        )
    below = (line_prefix + line_rest + "\n" + after) if not before else after
    lines = [ln for ln in below.split("\n") if ln.strip()]
    header = before.endswith(NEW_LINE_OPENERS) and (
        before.endswith("{") or bool(_BLOCK_KEYWORD.match(before))
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
        next_indents=tuple(indent_width(ln) for ln in lines[:2]),
        prev_line=_line_above(text, start),
        new_line=header and not line_rest.strip() and bool(after.split("\n", 1)[0].strip()),
        newline="\r\n" if text.startswith("\r\n", end - 1) else "\n",
        fenced=FENCE in text,
        braces=lang is not None and not lang.indent_blocks,
        default_unit=unit,
    )


def _line_above(text: str, start: int) -> str:
    """The last non-empty line before the line that starts at `start`, stripped."""
    end = start - 1
    while end > 0:
        begin = text.rfind("\n", 0, end) + 1
        line = text[begin:end].strip()
        if line:
            return line
        end = begin - 1
    return ""


_DEF = re.compile(r"[ \t]*(async[ \t]+)?def[ \t]")


def _enclosing_def(text: str, start: int, indent: str) -> int:
    """Indentation width of the `def` whose body holds the line starting at `start` (whose
    indentation is `indent`), or -1: the nearest line above at a smaller indentation, and
    so on outwards, until one opens a function."""
    limit = indent_width(indent) if indent else 0
    end = start - 1
    while limit > 0 and end > 0:
        begin = text.rfind("\n", 0, end) + 1
        line = text[begin:end]
        end = begin - 1
        if not line.strip() or indent_width(line) >= limit:
            continue
        if _DEF.match(line):
            return indent_width(line)
        limit = indent_width(line)
    return -1


def as_if_enter(text: str, offset: int, shape: Shape) -> tuple[str, int, str]:
    """The document as if the user had pressed Enter at `offset` and the editor had indented
    the new line: the text, the cursor on the new line, and what was inserted (a suggestion
    asked there is shown after it). After an opener the new line is one level deeper, in the
    document's own unit; otherwise it keeps the line's indentation.

    A hole asked on an empty line of its own is the shape FIM models are trained on: asked at
    the start of the next existing line instead, a model tends to write that line again."""
    indent = shape.indent
    if shape.line_prefix.rstrip().endswith(OPENERS):
        window = text[max(0, offset - _UNIT_WINDOW) : offset + _UNIT_WINDOW]
        indent += indent_unit(window, shape.default_unit)
    inserted = shape.newline + indent
    return text[:offset] + inserted + text[offset:], offset + len(inserted), inserted


_UNIT_WINDOW = 8000  # characters around the cursor that decide the indentation unit


def _distinctive(line: str) -> bool:
    """A line that is not just a closer or a keyword: seeing it again means a repeat."""
    return sum(c.isalnum() for c in line) >= 3 and line[0] not in ")]}"


def _repeats_below(lines: list[str], i: int, shape: Shape, whole: str) -> bool:
    """Line `i` of the middle (`whole`: as it stands in the document, from its column 0)
    is the code that follows the hole, and the middle goes on into it.

    One equal line is not enough when more code follows below: code repeats statements
    (tests, tables, the branches of a binary search both `return` a call), and a middle that
    writes the line below and then goes on otherwise is no copy. It is one when its next
    line starts as the code's next line does (undecided until that line is complete; a
    middle that ends there is judged by `only_code_below` and `dedupe_suffix`). The middle's
    first line must be followed by the code's next line exactly: judged a copy there, the
    whole answer is lost, not only its tail. With a single line below, a distinctive line
    equal to it is a copy at once."""
    if not shape.next_lines or lines[i].strip() != shape.next_lines[0]:
        return False
    if indent_width(whole) != shape.scope_indent:
        # The same statement at another depth is another place in the code (a branch that
        # ends in what the code below does after it), not the code below written again.
        return False
    if len(shape.next_lines) == 1:
        return _distinctive(shape.next_lines[0])
    following = next((ln for ln in lines[i + 1 :] if ln.strip()), None)
    if following is None:
        return False
    if indent_width(following) != shape.next_indents[1]:
        # The middle goes on at another depth than the code below does (an outer `else:`
        # after the inner branch's last statement): it is not writing that code again.
        return False
    following = following.strip()
    if shape.at_line_start and not any(ln.strip() for ln in lines[:i]):
        return following == shape.next_lines[1]
    return _head(following) == _head(shape.next_lines[1])


_HEAD = re.compile(r"[\)\]\}]+\s*\w*|[^\w\s]*\w*")


def _head(line: str) -> str:
    """How a stripped line starts: its leading punctuation and first word (`elif`, `let`,
    `} else`: a closer alone is not the head of the line that goes on after it)."""
    match = _HEAD.match(line)
    return match.group() if match else ""


def only_code_below(text: str, shape: Shape) -> bool:
    """A middle whose lines are only the first lines of the code below, again, at that code's
    own depths (a plain line such as `}` alone is no copy: it closes another block than the
    one below; nor is the same statement one level deeper, such as an early `return`)."""
    if not shape.at_line_start:
        return False
    placed = [ln for ln in (shape.line_prefix + text).split("\n") if ln.strip()]
    lines = [ln.strip() for ln in placed]
    if not lines or (len(lines) == 1 and not _distinctive(lines[0])):
        return False
    depths = [indent_width(ln) for ln in placed]
    want = list(shape.next_indents[: len(lines)])
    if shape.guessed_indent:
        depths, want = depths[1:], want[1:]
    return lines == list(shape.next_lines[: len(lines)]) and depths == want


LOOP_PERIOD = 4  # the longest block of lines checked for repeating itself


def _loops(lines: list[str], i: int) -> int | None:
    """Where to cut the text of `lines` (before the newline that precedes the middle's third
    copy of a block of lines), when line `i` completes that copy: a small model caught in a
    loop (an import list that writes the same two names over and over) would run on to
    max_tokens. Every line of the block must carry code (8 characters or more), so closers and
    blank lines do not count; two copies are kept, since identical rows in a table are real
    code."""
    for period in range(1, LOOP_PERIOD + 1):
        start = i - 3 * period + 1
        if start < 0:
            break
        block = [ln.strip() for ln in lines[i - period + 1 : i + 1]]
        if any(len(ln) < 8 or not any(c.isalnum() for c in ln) for ln in block):
            continue
        copies = (lines[start + k * period : start + (k + 1) * period] for k in range(2))
        if all([ln.strip() for ln in copy] == block for copy in copies):
            return sum(len(ln) + 1 for ln in lines[: i - period + 1]) - 1
    return None


_CLOSER_LINE = re.compile(r"[\)\]\}]+[;,]?")


def _bracket_balance(line: str) -> int:
    return sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")


def _closes_below(line: str, depth: int, shape: Shape) -> bool:
    """`line` is the closer the code below starts with (`}` at its indentation), written by a
    middle that has closed more than it opened: the model ran on past the hole's end."""
    return (
        shape.braces
        and depth < 0
        and bool(shape.next_lines)
        and bool(_CLOSER_LINE.fullmatch(shape.next_lines[0]))
        and line.strip() == shape.next_lines[0]
        and indent_width(line) == shape.scope_indent
    )


class _Departure:
    """The middle has left the scope the code below is indented in (a line at column 0).

    Most often the model ran on past the hole: it ended the function and went on to the
    next. But a hole may hold the end of one definition and the head of the next, whose body
    the code below is (`}` ... `func Next() {`): such a middle comes back to the code's
    depth through a line that opens a block. So the cut before the leaving line waits: it
    is made once the middle, back inside, leaves again, after `RUN_ON` lines or `INSIDE`
    lines back inside (the model is writing a definition of its own), or at the end unless
    the model ended the middle itself and its last line outside the scope opens a block."""

    RUN_ON = 6  # lines after leaving that show the model ran on
    INSIDE = 2  # lines back inside that show it (the hole's end is near the head it wrote)

    def __init__(self, cut: int, scope_indent: int) -> None:
        self.cut = cut
        self.scope_indent = scope_indent
        self.opened = False  # the last line outside the scope opens a block
        self.brackets = 0  # `(`/`[` left open since leaving (a head over several lines)
        self.lines = 0
        # Lines back at the code's depth since that block's head (0: not back inside yet).
        self.inside_lines = 0

    def ran_on(self, line: str) -> bool:
        """Take the next line of the middle: has the middle now run on?"""
        self.lines += 1
        if line.strip():
            if indent_width(line) < self.scope_indent:
                if self.inside_lines:
                    return True
                self.opened = line.rstrip().endswith(OPENERS)
            elif self.brackets <= 0:
                if not self.opened:
                    return True
                self.inside_lines += 1
            elif self.inside_lines:
                self.inside_lines += 1
            self.brackets += sum(line.count(c) for c in "([") - sum(line.count(c) for c in ")]")
        return self.lines > self.RUN_ON or self.inside_lines > self.INSIDE

    @property
    def returned(self) -> bool:
        """The middle is back at the code's depth, or ends with the head of its block."""
        return self.opened


def _stop_infill(text: str, shape: Shape, final: bool = False, ended: bool = True) -> int | None:
    """The stop rule with code below: the model's own end token ends the middle; cut before
    a line that repeats the code below (or its closing bracket, once the middle has closed
    more than it opened), a line at column 0 while the code below is indented
    (the middle left its scope, unless it comes back: see `_Departure`), a new top-level
    definition after other lines (unless the hole at column 0 must open the indented code
    below), a Markdown code fence in a document without one, before a third copy of a block
    of lines (`_loops`), or after max_lines. (A small instruct model often writes on past
    the hole instead of ending it: it copies the code below, starts the next definition, or
    closes the code block of a chat answer.) `final`: the text is the whole middle, and a
    departure not come back from is cut now; so is any departure when the model did not end
    the middle itself (`ended` False: out of time or tokens)."""
    lines = text.split("\n")
    complete = lines[:-1]  # the last line may still be growing
    first = 0 if shape.at_line_start else 1  # otherwise line 0 continues the cursor's line
    offset = 0
    written = bool(shape.line_prefix.strip())
    # A hole at column 0 whose code below is indented opens that scope itself (a definition's
    # head, with imports or comments before it): its lines at column 0 are its own.
    head = next((ln for ln in [shape.line_prefix + lines[0], *lines[1:]] if ln.strip()), "")
    opens_scope = shape.scope_indent > 0 and bool(head) and indent_width(head) == 0
    depth = 0  # the middle's bracket balance up to the line at hand
    left: _Departure | None = None

    def cut(at: int) -> int:
        # Before the middle has come back, a cut after it left is a cut where it left.
        return left.cut if left is not None and not left.returned else at

    for i, line in enumerate(complete):
        depth += _bracket_balance(line)
        if left is not None and left.ran_on(line):
            return left.cut
        whole = shape.line_prefix + line if i == 0 else line  # line 0 starts at the cursor
        if i >= first and (
            _repeats_below(complete, i, shape, whole) or _closes_below(whole, depth, shape)
        ):
            return cut(max(offset - 1, 0))
        loop = _loops(complete, i)
        if loop is not None:
            return cut(loop)
        if i >= first and not shape.fenced and line.lstrip().startswith(FENCE):
            return cut(max(offset - 1, 0))
        if left is None and i >= 1 and line.strip() and indent_width(line) == 0 and not opens_scope:
            # A lone `{` at column 0 opens a body (Rust's `where` clauses, Allman style).
            if shape.scope_indent > 0 and line[0] not in "#{":
                left = _Departure(max(offset - 1, 0), shape.scope_indent)
                left.ran_on(line)
            elif written and _DEFINITION.match(line):
                return max(offset - 1, 0)
        # A definition's prelude (decorators, attributes, comments) belongs to the
        # definition that follows it: that one is not "another" definition.
        written = written or bool(line.strip() and not _PRELUDE.match(line))
        if i + 1 >= shape.max_lines:
            return cut(offset + len(line))
        offset += len(line) + 1
    if left is not None and final and (not ended or left.ran_on(lines[-1]) or not left.returned):
        return left.cut
    return None


def settle_infill(text: str, shape: Shape, ended: bool = True) -> str:
    """The whole middle without a departure from the code's scope (see `_Departure`) that it
    never came back from, or that the model did not end itself (`ended` False: time or
    tokens ran out)."""
    if not shape.code_below:
        return text
    cut = _stop_infill(text, shape, final=True, ended=ended)
    return text if cut is None else text[:cut]


def unstrand(text: str, shape: Shape) -> str:
    """The finished suggestion without a last block that leaves the code below unreachable
    (see `_strands_code_below`)."""
    if not shape.code_below:
        return text
    cut = _strands_code_below(text, shape)
    return text if cut is None else text[:cut]


# A statement after which nothing in its block runs.
_JUMP = re.compile(r"(return|continue|break|raise|throw)\b|panic!?\(")
# Code below that a jump does not strand: the block's end or another branch of it.
_NOT_STRANDED = re.compile(
    r"[\)\]\}]|(elif|else|except|finally|case|default|catch)\b|#|//|/\*|\*|\"\"\"|'\'\'"
)


def _strands_code_below(text: str, shape: Shape) -> int | None:
    """Where to cut a middle whose last line jumps away (`return`, `continue`, `raise` ...)
    at the depth of the code below, which would follow it in the same block and never run:
    before the head of the block the middle opened for that jump (`elif c == ' ':` /
    `continue` written before the rest of a branch), else before the jump itself. A
    model that writes the right line and then a branch of its own takes the code below
    into that branch. None: nothing to cut."""
    below = shape.next_lines[0] if shape.next_lines else ""
    if not below or _NOT_STRANDED.match(below) or not shape.at_line_start:
        return None
    if shape.line_rest.strip():
        return None  # the code below starts on the cursor's line: the middle ends before it
    lines = text.rstrip().split("\n")
    last = lines[-1]
    if len(lines) < 2 or not _JUMP.match(last.strip()):
        return None
    if indent_width(last) != shape.scope_indent:
        return None
    cut = len(lines) - 1
    for i in range(len(lines) - 2, 0, -1):
        if lines[i].strip() and indent_width(lines[i]) < shape.scope_indent:
            if lines[i].rstrip().endswith(OPENERS):
                cut = i
            break
    if lines[cut - 1].rstrip().endswith(OPENERS):
        # Without the jump the middle would end with the head of a block whose body the code
        # below became (`elif det == 0:` over the next branch's body): worse than a jump
        # that strands it, which at least shows where the next branch must begin.
        return None
    return sum(len(ln) + 1 for ln in lines[:cut]) - 1


def stop_index(text: str, shape: Shape, line_prefix: str) -> int | None:
    """Where a growing suggestion must end, or None to keep generating.

    With code below: see `_stop_infill`. Otherwise single-line: at the first newline after
    some content; multi-line: at the first non-empty line indented less than the block the
    cursor opened or sits in (the block ended), before a third copy of a block of lines, or
    after max_lines lines.
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
            base = indent_width(line_prefix + lines[0])
        elif len(lines) == 1:
            return None  # the indentation of the first line is not known yet
        else:
            base = indent_width(shape.indent)
    else:
        base = indent_width(shape.indent) + 1  # after an opener, the body is indented deeper
    if shape.function_indent >= 0:
        # Nothing below: the rest of the function may follow the cursor's block (a user
        # writing at the end of a file), up to the function's end.
        base = min(base, shape.function_indent + 1)
    complete = lines[:-1]  # the last line may still be growing
    offset = 0
    for i, line in enumerate(complete):
        if i > 0 and line.strip() and indent_width(line) < base:
            return max(offset - 1, 0)
        loop = _loops(complete, i)
        if loop is not None:
            return loop
        if i + 1 >= shape.max_lines:
            return offset + len(line)
        offset += len(line) + 1
    return None


def completion_mode(
    text: str, offset: int, language: LanguageLike, tree: ts.Tree | None = None
) -> CompletionMode:
    """Multi-line at a block opening or on a blank line in a block; single-line otherwise."""
    lang = _lang(language)
    ls, le = line_start(text, offset), line_end(text, offset)
    before, after = text[ls:offset], text[offset:le]
    if after.strip():
        return CompletionMode.SINGLE_LINE
    if lang is None:
        opens = before.rstrip().endswith((":", "{"))
        blank = not before.strip()
        return CompletionMode.MULTI_LINE if blank or opens else CompletionMode.SINGLE_LINE
    tree = tree if tree is not None else parse(text, lang)
    if tree is None:
        return CompletionMode.SINGLE_LINE
    data = text.encode("utf-8", "surrogatepass")
    cursor_b = len(text[:offset].encode("utf-8", "surrogatepass"))
    if _inside_open_container(tree, cursor_b):
        # Inside an open argument list or literal the line continues an expression.
        return CompletionMode.SINGLE_LINE
    if not before.strip():
        return CompletionMode.MULTI_LINE
    stripped = before.rstrip()
    last = stripped[-1]
    if lang.indent_blocks:
        if last != ":" or not _BLOCK_KEYWORD.match(stripped):
            return CompletionMode.SINGLE_LINE
        probe = len(data[:cursor_b].rstrip())
        for node in ancestors(node_before(tree, probe)):
            if node.type == "ERROR":
                return CompletionMode.MULTI_LINE
            if node.type in lang.scope_types:
                body = node.child_by_field_name("body") or node.child_by_field_name("consequence")
                empty = body is None or body.end_byte <= probe or body.named_child_count == 0
                return CompletionMode.MULTI_LINE if empty else CompletionMode.SINGLE_LINE
        return CompletionMode.SINGLE_LINE
    return CompletionMode.MULTI_LINE if last == "{" else CompletionMode.SINGLE_LINE


def _inside_open_container(tree: ts.Tree, cursor_b: int) -> bool:
    node: ts.Node | None = tree.root_node.descendant_for_byte_range(cursor_b, cursor_b)
    while node is not None:
        if node.type in _OPEN_CONTAINERS and node.start_byte < cursor_b < node.end_byte:
            return True
        node = node.parent
    return False


def trim_to_block(text: str, offset: int, completion: str, language: LanguageLike) -> str:
    """Cut a multi-line completion where the block around the cursor ends."""
    lang = _lang(language)
    if "\n" not in completion:
        return completion
    if lang is None or lang.indent_blocks:
        return _trim_indented(text, offset, completion)
    return _trim_braced(text, offset, completion, lang)


def _trim_indented(text: str, offset: int, completion: str) -> str:
    start = line_start(text, offset)
    before = text[start:offset]
    header = before.rstrip().endswith(":")
    base = indent_width(before)
    floor = base + 1 if header else base  # the narrowest line still in the cursor's block
    function = _enclosing_def(text, start, before[: len(before) - len(before.lstrip())])
    if function >= 0 and not text[offset:].strip():
        floor = min(floor, function + 1)  # nothing below: the function's rest may follow
    lines = completion.split("\n")
    seen_deeper = False
    for i, line in enumerate(lines[1:], start=1):
        if not line.strip():
            continue
        width = indent_width(line)
        if width < floor:
            return _join_trimmed(lines[:i])
        # At module level a completion is one top-level statement: stop at the next one.
        if base == 0 and not header and width == 0 and seen_deeper:
            return _join_trimmed(lines[:i])
        seen_deeper = seen_deeper or width > base
    return completion


def _join_trimmed(lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _code_braces(source: str, lang: Language) -> list[tuple[int, str]]:
    """Positions of `{`/`}` outside strings and comments (a light lexer, good enough here)."""
    out: list[tuple[int, str]] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if source.startswith("//", i):
            nl = source.find("\n", i)
            i = n if nl < 0 else nl
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch == "'" and lang.name in ("rust", "c", "cpp", "java", "go"):
            m = _CHAR_LITERAL.match(source, i)
            i = m.end() if m else i + 1
        elif ch in "\"'`":
            j = i + 1
            while j < n and source[j] != ch and not (source[j] == "\n" and ch != "`"):
                j += 2 if source[j] == "\\" else 1
            i = j + 1
        else:
            if ch in "{}":
                out.append((i, ch))
            i += 1
    return out


def _trim_braced(text: str, offset: int, completion: str, lang: Language) -> str:
    depth = 0
    for pos, ch in _code_braces(completion, lang):
        depth += 1 if ch == "{" else -1
        if depth < 0:
            balance = sum(1 if c == "{" else -1 for _, c in _code_braces(text, lang))
            if balance > 0:
                # The document lacks this closing brace: keep it, and stop right after it.
                return completion[: pos + 1]
            ls = completion.rfind("\n", 0, pos) + 1
            if not completion[ls:pos].strip():
                return _join_trimmed(completion[:ls].split("\n"))
            return completion[:pos].rstrip()
    return completion


_TOP_LEVEL = re.compile(r"[^\s)\]}]")  # a line that starts a top-level statement


def _top_level_span(text: str, offset: int) -> tuple[int, int]:
    """The top-level statements around `offset`: from the start of the last line at column 0
    at or before the cursor's line to the start of the first one after it (closers such as
    `}` at column 0 end a statement rather than start one)."""
    start = line_start(text, offset)
    while start > 0 and not _TOP_LEVEL.match(text, start):
        start = line_start(text, start - 1)
    end = line_end(text, offset)
    while end < len(text):
        end += 1  # past the newline
        if _TOP_LEVEL.match(text, end):
            break
        end = line_end(text, end)
    return start, end


class _ErrorProbe:
    """Counts ERROR/MISSING nodes of the document with a candidate inserted at the cursor.

    A candidate is clean when it makes the file no worse. Where the rest of the file is
    broken (an unterminated string or bracket further down: a file being edited, a window of
    a file), the parser's recovery can count more errors there once a middle has repaired the
    code around the cursor; so a candidate that fails the whole-file count is judged again on
    the top-level statements around the cursor alone, where it alone makes the difference."""

    def __init__(
        self, text: str, offset: int, lang: Language, tree: ts.Tree | None, tail: str = ""
    ) -> None:
        # `tail` follows every non-empty candidate: the newline that ends inserted lines.
        self.text, self.offset, self.lang, self.tail = text, offset, lang, tail
        base = tree if tree is not None else parse(text, lang)
        assert base is not None
        self.base = base
        self.baseline = error_count(base.root_node)
        self.parses = 0
        self._memo: dict[str, int] = {}
        self._local: tuple[int, int, int] | None = None  # span start, end, errors in it

    def _local_errors(self, candidate: str) -> tuple[int, int]:
        """Errors of the statements around the cursor: without and with the candidate."""
        if self._local is None:
            start, end = _top_level_span(self.text, self.offset)
            tree = parse(self.text[start:end], self.lang)
            self._local = (start, end, error_count(tree.root_node) if tree else 0)
        start, end, baseline = self._local
        t = self.text
        region = t[start : self.offset] + candidate + self.tail + t[self.offset : end]
        self.parses += 1
        tree = parse(region, self.lang)
        return baseline, error_count(tree.root_node) if tree else baseline + 1

    def errors(self, candidate: str) -> int:
        if not candidate:
            return self.baseline
        if candidate in self._memo:
            return self._memo[candidate]
        self.parses += 1
        tree = self.base.copy()
        inserted = candidate + self.tail
        new_text = apply_edit(self.text, tree, TextEdit(self.offset, self.offset, inserted))
        new_tree = parser_for(self.lang).parse(new_text.encode("utf-8", "surrogatepass"), tree)
        count = error_count(new_tree.root_node)
        self._memo[candidate] = count
        return count

    def clean(self, candidate: str) -> bool:
        if self.errors(candidate) <= self.baseline:
            return True
        baseline, errors = self._local_errors(candidate)
        return errors <= baseline


def trim_parse_errors(
    text: str,
    offset: int,
    completion: str,
    language: LanguageLike,
    tree: ts.Tree | None = None,
    tail: str = "",
) -> str:
    """Longest prefix of `completion` (line/token boundaries) adding no parse errors; or ''.
    The file is judged whole (prefix, middle and suffix), with `tail` after the middle."""
    lang = _lang(language)
    if lang is None or not completion:
        return completion
    probe = _ErrorProbe(text, offset, lang, tree, tail)
    if probe.clean(completion):
        return completion
    line_cuts = [i for i, ch in enumerate(completion) if ch == "\n"]
    best = 0
    for cut in reversed(line_cuts):
        if probe.parses >= _MAX_PARSES:
            break
        if probe.clean(completion[:cut]):
            best = cut
            break
    if best:
        return completion[:best].rstrip()
    # No whole line is clean: keep the longest clean run of tokens of the first line.
    seg_start = 0
    nxt = completion.find("\n", seg_start)
    seg_end = len(completion) if nxt < 0 else nxt
    bounds = [seg_start + m.end() for m in _TOKEN.finditer(completion[seg_start:seg_end])]
    for cut in reversed(bounds[:-1] if seg_end == len(completion) else bounds):
        if probe.parses >= _MAX_PARSES or cut <= best:
            break
        if completion[:cut].strip() and probe.clean(completion[:cut]):
            best = cut
            break
    result = completion[:best].rstrip()
    return result if result.strip() else ""


def dedupe_suffix(
    text: str,
    offset: int,
    completion: str,
    language: LanguageLike,
    tree: ts.Tree | None = None,
    tail: str = "",
) -> str:
    """Drop a completion tail that repeats the start of the suffix (e.g. an auto-closed `)`)."""
    suffix = text[offset:].lstrip(" \t\n")
    body = completion.rstrip()
    if not suffix or not body:
        return completion
    overlap = 0
    for k in range(min(len(body), len(suffix), 400), 0, -1):
        if body.endswith(suffix[:k]) and _token_boundaries(body, len(body) - k, suffix, k):
            overlap = k
            break
    if overlap == 0 or _another_depth(text, offset, body, len(body) - overlap):
        return completion
    trimmed = body[: len(body) - overlap].rstrip()
    lang = _lang(language)
    if lang is None:
        return trimmed
    probe = _ErrorProbe(text, offset, lang, tree, tail)
    return trimmed if probe.errors(trimmed) <= probe.errors(completion) else completion


def _another_depth(text: str, offset: int, body: str, start: int) -> bool:
    """The repeat that begins at `body[start]` begins a line of the middle, the code below
    begins a line too, and the two stand at different depths: a `}` closing another block
    than the `}` below, not that `}` written again."""
    line_start_at = body.rfind("\n", 0, start) + 1
    here = body[line_start_at:start]
    if here.strip():
        return False  # the repeat continues a line of the middle (an auto-closed `)`)
    rest = text[offset:]
    lead = rest[: len(rest) - len(rest.lstrip(" \t\n"))]
    if "\n" not in lead:
        return False  # the code below continues the cursor's line
    below = lead.rsplit("\n", 1)[1]
    if line_start_at == 0:
        here = text[line_start(text, offset) : offset] + here
        if here.strip():
            return False  # the middle's first line continues code before the cursor
    return indent_width(here) != indent_width(below)


def _token_boundaries(body: str, start: int, suffix: str, k: int) -> bool:
    """The duplicated span must not start or end in the middle of a word."""
    if (
        start > 0
        and (body[start - 1].isalnum() or body[start - 1] == "_")
        and (body[start].isalnum() or body[start] == "_")
    ):
        return False
    return not (
        k < len(suffix)
        and (suffix[k - 1].isalnum() or suffix[k - 1] == "_")
        and (suffix[k].isalnum() or suffix[k] == "_")
    )


_WORD = re.compile(r"\w+")
_WORD_END = re.compile(r"\w+$")


def heal_word_end(text: str, offset: int, completion: str) -> str:
    """A middle that ends inside a word, where the code after the cursor starts with letters
    the middle already ends with, drops those letters when the word across the cursor then
    is one the document uses and was not before: `self.close_inte` before `tercept()` ends
    `self.close_in` when `close_intercept` is used elsewhere. (A model writes whole tokens,
    so it cannot stop between two letters of one; this is token healing at the middle's
    end.) Nothing is cut when the joined word is already known, or no cut makes it known."""
    head = _WORD.match(text, offset)
    tail = _WORD_END.search(completion)
    if head is None or tail is None:
        return completion
    left = completion[: tail.start()]
    before = _WORD_END.search(text, max(0, offset - 256), offset) if not left else None
    start = before.start() if before else offset
    stem = (text[start:offset] if before else "") + tail.group()
    overlaps = [
        k
        for k in range(1, min(len(tail.group()), len(head.group())) + 1)
        if stem[-k:] == head.group()[:k]
    ]
    if not overlaps:
        return completion  # the usual case: no need to read the document's words
    known = set(_WORD.findall(text, 0, start)) | set(_WORD.findall(text, head.end()))
    if stem + head.group() in known:
        return completion
    for k in overlaps:
        if stem[:-k] + head.group() in known:
            return completion[:-k]
    return completion


def shape_completion(
    text: str,
    offset: int,
    completion: str,
    language: LanguageLike,
    *,
    mode: CompletionMode | None = None,
    tree: ts.Tree | None = None,
) -> str:
    """Mode cut, block trim, suffix de-duplication, word healing, then parse-error trimming.

    In `INFILL` mode nothing is cut by mode or block: the middle is checked in the whole file
    and kept whole when it makes the file no worse. Its trailing whitespace (the newline that
    ends inserted lines, a space before the rest of the line) stays, and is part of every
    syntax check."""
    if not completion:
        return ""
    lang = _lang(language)
    if lang is not None and tree is None:
        tree = parse(text, lang)
    mode = mode or completion_mode(text, offset, lang, tree)
    tail = ""
    if mode is CompletionMode.INFILL:
        body = completion.rstrip()
        tail = completion[len(body) :]
        completion = body
    elif mode is CompletionMode.SINGLE_LINE:
        completion = completion.split("\n", 1)[0]
    else:
        completion = trim_to_block(text, offset, completion, lang)
    completion = dedupe_suffix(text, offset, completion, lang, tree, tail)
    if not tail:
        completion = heal_word_end(text, offset, completion)
    completion = trim_parse_errors(text, offset, completion, lang, tree, tail)
    return completion + tail if completion.strip() else ""
