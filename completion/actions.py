"""Code actions' model-side logic: explain, document, fix, test and rewrite code.

Owns everything between a document (text, code-point offsets, path, languageId) and a result
the editor can show: finding the function or class at a cursor (tree-sitter through
`context`), the chat prompts with their context pieces (imports, enclosing scopes, definitions
the code uses), running one prompt on the engine, strict extraction of the reply's code block,
re-indentation to the target's indentation and the file's line endings, the edits (offsets in
the text as it was planned) and test-file naming. Knows nothing of LSP.
"""

from __future__ import annotations

import ast
import os
import re
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import tree_sitter as ts

from completion.engine import DecodeOptions, Engine
from completion.prompt import Vocabulary, chat_tokens
from completion.worker import Cancelled
from context import Language, language_for
from context.definitions import extract_definitions
from context.imports import find_imports
from context.languages import identifier_query
from context.nodes import ancestors, body_of, error_count
from context.scopes import enclosing_scopes
from context.syntax import parse
from context.text import SourceText, indent_width, indentation, line_end, line_start

FIX, DOCSTRING, EXPLAIN, TESTS, REWRITE = "fix", "docstring", "explain", "tests", "rewrite"
KINDS = (FIX, DOCSTRING, EXPLAIN, TESTS, REWRITE)

# Functions worth a docstring or tests: named ones (lambdas and closures are not).
_ANONYMOUS = frozenset(
    {"arrow_function", "function_expression", "lambda_expression", "closure_expression"}
    | {"func_literal", "lambda"}
)
_CLASS_TYPES = frozenset(
    {
        "class_definition",
        "class_declaration",
        "abstract_class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "struct_item",
        "enum_item",
        "trait_item",
        "impl_item",
        "class_specifier",
        "struct_specifier",
        "type_declaration",
    }
)
_WRAPPERS = frozenset({"decorated_definition", "export_statement", "template_declaration"})
_TAGS = {"cpp": "cpp", "tsx": "tsx", "typescript": "typescript", "javascript": "javascript"}
_MAX_REGION_LINES = 150
_FIX_WINDOW_LINES = 12
_CONTEXT_CHARS = 1500


class ActionError(Exception):
    """The action cannot produce a result; the message is meant for the user."""


class ActionCancelled(Cancelled):
    """The user cancelled the action while the model ran."""


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace text[start:end] with new_text (code points in the planned text)."""

    start: int
    end: int
    new_text: str


@dataclass(frozen=True, slots=True)
class NewFile:
    path: str
    text: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action produced: edits of the document, a new file or text to show."""

    edits: tuple[Edit, ...] = ()
    new_file: NewFile | None = None
    markdown: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """A function or class: its span (full lines, wrappers included) and name."""

    node_type: str
    name: str
    start: int
    end: int
    is_class: bool
    node_byte: int  # where the function/class node itself starts (after any decorators)


@dataclass(frozen=True, slots=True)
class Plan:
    """One action ready to run: the prompt and what is needed to turn the reply into a result."""

    kind: str
    text: str
    path: str
    language: Language | None
    messages: tuple[tuple[str, str], ...]
    prefill: str
    copy_source: str  # text the reply is expected to copy (n-gram drafting source)
    max_tokens: int
    expected_tokens: int
    start: int  # the range the result replaces (or inserts at, when start == end)
    end: int
    indent: str
    name: str = ""
    title: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def fenced(self) -> bool:
        return self.prefill.startswith("```")


@dataclass(frozen=True, slots=True)
class Run:
    """One model run of a plan."""

    reply: str
    stop_reason: str
    prompt_tokens: int
    generated: int
    prompt_ms: float
    predict_ms: float
    total_ms: float
    drafted: int
    accepted: int


# -- text helpers -------------------------------------------------------------------------------


def newline_of(text: str) -> str:
    """The file's line ending, judged by its first line break."""
    i = text.find("\n")
    return "\r\n" if i > 0 and text[i - 1] == "\r" else "\n"


def to_lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def with_newlines(text: str, newline: str) -> str:
    text = to_lf(text)
    return text.replace("\n", newline) if newline != "\n" else text


def indent_unit(text: str) -> str:
    """One indentation level of a text: a tab, or 2 / 4 spaces (4 when unclear)."""
    tabs = spaces = 0
    widths: list[int] = []
    for line in to_lf(text).split("\n"):
        ws = indentation(line)
        if not ws or not line.strip():
            continue
        if ws.startswith("\t"):
            tabs += 1
        else:
            spaces += 1
            widths.append(len(ws))
    if tabs > spaces:
        return "\t"
    if not widths:
        return "    "
    # Continuation lines aligned to a bracket have odd widths; most lines still agree.
    if sum(w % 4 == 0 for w in widths) >= 0.8 * len(widths):
        return "    "
    if sum(w % 2 == 0 for w in widths) >= 0.8 * len(widths):
        return "  "
    return "    "


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


