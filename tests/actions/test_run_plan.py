"""A fenced reply that the model ends with its end token is complete, not cut off.

Seen on a real llama-server: the docstring action's reply sometimes ended with the model's
end token right after the code, without the closing fence (43 tokens, `eog`), and the action
said "the model's reply was cut off inside its code block"; on other runs the same reply had
the fence (44 tokens, `stop`)."""

from __future__ import annotations

from typing import Any

import pytest

from airgap_lsp.completion.actions.data import ActionError, Plan
from airgap_lsp.completion.actions.extract import extract_code_block
from airgap_lsp.completion.actions.run import run_plan
from airgap_lsp.completion.engine import DecodeResult, DecodeStats

CODE = 'def f():\n    """Return one."""\n    return 1\n'


class _Engine:
    def __init__(self, vocab: Any, text: str, reason: str) -> None:
        self.target = vocab
        self.text, self.reason = text, reason

    def generate(self, key, tokens, options, stop, cancelled):  # type: ignore[no-untyped-def]
        return DecodeResult([], self.text, self.reason, DecodeStats())


def _plan() -> Plan:
    return Plan(
        kind="docstring",
        text=CODE,
        path="m.py",
        language=None,
        messages=(("user", "Add a docstring."),),
        prefill="```python\n",
        copy_source="",
        max_tokens=64,
        expected_tokens=32,
        start=0,
        end=0,
        indent="",
    )


@pytest.mark.parametrize("text", [CODE, CODE.rstrip("\n")])
def test_a_reply_ended_by_the_model_is_a_complete_code_block(vocab: Any, text: str) -> None:
    run = run_plan(_Engine(vocab, text, "eog"), _plan(), lambda: False)  # type: ignore[arg-type]
    assert extract_code_block(run.reply).rstrip("\n") == CODE.rstrip("\n")


def test_a_reply_cut_by_max_tokens_is_still_refused(vocab: Any) -> None:
    run = run_plan(_Engine(vocab, CODE, "max_tokens"), _plan(), lambda: False)  # type: ignore[arg-type]
    with pytest.raises(ActionError, match="cut off"):
        extract_code_block(run.reply)
