"""Enclosing scopes at a cursor: the header lines of classes, functions and blocks around it.

Only headers are returned (`def f(x):`, `impl Foo {`, `if (a) {`), never bodies, outermost
first, so the assembler can show the model where the cursor sits in a long function whose
start has scrolled out of the prefix window.
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter as ts

from airgap_lsp.context.languages import Language
from airgap_lsp.context.nodes import ancestors, body_of, node_before
from airgap_lsp.context.text import SourceText, indent_width, line_start

MAX_HEADER_LINES = 6


@dataclass(frozen=True, slots=True)
class Scope:
    """One enclosing scope: node type, code-point offset of its line, header text."""

    kind: str
    start: int
    start_line: int
    header: str


def header_text(source: SourceText, node: ts.Node, max_lines: int = MAX_HEADER_LINES) -> str:
    """The header of a scope node from the start of its first line up to its body."""
    start_b = node.start_byte
    body = body_of(node)
    if body is not None and body.start_byte > start_b:
        end_b = body.start_byte
        # Brace bodies: keep the opening brace so the header reads like the source line.
        if source.data[end_b : end_b + 1] == b"{":
            end_b += 1
    else:
        nl = source.data.find(b"\n", start_b)
        end_b = len(source.data) if nl < 0 else nl
    start = line_start(source.text, source.to_char(start_b))
    text = source.text[start : source.to_char(end_b)].rstrip()
    lines = text.split("\n")
    if len(lines) > max_lines:
        lines = lines[:max_lines]
    return "\n".join(lines)


def enclosing_scopes(
    source: SourceText, tree: ts.Tree, offset: int, language: Language
) -> tuple[Scope, ...]:
    """Scopes enclosing code-point `offset`, outermost first."""
    text = source.text
    # Look from the last non-blank character so a cursor on a blank line stays inside the
    # block it is indented into (tree-sitter ends a Python block at its last statement).
    probe = len(text[:offset].rstrip())
    cursor_b = source.to_byte(offset)
    ls = line_start(text, offset)
    before_cursor = text[ls:offset]
    blank_line = before_cursor.strip() == ""
    cursor_indent = indent_width(before_cursor) if blank_line else indent_width(text[ls:])
    scopes: list[Scope] = []
    for node in ancestors(node_before(tree, source.to_byte(probe))):
        if node.type not in language.scope_types:
            continue
        start = line_start(text, source.to_char(node.start_byte))
        if language.indent_blocks:
            nl = text.find("\n", start)
            line = text[start : len(text) if nl < 0 else nl]
            if blank_line and indent_width(line) >= cursor_indent:
                continue
            if not blank_line and indent_width(line) > cursor_indent:
                continue
        elif node.end_byte <= cursor_b and not _open_at_end(node):
            continue
        if start >= offset:
            continue
        header = header_text(source, node)
        scopes.append(Scope(node.type, start, source.line_of(start), header))
    scopes.reverse()
    return tuple(scopes)


def _open_at_end(node: ts.Node) -> bool:
    """True when a brace block is still unclosed (its closing brace is missing)."""
    body = body_of(node) or node
    last = body.child(body.child_count - 1) if body.child_count else None
    return last is not None and (last.is_missing or last.is_error)