_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w.+#-]*)[ \t]*\r?$", re.M)


def extract_code_block(reply: str) -> str:
    """The first fenced code block of a reply; anything else is an ActionError."""
    fences = list(_FENCE.finditer(reply))
    if not fences:
        raise ActionError("the model's reply has no code block; nothing was changed")
    if len(fences) < 2 or fences[1].group(1):
        raise ActionError("the model's reply was cut off inside its code block; nothing changed")
    code = reply[fences[0].end() : fences[1].start()]
    code = code[1:] if code.startswith("\n") else code
    if not code.strip():
        raise ActionError("the model returned an empty code block; nothing was changed")
    return code


def fence_stop(text: str) -> int | None:
    """Stop rule for a reply whose opening fence was prefilled: where the closing fence is."""
    if text.startswith("```"):
        return 0
    i = text.find("\n```")
    return i + 1 if i >= 0 else None


def minimal_edit(text: str, start: int, end: int, new: str) -> Edit | None:
    """The edit replacing text[start:end] with `new`, trimmed to the lines that change;
    None when nothing changes."""
    old = text[start:end]
    if old == new:
        return None
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    head = 0
    while head < min(len(old_lines), len(new_lines)) - 1 and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while (
        tail < min(len(old_lines), len(new_lines)) - head - 1
        and old_lines[-1 - tail] == new_lines[-1 - tail]
    ):
        tail += 1
    lead = sum(len(s) for s in old_lines[:head])
    trail = sum(len(s) for s in old_lines[len(old_lines) - tail :]) if tail else 0
    new_mid = "".join(new_lines[head : len(new_lines) - tail])
    return Edit(start + lead, end - trail, new_mid)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """`text` with non-overlapping edits applied (offsets in the original text)."""
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: e.start] + e.new_text + text[e.end :]
    return text


def full_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to whole lines, without the last line's line break."""
    if end > start and text[end - 1] == "\n":
        end -= 1  # a selection that ends at column 0 does not include that line
    s = line_start(text, start)
    e = line_end(text, end)
    if e > s and text[e - 1] == "\r":
        e -= 1
    return s, e


# -- syntax -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parsed:
    text: str
    path: str
    language: Language | None
    source: SourceText
    tree: ts.Tree | None

    @classmethod
    def of(cls, text: str, path: str, language_id: str | None = None) -> Parsed:
        lang = language_for(language_id, path)
        tree = parse(text, lang) if lang is not None else None
        return cls(text, path, lang if tree is not None else None, SourceText(text), tree)

    def node_text(self, node: ts.Node) -> str:
        return self.source.slice_bytes(node.start_byte, node.end_byte)


def _name_of(parsed: Parsed, node: ts.Node) -> str:
    name = node.child_by_field_name("name")
    cur: ts.Node | None = node
    while name is None and cur is not None:  # C/C++: the name sits inside declarators
        cur = cur.child_by_field_name("declarator")
        if cur is not None and cur.type in (
            "identifier",
            "field_identifier",
            "qualified_identifier",
        ):
            name = cur
    if name is None and node.type == "type_declaration" and node.named_child_count:
        name = node.named_children[0].child_by_field_name("name")
    return parsed.node_text(name) if name is not None else ""


def _outer(node: ts.Node) -> ts.Node:
    while node.parent is not None and node.parent.type in _WRAPPERS:
        node = node.parent
    return node


def find_target(
    parsed: Parsed, offset: int, *, classes: bool = True, functions: bool = True
) -> Target | None:
    """The innermost named function (or class) around `offset`; also found from anywhere on
    its first line, and from the indentation before a statement of its body."""
    lang, tree = parsed.language, parsed.tree
    if lang is None or tree is None:
        return None
    text = parsed.text
    probes = [offset]
    ls, le = line_start(text, offset), line_end(text, offset)
    stripped = text[ls:le].strip()
    if stripped:
        probes.append(ls + len(text[ls:le]) - len(text[ls:le].lstrip()))
    for probe in probes:
        b = parsed.source.to_byte(probe)
        node = tree.root_node.descendant_for_byte_range(b, b)
        for cur in ancestors(node) if node is not None else []:
            is_fn = cur.type in lang.function_types and cur.type not in _ANONYMOUS
            is_class = cur.type in _CLASS_TYPES
            if (functions and is_fn) or (classes and is_class):
                outer = _outer(cur)
                start, end = full_lines(
                    text,
                    parsed.source.to_char(outer.start_byte),
                    parsed.source.to_char(outer.end_byte),
                )
                name = _name_of(parsed, cur)
                return Target(cur.type, name, start, end, is_class, cur.start_byte)
    return None


