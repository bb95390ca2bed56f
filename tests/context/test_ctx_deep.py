"""A syntax tree thousands of levels deep (issue 13, item 12): counting its errors, shaping a
suggestion in it and judging a code action's reply in it never exhausts Python's stack."""

from __future__ import annotations

import sys

from airgap_lsp.completion.actions.targets import _errors
from airgap_lsp.context.languages import language_for
from airgap_lsp.context.nodes import error_count
from airgap_lsp.context.shaping import shape_completion
from airgap_lsp.context.syntax import parse

DEPTH = 3000


def _deep_python() -> str:
    # An unfinished `1 +` at the bottom: the error is DEPTH levels down.
    return "x = " + "(" * DEPTH + "1 +" + ")" * DEPTH + "\ny = "


def test_errors_are_counted_at_any_depth():
    assert sys.getrecursionlimit() < DEPTH
    language = language_for("python", "deep.py")
    assert language is not None
    text = _deep_python()
    tree = parse(text, language)
    assert tree is not None and tree.root_node.has_error
    assert error_count(tree.root_node) >= 1
    assert _errors(text, language) >= 1


def test_a_suggestion_is_shaped_in_a_deep_document():
    text = _deep_python()
    assert shape_completion(text, len(text), "2\n", "python") == "2"
