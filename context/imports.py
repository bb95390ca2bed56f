"""Import-like statements of a file: imports, `use`, `#include`, package clauses.

Returns the top-level statements in source order with their text and the identifiers they
bring in, so the assembler can show them and look the imported names up in other files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter as ts

from airgap_lsp.context.languages import Language, identifier_query
from airgap_lsp.context.text import SourceText

_MODULE_PATH = re.compile(r"[\"'<](?:[^\"'<>\n]*/)?([A-Za-z_][\w-]*)(?:\.\w+)*[\"'>]")


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement: code-point span, first line, text and the names it mentions."""

    start: int
    end: int
    start_line: int
    text: str
    names: tuple[str, ...]


def find_imports(source: SourceText, tree: ts.Tree, language: Language) -> tuple[Import, ...]:
    """Top-level import statements (also inside C preprocessor conditionals), in order."""
    out: list[Import] = []
    id_query = identifier_query(language)
    stack = list(reversed(tree.root_node.children))
    while stack:
        node = stack.pop()
        if node.type in language.import_types:
            cursor = ts.QueryCursor(id_query)
            ids = sorted(cursor.captures(node).get("id", []), key=lambda n: n.start_byte)
            start = source.to_char(node.start_byte)
            end = source.to_char(node.end_byte)
            # Module paths in strings (Go, JS, #include): their last component names the module.
            modules = [m.group(1) for m in _MODULE_PATH.finditer(source.text, start, end)]
            names = tuple(
                dict.fromkeys(
                    [*(source.slice_bytes(n.start_byte, n.end_byte) for n in ids), *modules]
                )
            )
            out.append(
                Import(start, end, node.start_point[0], source.text[start:end].rstrip(), names)
            )
        elif node.type.startswith("preproc_if") or node.type == "preproc_else":
            stack.extend(reversed(node.children))
    return tuple(out)
