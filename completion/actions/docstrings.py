"""The docstring action's plan: the documentation style of each language and where the
docstring or doc comment goes (an existing one is replaced).
"""

from __future__ import annotations

import tree_sitter as ts

from airgap_lsp.completion.actions.data import DOCSTRING, ActionError, Plan
from airgap_lsp.completion.actions.prompts import _block, _prefill, _system, context_notes, shown
from airgap_lsp.completion.actions.targets import Parsed, Target, _node_at, _outer, find_target
from airgap_lsp.completion.actions.text import full_lines, indent_unit
from airgap_lsp.context import Language
from airgap_lsp.context.nodes import body_of
from airgap_lsp.context.text import indentation, line_end, line_start


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
