"""Planning a prompt has no side effects; the plan that is used is recorded once.

Fitting the prompt time budget lays the prompt out several times (other files shed, then the
windows halved); the document's steady context must hold the layout of the prompt that is
used, written once, and nothing while plans are only being compared.
"""

from __future__ import annotations

from collections.abc import Sequence

from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.completer import CompletionRequest
from airgap_lsp.completion.planner import PromptPlanner
from airgap_lsp.completion.settings import CompletionSettings
from airgap_lsp.completion.steady_context import SteadyContexts
from tests.unit.test_prompt_budget import DOC


class Cost:
    def __init__(self, ms: float | None) -> None:
        self.prompt_ms_per_token = ms

    def tokens_to_evaluate(self, key: str, prompt: Sequence[int]) -> int:
        return len(prompt)


def planner(vocab, ms: float | None, **settings: object) -> tuple[PromptPlanner, CompletionRequest]:  # type: ignore[no-untyped-def]
    offset = DOC.index("|")
    text = DOC[:offset] + DOC[offset + 1 :]
    context = ContextProvider()
    context.open("m.py", "m.py", "python", text)
    plans = PromptPlanner(
        vocab,
        CompletionSettings(**settings),
        context,
        SteadyContexts(),
        Cost(ms),  # type: ignore[arg-type]
    )
    return plans, CompletionRequest("m.py", text, offset, "m.py", "python")


def test_fitting_writes_nothing_and_commit_records_the_chosen_layout(vocab):
    plans, request = planner(vocab, 100.0)  # slow: the windows shrink to their floor
    plan = plans.plan(request, request.offset)
    assert "before the cursor" in plan.shed
    assert plans.steady.reuse(request.key, request.text, request.offset, len) is None
    plans.commit(request.key, plan)
    kept = plans.steady.reuse(request.key, request.text, request.offset, plans.count_tokens)
    assert plan.layout is not None and plan.layout.chosen is not None
    assert kept is not None and kept.prefix == plan.layout.chosen.prefix
    assert kept.suffix == plan.prompt.suffix_text  # anchored at the cursor


def test_a_kept_layout_is_planned_again_without_choosing_anew(vocab):
    plans, request = planner(vocab, None)
    first = plans.plan(request, request.offset)
    plans.commit(request.key, first)
    again = plans.plan(request, request.offset)
    assert again.prompt.tokens == first.prompt.tokens
    assert again.layout is not None and again.layout.chosen is None  # kept, not chosen


def test_a_prompt_from_the_raw_text_has_no_layout(vocab):
    plans, request = planner(vocab, None, use_context=False)
    plan = plans.plan(request, request.offset)
    assert plan.layout is None and plan.prompt.kind == "fim"
