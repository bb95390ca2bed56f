"""Typing in the middle of a long file re-evaluates little of the prompt: the code context
chosen for the document stays while the user types, and the typed text goes into the FIM middle
after the cached prefix and suffix (real tokenizer, tree-sitter context)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from airgap_lsp.completion.backend import load_backend
from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.completer import CompletionRequest
from airgap_lsp.completion.prompt import Budget
from airgap_lsp.completion.sequences import common_prefix
from airgap_lsp.completion.settings import ModelSettings, Settings
from benchmarks.typing_long_file import ANCHOR, TYPED

pytestmark = pytest.mark.model

SOURCE = Path(__file__).resolve().parents[2] / "completion" / "engine.py"


def test_keystrokes_in_a_long_file_evaluate_only_the_typed_text(draft_path):
    provider = ContextProvider()
    settings = Settings(models=ModelSettings(str(draft_path), ""))
    backend = load_backend(settings, None, provider).backend
    s = backend.settings
    budget = Budget(s.prefix_tokens, s.suffix_tokens, s.extra_context_tokens)
    src = SOURCE.read_text()
    cut = src.index(ANCHOR)
    evaluated: list[int] = []
    previous: list[int] | None = None
    for i in range(len(TYPED) + 1):
        text = src[:cut] + TYPED[:i] + src[cut:]
        if i == 0:
            provider.open("engine.py", "/w/engine.py", "python", text)
        else:
            provider.change("engine.py", (), text=text)
        request = CompletionRequest("engine.py", text, cut + i, "engine.py", language="python")
        planner = backend.planner()
        plan = planner.lay_out(request, cut + i, budget)
        planner.commit(request.key, plan)
        prompt = plan.prompt
        middle = prompt.tokens[prompt.tokens.index(backend.model.control.fim_middle) + 1 :]
        assert backend.model.detokenize(middle) + prompt.heal == TYPED[:i]
        if previous is not None:
            evaluated.append(len(prompt.tokens) - common_prefix(previous, prompt.tokens))
        previous = prompt.tokens
    assert len(previous or []) > 1000  # a long prompt: the file does not fit
    # Each keystroke: the new characters (a token or two as tokenization merges); the prompt
    # before them stays cached. Choosing the context anew re-evaluated 240 tokens per
    # keystroke, and 1,100+ on 15 % of them; with the typed text before the suffix, every
    # keystroke re-evaluated the suffix too.
    assert statistics.median(evaluated) <= 2
    assert max(evaluated) <= 4