def _node_at(parsed: Parsed, target: Target) -> ts.Node | None:
    assert parsed.tree is not None
    b = target.node_byte
    node = parsed.tree.root_node.descendant_for_byte_range(b, b)
    for cur in ancestors(node) if node is not None else []:
        if cur.type == target.node_type and cur.start_byte == b:
            return cur
    return None


def _errors(text: str, language: Language | None) -> int:
    tree = parse(text, language) if language is not None else None
    return error_count(tree.root_node) if tree is not None else 0


# -- prompt pieces ------------------------------------------------------------------------------


def language_tag(language: Language | None) -> str:
    return "" if language is None else _TAGS.get(language.name, language.name)


def language_title(language: Language | None) -> str:
    names = {"cpp": "C++", "tsx": "TypeScript (TSX)", "javascript": "JavaScript"}
    if language is None:
        return "code"
    return names.get(language.name, language.name.capitalize())


def context_notes(parsed: Parsed, start: int, end: int, limit: int = _CONTEXT_CHARS) -> str:
    """Imports, enclosing scope headers and the file's definitions of names used in
    text[start:end], as one short code block (empty when there is nothing to add)."""
    lang, tree = parsed.language, parsed.tree
    if lang is None or tree is None:
        return ""
    source = parsed.source
    pieces: list[str] = [imp.text for imp in find_imports(source, tree, lang) if imp.end <= start]
    own = indent_width(parsed.text[line_start(parsed.text, start) :])
    scopes = [
        s.header
        for s in enclosing_scopes(source, tree, start + len(indentation(parsed.text[start:])), lang)
        if s.start < start and indent_width(s.header) < own
    ]
    qc = ts.QueryCursor(identifier_query(lang))
    qc.set_byte_range(source.to_byte(start), source.to_byte(end))
    names = {
        source.slice_bytes(n.start_byte, n.end_byte)
        for n in qc.captures(tree.root_node).get("id", [])
    }
    first, last = source.line_of(start), source.line_of(end)
    defs = [
        d.text
        for d in extract_definitions(source, tree, lang, parsed.path, names=names, max_lines=12)
        if d.end_line < first or d.start_line > last
    ]
    out: list[str] = []
    used = 0
    for piece in [*pieces, *defs, *scopes]:
        if used + len(piece) > limit:
            continue
        out.append(piece)
        used += len(piece) + 1
    if not out:
        return ""
    tag = language_tag(lang)
    head = f"Context from `{parsed.path}` (for reference only, do not repeat it):"
    return f"{head}\n```{tag}\n" + "\n".join(out) + "\n```\n\n"


def _system(language: Language | None, task: str) -> str:
    return f"You are an expert {language_title(language)} programmer. {task}"


def _block(parsed: Parsed, code: str) -> str:
    return f"```{language_tag(parsed.language)}\n{shown(code)}\n```"


def shown(code: str) -> str:
    """Code as the prompt shows it (and as the reply is expected to copy it): LF, dedented."""
    return textwrap.dedent(to_lf(code)).strip("\n")


def _prefill(parsed: Parsed) -> str:
    return f"```{language_tag(parsed.language)}\n"


# -- plans --------------------------------------------------------------------------------------


def plan_docstring(parsed: Parsed, offset: int) -> Plan:
    """Document the function or class at `offset` in the language's convention."""
    target = find_target(parsed, offset)
    if target is None:
        raise ActionError("no function or class at the cursor")
    node = _node_at(parsed, target)
    assert node is not None and parsed.language is not None
    text = parsed.text
    code = text[target.start : target.end]
    what = "class" if target.is_class else "function"
    if parsed.language.indent_blocks:
        start, end, indent = _python_doc_span(parsed, node)
        ask = (
            f"Write a docstring for the {what} `{target.name}` below (PEP 257: a one-line "
            "summary, then Args/Returns sections where useful). Reply with only the docstring, "
            "as a triple-quoted string, in one code block."
        )
        style = "docstring"
    else:
        start, end, indent = _comment_doc_span(parsed, node, target)
        style = _doc_style(parsed.language)
        ask = (
            f"Write a {_STYLE_NAMES[style]} for the {what} `{target.name}` below. Reply with "
            f"only the comment, in one code block."
        )
    user = context_notes(parsed, target.start, target.end) + f"{_block(parsed, code)}\n\n{ask}"
    messages = (
        ("system", _system(parsed.language, "You write concise, accurate documentation.")),
        ("user", user),
    )
    title = "Add docstring" if style == "docstring" else "Add doc comment"
    return Plan(
        kind=DOCSTRING,
        text=text,
        path=parsed.path,
        language=parsed.language,
        messages=messages,
        prefill=_prefill(parsed),
        copy_source=shown(code),
        max_tokens=200,
        expected_tokens=60,
        start=start,
        end=end,
        indent=indent,
        name=target.name,
        title=f"{title} to `{target.name}`",
        extra={
            "style": style,
            "inline": "1" if style == "docstring" and _inline_body(node) else "",
        },
    )


