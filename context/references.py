"""Names referenced near the cursor, closest first: the symbols worth looking up elsewhere."""

from __future__ import annotations

import re

import tree_sitter as ts

from airgap_lsp.context.languages import Language, identifier_query
from airgap_lsp.context.text import SourceText

_WORD_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def referenced_names(
    source: SourceText,
    tree: ts.Tree,
    language: Language,
    offset: int,
    *,
    lines_before: int = 40,
    lines_after: int = 10,
) -> list[str]:
    """Distinct identifiers within a few lines of `offset`, nearest to it first."""
    text = source.text
    start = offset
    for _ in range(lines_before + 1):
        nl = text.rfind("\n", 0, start)
        if nl < 0:
            start = 0
            break
        start = nl
    end = offset
    for _ in range(lines_after + 1):
        nl = text.find("\n", end + 1)
        if nl < 0:
            end = len(text)
            break
        end = nl
    cursor_b = source.to_byte(offset)
    qc = ts.QueryCursor(identifier_query(language))
    qc.set_byte_range(source.to_byte(start), source.to_byte(end))
    found: dict[str, int] = {}
    for node in qc.captures(tree.root_node).get("id", []):
        if node.start_byte <= cursor_b <= node.end_byte:
            # The word under the cursor is still being typed: it is not a reference yet.
            continue
        name = source.slice_bytes(node.start_byte, node.end_byte)
        # Text after the cursor is further from the model's attention than text before it.
        distance = (
            cursor_b - node.end_byte
            if node.end_byte < cursor_b
            else 2 * (node.start_byte - cursor_b)
        )
        if name not in found or distance < found[name]:
            found[name] = distance
    return sorted(found, key=lambda n: (found[n], n))


def word_before(text: str, offset: int) -> str:
    """The identifier fragment ending at `offset` ('' if none)."""
    m = _WORD_BEFORE.search(text[max(0, offset - 200) : offset])
    return m.group(0) if m else ""
