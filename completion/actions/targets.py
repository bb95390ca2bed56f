"""The syntax side of actions (tree-sitter through `context`): the parsed document, finding
the named function or class at a cursor (or by name in a reply) and counting parse errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter as ts

from airgap_lsp.completion.actions.text import full_lines, to_lf
from airgap_lsp.context import Language, language_for
from airgap_lsp.context.nodes import ancestors, error_count
from airgap_lsp.context.syntax import parse
from airgap_lsp.context.text import SourceText, line_end, line_start

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
