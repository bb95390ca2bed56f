"""Token healing with the real target while typing. After the first request the typed text goes
into the FIM middle; a middle ending in a space (`return `, `x = `) ends in a lone-space token,
which in the model's training data is always merged into the next word (` x`), so unhealed the
model writes ` x` and the line gets two spaces. Healed, the continuation starts with code."""

from __future__ import annotations

import ast

import pytest

from airgap_lsp.completion.backend import load_backend
from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.completer import CompletionRequest
from airgap_lsp.completion.settings import CompletionSettings, ModelSettings, Settings

pytestmark = pytest.mark.model

# HumanEval+ bodies whose first line has a space to stop after ("return ", "mean = ", ...).
TASKS = ["HumanEval/2", "HumanEval/3", "HumanEval/4", "HumanEval/7", "HumanEval/23"]


@pytest.fixture(scope="module")
def backend(target_path):
    settings = Settings(
        models=ModelSettings(target=str(target_path), draft=""),
        completion=CompletionSettings(drafting="none", max_prompt_ms=0, max_predict_ms=0),
    )
    return load_backend(settings, None, ContextProvider()).backend


@pytest.mark.parametrize("task_id", TASKS)
def test_typed_text_ending_in_a_space_is_continued_without_another(
    backend, humaneval_plus, task_id
):
    task = next(t for t in humaneval_plus if t["task_id"] == task_id)
    head = task["prompt"] + "    "
    first_line = task["canonical_solution"].lstrip("\n").split("\n")[0].strip()
    typed = first_line[: first_line.index(" ") + 1]
    name = task_id.replace("/", "_") + ".py"
    backend.context = ContextProvider()  # no other task's file as context
    backend.context.open(name, f"/w/{name}", "python", head)
    backend.complete(CompletionRequest(name, head, len(head), name, "python"), lambda: False)
    text = head + typed
    backend.context.change(name, (), text=text)
    request = CompletionRequest(name, text, len(text), name, "python")
    prompt = backend.planner().plan(request, len(text)).prompt
    assert prompt.middle_text == typed and prompt.heal == " "  # the typed text is the middle
    suggestion = backend.complete(request, lambda: False)
    assert suggestion is not None
    assert suggestion.text[:1].strip(), repr(typed + suggestion.text[:20])
    ast.parse(text + suggestion.text + "\n")
