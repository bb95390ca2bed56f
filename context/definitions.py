"""Definitions of a file rendered as signatures: headers, doc comments, docstrings, no bodies.

Each definition (function, method, class, struct, type, constant…) found by the language's
definition query becomes a `Definition` whose `text` is what the model needs to call or use
it: the enclosing class/impl header for members, the doc comment above it, the header and
docstring, with function bodies elided, capped at a number of lines.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

import tree_sitter as ts

from airgap_lsp.context.languages import Language, query
from airgap_lsp.context.nodes import body_of
from airgap_lsp.context.scopes import header_text
from airgap_lsp.context.text import SourceText, line_start

MAX_DEFINITION_LINES = 40
# Short Python constructors are kept whole: their `self.x = …` lines are the class's fields.
_KEEP_INIT_LINES = 12
_DOC_NEIGHBOURS = frozenset({"attribute_item", "decorator", "annotation"})


@dataclass(frozen=True, slots=True)
class Definition:
    """A named definition: where it is and its rendered signature text."""

    name: str
    kind: str
    path: str
    start_line: int
    end_line: int
    text: str
    top_level: bool
    # The type a member belongs to (class, impl'd type, Go receiver or constructed type).
    owner: str | None = None


def extract_definitions(
    source: SourceText,
    tree: ts.Tree,
    language: Language,
    path: str,
    *,
    byte_range: tuple[int, int] | None = None,
    names: Container[str] | None = None,
    max_depth: int | None = None,
    max_lines: int = MAX_DEFINITION_LINES,
) -> tuple[Definition, ...]:
    """Definitions in `tree`, optionally only those intersecting `byte_range`, named in
    `names`, or starting at most `max_depth` levels below the root (2 covers top-level
    definitions and their decorators/`export` wrappers)."""
    cursor = ts.QueryCursor(query(language, language.definition_query))
    if byte_range is not None:
        cursor.set_byte_range(*byte_range)
    if max_depth is not None:
        cursor.set_max_start_depth(max_depth)
    seen: set[tuple[str, int]] = set()
    out: list[Definition] = []
    for _, captures in cursor.matches(tree.root_node):
        defs = captures.get("def")
        name_nodes = captures.get("name")
        if not defs or not name_nodes:
            continue
        node = defs[0]
        while node.parent is not None and node.parent.type in language.def_wrappers:
            node = node.parent
        name = _simple_name(source.slice_bytes(name_nodes[0].start_byte, name_nodes[0].end_byte))
        key = (name, node.start_byte)
        if not name or key in seen or (names is not None and name not in names):
            continue
        seen.add(key)
        containers = _containers(node, language)
        text = render(source, node, language, containers, max_lines=max_lines)
        parent = node.parent
        out.append(
            Definition(
                name=name,
                kind=defs[0].type,
                path=path,
                start_line=node.start_point[0],
                end_line=node.end_point[0],
                text=text,
                top_level=parent is not None and parent.parent is None,
                owner=_owner(source, node, containers, language),
            )
        )
    out.sort(key=lambda d: (d.start_line, d.name))
    return tuple(out)


_WORD = re.compile(r"[A-Za-z_]\w*")


def _owner(
    source: SourceText, node: ts.Node, containers: list[ts.Node], language: Language
) -> str | None:
    if containers:
        c = containers[-1]
        name = c.child_by_field_name("name") or c.child_by_field_name("type")
        if name is not None:
            m = _WORD.search(source.slice_bytes(name.start_byte, name.end_byte))
            return m.group(0) if m else None
        return None
    if language.name != "go":
        return None
    if node.type == "method_declaration":
        receiver = node.child_by_field_name("receiver")
        words = (
            _WORD.findall(source.slice_bytes(receiver.start_byte, receiver.end_byte))
            if (receiver is not None)
            else []
        )
        return words[1] if len(words) > 1 else (words[0] if words else None)
    if node.type == "function_declaration":
        # Go constructors (`func NewGate(...) *Gate`) belong with the type they return.
        result = node.child_by_field_name("result")
        if result is not None:
            words = _WORD.findall(source.slice_bytes(result.start_byte, result.end_byte))
            if words and words[0][0].isupper():
                return words[0]
    return None


def _simple_name(text: str) -> str:
    return re.split(r"::|\.", text)[-1].lstrip("~").strip()


def _containers(node: ts.Node, language: Language) -> list[ts.Node]:
    out: list[ts.Node] = []
    cur = node.parent
    while cur is not None:
        if cur.type in language.container_types:
            out.append(cur)
        cur = cur.parent
    out.reverse()
    return out


def _doc_start(node: ts.Node, language: Language) -> int:
    """Start byte of the comments/attributes directly above `node` (or its own start)."""
    start = node.start_byte
    row = node.start_point[0]
    prev = node.prev_sibling
    while prev is not None and (
        prev.type in language.comment_types or prev.type in _DOC_NEIGHBOURS
    ):
        if prev.end_point[0] < row - 1:
            break
        start = prev.start_byte
        row = prev.start_point[0]
        prev = prev.prev_sibling
    return start


def _elisions(node: ts.Node, language: Language) -> list[tuple[int, int, str]]:
    """Byte ranges of function bodies inside `node` and what replaces each."""
    cuts: list[tuple[int, int, str]] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type in language.function_types:
            body = body_of(cur)
            if body is not None:
                cut = _body_cut(cur, body, language)
                if cut is not None:
                    cuts.append(cut)
                    continue
        stack.extend(cur.named_children)
    cuts.sort()
    return cuts


def _body_cut(fn: ts.Node, body: ts.Node, language: Language) -> tuple[int, int, str] | None:
    if language.indent_blocks:
        name = fn.child_by_field_name("name")
        if (
            name is not None
            and name.text == b"__init__"
            and body.end_point[0] - body.start_point[0] < _KEEP_INIT_LINES
        ):
            return None
        first = body.named_children[0] if body.named_child_count else None
        if (
            first is not None
            and first.type == "expression_statement"
            and first.named_child_count
            and first.named_children[0].type == "string"
        ):
            return (first.end_byte, body.end_byte, "") if first.end_byte < body.end_byte else None
        return body.start_byte, body.end_byte, "..."
    if body.type.endswith("block") or body.type in ("compound_statement", "constructor_body"):
        return body.start_byte, body.end_byte, "{ ... }"
    return None


def render(
    source: SourceText,
    node: ts.Node,
    language: Language,
    containers: list[ts.Node] | None = None,
    *,
    max_lines: int = MAX_DEFINITION_LINES,
) -> str:
    """Signature text of a definition node: container headers, docs, header, elided bodies."""
    parts: list[str] = [header_text(source, c) for c in containers or ()]
    start_b = _doc_start(node, language)
    pieces: list[str] = []
    pos = start_b
    for cut_start, cut_end, replacement in _elisions(node, language):
        if cut_start < pos:
            continue
        pieces.append(source.slice_bytes(pos, cut_start))
        pieces.append(replacement)
        pos = cut_end
    pieces.append(source.slice_bytes(pos, node.end_byte))
    start_char = source.to_char(start_b)
    indent = source.text[line_start(source.text, start_char) : start_char]
    body = indent + "".join(pieces) if indent.strip() == "" else "".join(pieces)
    parts.append(body.rstrip())
    lines = "\n".join(parts).split("\n")
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], f"{indent}{language.line_comment} ..."]
    return "\n".join(line.rstrip() for line in lines)