_STYLE_NAMES = {
    "jsdoc": "JSDoc comment (/** ... */ with @param and @returns)",
    "javadoc": "Javadoc comment (/** ... */ with @param and @return)",
    "doxygen": "Doxygen comment (/** ... */ with @brief, @param and @return)",
    "rustdoc": "Rust doc comment (/// lines)",
    "godoc": "Go doc comment (// lines starting with the name)",
}


def _doc_style(language: Language) -> str:
    return {
        "javascript": "jsdoc",
        "typescript": "jsdoc",
        "tsx": "jsdoc",
        "java": "javadoc",
        "rust": "rustdoc",
        "go": "godoc",
    }.get(language.name, "doxygen")


def _inline_body(node: ts.Node) -> bool:
    body = body_of(node)
    return body is not None and body.start_point[0] == _colon(node).end_point[0]


def _colon(node: ts.Node) -> ts.Node:
    body = body_of(node)
    colon = node
    for child in node.children:
        if body is not None and child.start_byte >= body.start_byte:
            break
        if child.type == ":":
            colon = child
    return colon


def _python_doc_span(parsed: Parsed, node: ts.Node) -> tuple[int, int, str]:
    """Where a Python docstring goes: (start, end, indent); an existing docstring is replaced."""
    text, source = parsed.text, parsed.source
    body = body_of(node)
    assert body is not None
    first = body.named_children[0] if body.named_child_count else None
    body_start = source.to_char(body.start_byte)
    if _inline_body(node):
        colon_end = source.to_char(_colon(node).end_byte)
        header_indent = indentation(text[line_start(text, colon_end) :])
        return colon_end, body_start, header_indent + indent_unit(text)
    indent = indentation(text[line_start(text, body_start) :])
    if (
        first is not None
        and first.type == "expression_statement"
        and first.named_child_count
        and first.named_children[0].type == "string"
    ):
        s, e = full_lines(text, source.to_char(first.start_byte), source.to_char(first.end_byte))
        return s, e, indent
    after_colon = line_end(text, source.to_char(_colon(node).end_byte))
    insert = after_colon + 1 if after_colon < len(text) else after_colon
    return insert, insert, indent


def _comment_doc_span(parsed: Parsed, node: ts.Node, target: Target) -> tuple[int, int, str]:
    """Where a doc comment goes: above the definition (and its attributes); an existing doc
    comment right above it is replaced."""
    text, source = parsed.text, parsed.source
    outer = _outer(node)
    start = target.start
    indent = indentation(text[start:])
    prev = outer.prev_sibling
    row = outer.start_point[0]
    while prev is not None and prev.type == "attribute_item" and prev.end_point[0] >= row - 1:
        start = line_start(text, source.to_char(prev.start_byte))
        row = prev.start_point[0]
        prev = prev.prev_sibling
    doc: tuple[int, int] | None = None
    while (
        prev is not None
        and parsed.language is not None
        and prev.type in parsed.language.comment_types
        and prev.end_point[0] >= row - 1
    ):
        first = source.to_char(prev.start_byte)
        doc = (first, doc[1]) if doc else (first, source.to_char(prev.end_byte))
        row = prev.start_point[0]
        prev = prev.prev_sibling
    if doc is not None:
        s, e = full_lines(text, *doc)
        return s, e, indent
    return start, start, indent


