"""Placeholder answers are not shown: the real target model, asked for the body of HumanEval/1
and /6 in a file of its own, first answers `# Your code here` + `pass` (greedy); the completer
asks once more with that answer's first token forbidden there and shows real code."""

from __future__ import annotations

import ast

import pytest

from airgap_lsp.completion.completer import CompletionRequest
from airgap_lsp.completion.postprocess import is_placeholder

pytestmark = pytest.mark.model


@pytest.mark.parametrize("task_id", ["HumanEval/1", "HumanEval/6"])
def test_an_empty_body_gets_code_not_a_placeholder(plain_backend, humaneval_plus, task_id):
    task = next(t for t in humaneval_plus if t["task_id"] == task_id)
    text = task["prompt"] + "    "
    name = task_id.replace("/", "_") + ".py"
    request = CompletionRequest(key=name, text=text, offset=len(text), path=name)
    suggestion = plain_backend.complete(request, lambda: False)
    assert suggestion is not None
    assert not is_placeholder(suggestion.text), suggestion.text
    fn = next(
        n
        for n in ast.parse(text + suggestion.text + "\n").body
        if isinstance(n, ast.FunctionDef) and n.name == task["entry_point"]
    )
    assert any(not isinstance(n, ast.Pass) for n in fn.body[1:]), suggestion.text
