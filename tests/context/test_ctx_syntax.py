from __future__ import annotations

import random

import pytest

from airgap_lsp.context import SyntaxCache, TextEdit, language_for
from airgap_lsp.context.syntax import parse

PY = '''import os


def greet(name: str) -> str:
    """Say hello to ñame — ünïcode."""
    return f"héllo {name}"


class Repo:
    def get(self, key):
        return self.data[key]
'''

GO = """package store

// Get returns the value — ünïcode comment.
func Get(m map[string]int, k string) int {
	return m[k]
}
"""


def _sexp(tree) -> str:
    return str(tree.root_node)


@pytest.mark.parametrize(("lang_id", "text"), [("python", PY), ("go", GO)])
def test_incremental_parse_equals_fresh_parse(lang_id, text):
    lang = language_for(lang_id)
    cache = SyntaxCache()
    cache.open("file:///a", text, lang)
    assert cache.tree("file:///a") is not None
    rng = random.Random(7)
    inserts = ["x", "ü", "\n", "    pass\n", "(", ")", "{", "é = 1\n", ""]
    current = text
    for _ in range(60):
        start = rng.randrange(len(current) + 1)
        end = min(len(current), start + rng.choice([0, 0, 1, 3]))
        edit = TextEdit(start, end, rng.choice(inserts))
        current = current[:start] + edit.new_text + current[end:]
        assert cache.change("file:///a", [edit]) == current
        if rng.random() < 0.3:
            tree = cache.tree("file:///a")
            assert _sexp(tree) == _sexp(parse(current, lang))
    assert _sexp(cache.tree("file:///a")) == _sexp(parse(current, lang))


def test_several_edits_in_one_change_apply_in_order():
    lang = language_for("python")
    cache = SyntaxCache()
    cache.open("u", "a = 1\nb = 2\n", lang)
    new = cache.change(
        "u", [TextEdit(0, 1, "alpha"), TextEdit(len("alpha = 1\n"), len("alpha = 1\nb"), "beta")]
    )
    assert new == "alpha = 1\nbeta = 2\n"
    assert _sexp(cache.tree("u")) == _sexp(parse(new, lang))


def test_snapshot_tree_is_not_mutated_by_later_edits():
    lang = language_for("python")
    cache = SyntaxCache()
    cache.open("u", "x = 1\n", lang)
    before = cache.document("u")
    assert before is not None and before.tree is not None
    shape = _sexp(before.tree)
    cache.change("u", [TextEdit(0, 0, "def f():\n    pass\n")])
    assert _sexp(before.tree) == shape
    assert before.tree.root_node.end_byte == len("x = 1\n")


def test_full_text_replacement_and_close():
    lang = language_for("go")
    cache = SyntaxCache()
    cache.open("u", "package a\n", lang)
    cache.change("u", text=GO)
    assert cache.text("u") == GO
    assert _sexp(cache.tree("u")) == _sexp(parse(GO, lang))
    cache.close("u")
    assert cache.tree("u") is None and cache.text("u") is None


def test_plain_text_document_has_no_tree():
    cache = SyntaxCache()
    cache.open("u", "just words", None)
    cache.change("u", [TextEdit(0, 4, "only")])
    doc = cache.document("u")
    assert doc is not None and doc.tree is None and doc.text == "only words"
