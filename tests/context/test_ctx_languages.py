from __future__ import annotations

import pytest

from airgap_lsp.context import LANGUAGES, language_for
from airgap_lsp.context.languages import grammar, identifier_query, parser_for, query


@pytest.mark.parametrize(
    ("language_id", "path", "expected"),
    [
        ("python", None, "python"),
        ("javascriptreact", None, "javascript"),
        ("typescript", None, "typescript"),
        ("typescriptreact", None, "tsx"),
        ("go", None, "go"),
        ("rust", None, "rust"),
        ("java", None, "java"),
        ("c", None, "c"),
        ("cpp", None, "cpp"),
        (None, "src/app/main.TSX", "tsx"),
        (None, "lib/util.hpp", "cpp"),
        ("plaintext", "notes/x.rs", "rust"),
        ("markdown", "README.md", None),
        (None, None, None),
        ("cobol", "x.cbl", None),
    ],
)
def test_language_table(language_id, path, expected):
    lang = language_for(language_id, path)
    assert (lang.name if lang else None) == expected


@pytest.mark.parametrize("lang", LANGUAGES, ids=lambda lang: lang.name)
def test_grammar_and_queries_load(lang):
    assert grammar(lang) is grammar(lang)
    query(lang, lang.definition_query)
    identifier_query(lang)
    tree = parser_for(lang).parse(b"")
    assert tree.root_node is not None