def plan_fix(parsed: Parsed, start: int, end: int, message: str) -> Plan:
    """Fix the problem a diagnostic reports at text[start:end]."""
    text = parsed.text
    target = find_target(parsed, start, classes=False)
    if target is not None and text.count("\n", target.start, target.end) < _MAX_REGION_LINES:
        r_start, r_end, name = target.start, target.end, target.name
    else:
        r_start, r_end, name = _statement_region(parsed, start, end)
    code = text[r_start:r_end]
    line = text[line_start(text, start) : line_end(text, start)].strip()
    where = f"at line {text.count(chr(10), r_start, start) + 1} (`{line[:120]}`)"
    ask = (
        f"Problem {where}: {message.strip()}\n\n"
        "Rewrite the code above with the problem fixed. Change only what is needed and keep "
        "everything else exactly as it is. Reply with the complete corrected code in one code "
        "block."
    )
    user = (
        context_notes(parsed, r_start, r_end)
        + f"Code from `{parsed.path}`:\n{_block(parsed, code)}\n\n{ask}"
    )
    n = _approx_tokens(code)
    return Plan(
        kind=FIX,
        text=text,
        path=parsed.path,
        language=parsed.language,
        messages=(("system", _system(parsed.language, "You fix bugs precisely.")), ("user", user)),
        prefill=_prefill(parsed),
        copy_source=shown(code),
        max_tokens=min(1024, n + n // 2 + 64),
        expected_tokens=n,
        start=r_start,
        end=r_end,
        indent=indentation(code),
        name=name,
        title="Fix with AI",
    )


def _statement_region(parsed: Parsed, start: int, end: int) -> tuple[int, int, str]:
    """Outside functions: the top-level statement around the problem, else a line window."""
    text, tree = parsed.text, parsed.tree
    if tree is not None:
        b = parsed.source.to_byte(start)
        node = tree.root_node.descendant_for_byte_range(b, b)
        for cur in ancestors(node) if node is not None else []:
            if cur.parent is not None and cur.parent.parent is None:
                s = parsed.source.to_char(cur.start_byte)
                e = parsed.source.to_char(cur.end_byte)
                if text.count("\n", s, e) < _MAX_REGION_LINES:
                    s, e = full_lines(text, s, max(e, end))
                    return s, e, ""
                break
    s, e = full_lines(text, start, end)
    for _ in range(_FIX_WINDOW_LINES // 2):
        s = line_start(text, max(0, s - 1))
        e = line_end(text, min(len(text), e + 1))
    s, e = full_lines(text, s, e)
    return s, e, ""


def plan_rewrite(parsed: Parsed, start: int, end: int, instruction: str) -> Plan:
    """Rewrite the selection text[start:end] following the user's instruction."""
    text = parsed.text
    if start >= end or not text[start:end].strip():
        raise ActionError("select the code to rewrite first")
    if not instruction.strip():
        raise ActionError("no instruction given for the rewrite")
    s, e = full_lines(text, start, end)
    partial = "\n" not in text[start:end].rstrip("\n") and text[s:start].strip() != ""
    if not partial:
        start, end = s, e
    code = text[start:end]
    ask = (
        f"Instruction: {instruction.strip()}\n\nRewrite the code above following the "
        "instruction. Reply with only the rewritten code in one code block."
    )
    user = (
        context_notes(parsed, start, end)
        + f"Code from `{parsed.path}`:\n{_block(parsed, code)}\n\n{ask}"
    )
    n = _approx_tokens(code)
    return Plan(
        kind=REWRITE,
        text=text,
        path=parsed.path,
        language=parsed.language,
        messages=(
            ("system", _system(parsed.language, "You rewrite code as instructed.")),
            ("user", user),
        ),
        prefill=_prefill(parsed),
        copy_source=shown(code),
        max_tokens=min(1024, 2 * n + 96),
        expected_tokens=n,
        start=start,
        end=end,
        indent=indentation(text[line_start(text, start) :]) if not partial else "",
        title="Rewrite selection",
        extra={"partial": "1" if partial else "", "instruction": instruction.strip()},
    )


def plan_explain(parsed: Parsed, start: int, end: int) -> Plan:
    """Explain the selection (or the function at the cursor when nothing is selected)."""
    text = parsed.text
    if start >= end or not text[start:end].strip():
        target = find_target(parsed, start)
        if target is None:
            raise ActionError("select the code to explain first")
        start, end = target.start, target.end
    else:
        start, end = full_lines(text, start, end)
    code = text[start:end]
    user = (
        context_notes(parsed, start, end)
        + f"Code from `{parsed.path}`:\n{_block(parsed, code)}\n\nExplain what this code does "
        "and how, concisely, in Markdown: a one-sentence summary, then the key points as a "
        "short list. Mention any bug you notice. Do not rewrite the code."
    )
    return Plan(
        kind=EXPLAIN,
        text=text,
        path=parsed.path,
        language=parsed.language,
        messages=(
            ("system", _system(parsed.language, "You explain code clearly and briefly.")),
            ("user", user),
        ),
        prefill="",
        copy_source=shown(code),
        max_tokens=320,
        expected_tokens=200,
        start=start,
        end=end,
        indent="",
        title="Explain this code",
    )


def plan_tests(parsed: Parsed, offset: int, test_path: str, module: str, framework: str) -> Plan:
    """Unit tests for the function at `offset`, to go into `test_path`."""
    target = find_target(parsed, offset)
    if target is None:
        raise ActionError("no function at the cursor")
    code = parsed.text[target.start : target.end]
    py = parsed.language is not None and parsed.language.name == "python"
    first = f" Start with `from {module} import {target.name}`." if py else ""
    user = (
        context_notes(parsed, target.start, target.end)
        + f"Code from `{parsed.path}` (module `{module}`):\n{_block(parsed, code)}\n\n"
        f"Write {framework} unit tests for `{target.name}`.{first} Write 3 to 5 short test "
        "functions covering typical and edge cases; assert exact expected values you are sure "
        "of. Reply with only the test file's code in one code block."
    )
    return Plan(
        kind=TESTS,
        text=parsed.text,
        path=parsed.path,
        language=parsed.language,
        messages=(
            ("system", _system(parsed.language, "You write focused unit tests.")),
            ("user", user),
        ),
        prefill=_prefill(parsed),
        copy_source=shown(code),
        max_tokens=420,
        expected_tokens=250,
        start=target.start,
        end=target.end,
        indent="",
        name=target.name,
        title=f"Generate unit tests for `{target.name}`",
        extra={"test_path": test_path, "module": module, "framework": framework},
    )


def _approx_tokens(code: str) -> int:
    return max(16, len(code) // 3)


# -- running a plan -----------------------------------------------------------------------------


def action_prompt(vocab: Vocabulary, plan: Plan) -> list[int]:
    """The plan's chat prompt with the model's template, thinking switched off, prefill last."""
    template = getattr(vocab, "chat_template", lambda: None)()
    tokens = chat_tokens(vocab, plan.messages, template)
    if template and ("enable_thinking" in template or "<think>" in template):
        tokens += vocab.tokenize("<think>\n\n</think>\n\n", special=True)
    if plan.prefill:
        tokens += vocab.tokenize(plan.prefill)
    return tokens


def run_plan(
    engine: Engine,
    plan: Plan,
    cancelled: Callable[[], bool],
    *,
    key: str = "action",
    drafting: str = "auto",
    on_text: Callable[[str], None] | None = None,
    max_prompt_ms: float | None = None,
    max_predict_ms: float | None = None,
) -> Run:
    """Generate the reply to a plan on the engine (call on the model worker thread)."""
    t0 = time.monotonic()
    model = engine.target
    tokens = action_prompt(model, plan)
    sources = (tuple(model.tokenize(plan.copy_source)),) if plan.copy_source else ()

    def stop(text: str) -> int | None:
        if on_text is not None:
            on_text(text)
        return fence_stop(text) if plan.fenced else None

    options = DecodeOptions(
        max_tokens=plan.max_tokens,
        max_prompt_ms=max_prompt_ms,
        max_predict_ms=max_predict_ms,
        drafting=drafting,
        ngram_sources=sources,
        expected_tokens=plan.expected_tokens,
    )
    result = engine.generate(key, tokens, options, stop, cancelled)
    if result.stop_reason == "cancelled" or cancelled():
        raise ActionCancelled("cancelled")
    closing = "```" if plan.fenced and result.stop_reason == "stop" else ""
    st = result.stats
    return Run(
        reply=plan.prefill + result.text + closing,
        stop_reason=result.stop_reason,
        prompt_tokens=st.prompt_tokens,
        generated=st.generated,
        prompt_ms=st.prompt_ms,
        predict_ms=st.predict_ms,
        total_ms=(time.monotonic() - t0) * 1000,
        drafted=st.drafted_model + st.drafted_ngram,
        accepted=st.accepted_model + st.accepted_ngram,
    )


# -- turning replies into results ---------------------------------------------------------------


def outcome_of(plan: Plan, run: Run) -> Outcome:
    """The result of a model run; ActionError when it is unusable."""
    if run.stop_reason in ("budget", "prompt_budget"):
        raise ActionError("the model took too long; nothing was changed")
    return finish(plan, run.reply)


def finish(plan: Plan, reply: str) -> Outcome:
    """The result of a plan from the model's full reply; ActionError when it is unusable."""
    if plan.kind == EXPLAIN:
        return _finish_explain(plan, reply)
    code = extract_code_block(reply)
    if plan.kind == DOCSTRING:
        return _finish_docstring(plan, code)
    if plan.kind == TESTS:
        return _finish_tests(plan, code)
    return _finish_replace(plan, code)


def _finish_explain(plan: Plan, reply: str) -> Outcome:
    explanation = reply.strip()
    if not explanation:
        raise ActionError("the model returned no explanation")
    first = plan.text.count("\n", 0, plan.start) + 1
    last = first + plan.text.count("\n", plan.start, plan.end)
    code = _block_of(plan, plan.text[plan.start : plan.end])
    md = f"# Explanation of `{plan.path}` lines {first}–{last}\n\n{code}\n\n{explanation}\n"
    return Outcome(markdown=md)


def _block_of(plan: Plan, code: str) -> str:
    return f"```{language_tag(plan.language)}\n{to_lf(code).rstrip()}\n```"


def _finish_replace(plan: Plan, code: str) -> Outcome:
    text, nl = plan.text, newline_of(plan.text)
    unit = indent_unit(text)
    if plan.kind == REWRITE and plan.extra.get("partial"):
        new = reindent(code, "", unit)
        lead = indentation(text[line_start(text, plan.start) :])
        new = new.replace("\n", "\n" + lead)
    else:
        if plan.kind == FIX and plan.name:
            code = pick_definition(code, plan.name, plan.language)
        new = reindent(code, plan.indent, unit)
    if plan.kind == FIX and plan.name and plan.name not in "\n".join(new.split("\n")[:4]):
        raise ActionError(
            f"the model's reply does not contain the whole of `{plan.name}`; nothing changed"
        )
    new = with_newlines(new, nl)
    edit = minimal_edit(text, plan.start, plan.end, new)
    if edit is None:
        raise ActionError("the model proposed no change")
    patched = apply_edits(text, [edit])
    if _errors(patched, plan.language) > _errors(text, plan.language):
        raise ActionError("the model's code does not parse; nothing was changed")
    return Outcome(edits=(edit,))


def pick_definition(code: str, name: str, language: Language | None) -> str:
    """The definition named `name` (with its decorators) out of a reply that may also repeat
    imports or neighbours; the whole reply when it holds no such definition."""
    parsed = Parsed.of(to_lf(code), "reply", language.name if language else None)
    if parsed.tree is None:
        return code
    stack = [parsed.tree.root_node]
    while stack:
        node = stack.pop(0)
        lang = parsed.language
        assert lang is not None
        if (node.type in lang.function_types or node.type in _CLASS_TYPES) and _name_of(
            parsed, node
        ) == name:
            outer = _outer(node)
            s = parsed.source.to_char(outer.start_byte)
            e = parsed.source.to_char(outer.end_byte)
            return parsed.text[line_start(parsed.text, s) : e]
        stack.extend(node.named_children)
    return code


def _finish_docstring(plan: Plan, code: str) -> Outcome:
    text, nl = plan.text, newline_of(plan.text)
    unit = indent_unit(text)
    style = plan.extra.get("style", "")
    doc = _python_docstring(code, plan.name) if style == "docstring" else _doc_comment(code)
    block = reindent(doc, plan.indent, unit)
    if plan.extra.get("inline"):
        new = "\n" + block + "\n" + plan.indent
    else:
        new = block + "\n"
        if plan.start == len(text) and not text.endswith("\n"):
            new = "\n" + new
    new = with_newlines(new, nl)
    if plan.start < plan.end:  # replacing a docstring: its last line keeps its line break
        new = new[: -len(nl)] if new.endswith(nl) else new
    edit = Edit(plan.start, plan.end, new)
    if _errors(apply_edits(text, [edit]), plan.language) > _errors(text, plan.language):
        raise ActionError("the model's docstring does not parse; nothing was changed")
    return Outcome(edits=(edit,))


def _python_docstring(code: str, name: str) -> str:
    """The docstring literal (with its lines' relative indentation) from a reply that holds a
    string, or the whole documented function/class."""
    src = reindent(code, "")
    try:
        module = ast.parse(src)
    except SyntaxError:
        raise ActionError("the model's docstring is not valid Python; nothing changed") from None
    node: ast.stmt | None = None
    body = module.body
    if body and isinstance(body[0], ast.Expr) and _is_str(body[0].value):
        node = body[0]
    else:
        defs = [
            d
            for d in ast.walk(module)
            if isinstance(d, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        defs.sort(key=lambda d: d.name != name)
        for d in defs:
            if d.body and isinstance(d.body[0], ast.Expr) and _is_str(d.body[0].value):
                node = d.body[0]
                break
    if node is None or node.end_lineno is None:
        raise ActionError("the model did not return a docstring; nothing was changed")
    lines = src.split("\n")[node.lineno - 1 : node.end_lineno]
    return "\n".join(lines)


def _is_str(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


_COMMENT_LINE = re.compile(r"^\s*(/\*|\*|//)")


def _doc_comment(code: str) -> str:
    """The leading comment lines of a reply (a bare comment, or one above a definition)."""
    lines = to_lf(code).strip("\n").split("\n")
    out: list[str] = []
    in_block = False
    for line in lines:
        stripped = line.strip()
        if in_block:
            out.append(line)
            in_block = "*/" not in stripped
            continue
        if not stripped and not out:
            continue
        if not _COMMENT_LINE.match(line):
            break
        out.append(line)
        in_block = stripped.startswith("/*") and "*/" not in stripped
    if not out or in_block:
        raise ActionError("the model did not return a doc comment; nothing was changed")
    return "\n".join(out)


def _finish_tests(plan: Plan, code: str) -> Outcome:
    body = reindent(code, "")
    name, module = plan.name, plan.extra.get("module", "")
    if plan.language is not None and plan.language.name == "python":
        try:
            tree = ast.parse(body)
        except SyntaxError:
            raise ActionError("the model's tests are not valid Python; nothing changed") from None
        tests = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test")
        ]
        if not tests:
            raise ActionError("the model's reply contains no test function; nothing changed")
        imported = any(
            isinstance(n, ast.ImportFrom | ast.Import)
            and any((a.asname or a.name) == name or a.name == "*" for a in n.names)
            for n in ast.walk(tree)
        )
        if module and not imported:
            body = f"from {module} import {name}\n\n\n" + body
    text = with_newlines(body.rstrip("\n") + "\n", newline_of(plan.text))
    return Outcome(new_file=NewFile(plan.extra.get("test_path", ""), text))


# -- test files ---------------------------------------------------------------------------------


def path_for_tests(path: str, language: Language | None, root: str | None = None) -> str:
    """Where tests of `path` go: `test_<module>.py` (or the language's naming) beside it, or
    in a `tests/` directory beside it or at the workspace root when there is one."""
    directory, base = os.path.split(path)
    stem, ext = os.path.splitext(base)
    lang = language.name if language is not None else ""
    if lang == "go":
        return os.path.join(directory, f"{stem}_test.go")  # Go tests live in the package
    names = {
        "javascript": f"{stem}.test{ext}",
        "typescript": f"{stem}.test{ext}",
        "tsx": f"{stem}.test{ext}",
        "java": f"{stem}Test{ext}",
        "rust": f"{stem}_test{ext}",
    }
    name = names.get(lang, f"test_{stem}{ext or '.py'}")
    for candidate in _test_dirs(directory, root):
        if os.path.isdir(candidate):
            return os.path.join(candidate, name)
    return os.path.join(directory, name)


def _test_dirs(directory: str, root: str | None) -> list[str]:
    if os.path.basename(directory) == "tests":
        return []
    out = [os.path.join(directory, "tests")]
    if root and os.path.abspath(root) != os.path.abspath(directory):
        out.append(os.path.join(root, "tests"))
    return out


def python_module(path: str) -> str:
    """Dotted module name of a Python file: its package path (directories with __init__.py)
    and its stem."""
    directory, base = os.path.split(os.path.abspath(path))
    parts = [os.path.splitext(base)[0]]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts)


def python_framework(root: str | None) -> str:
    """pytest unless the workspace's existing tests use unittest only."""
    if not root:
        return "pytest"
    for name in ("conftest.py", "pytest.ini"):
        if os.path.isfile(os.path.join(root, name)):
            return "pytest"
    tests = os.path.join(root, "tests")
    if os.path.isdir(tests):
        texts = []
        for entry in sorted(os.listdir(tests))[:20]:
            if entry.startswith("test") and entry.endswith(".py"):
                try:
                    with open(os.path.join(tests, entry), encoding="utf-8") as f:
                        texts.append(f.read(4000))
                except OSError:
                    continue
        if texts and all("unittest" in t and "pytest" not in t for t in texts):
            return "unittest"
    return "pytest"


def framework_for(language: Language | None, root: str | None) -> str:
    name = language.name if language is not None else ""
    return {
        "python": python_framework(root),
        "javascript": "Jest",
        "typescript": "Jest",
        "tsx": "Jest",
        "go": "Go `testing`",
        "rust": "Rust `#[test]`",
        "java": "JUnit 5",
    }.get(name, "unit")
