"""Small tree-sitter node helpers shared by the context extractors.

Every walk here is iterative, so a tree of any depth is safe to inspect.
"""

from __future__ import annotations

import tree_sitter as ts

_BODY_FIELDS = ("body", "consequence")


def node_before(tree: ts.Tree, byte: int) -> ts.Node:
    """Smallest node covering the byte just before `byte` (the root when `byte` is 0)."""
    root = tree.root_node
    if byte <= 0:
        return root
    node = root.descendant_for_byte_range(byte - 1, byte)
    return root if node is None else node


def body_of(node: ts.Node) -> ts.Node | None:
    """The body block of a definition or compound statement, if the grammar names one."""
    for field in _BODY_FIELDS:
        child = node.child_by_field_name(field)
        if child is not None:
            return child
    return None


def ancestors(node: ts.Node) -> list[ts.Node]:
    """`node` and its ancestors, innermost first."""
    out: list[ts.Node] = []
    cur: ts.Node | None = node
    while cur is not None:
        out.append(cur)
        cur = cur.parent
    return out


def error_count(node: ts.Node) -> int:
    """Number of ERROR and MISSING nodes under `node`, visiting only subtrees with errors,
    plus one for each node that has an error none of its children shows: a MISSING token
    the tree does not list, such as the newline between two statements written on one line
    (`return a)return a` parses as two return statements with no ERROR node in Python).

    Iterative: a document nested thousands of levels deep must not exhaust Python's stack.
    """
    count = 0
    stack = [node]
    while stack:
        cur = stack.pop()
        if not cur.has_error and not cur.is_missing:
            continue
        children = cur.children
        shown = any(c.has_error or c.is_missing for c in children)
        if cur.is_error or cur.is_missing or not shown:
            count += 1
        stack.extend(children)
    return count
