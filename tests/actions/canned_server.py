"""The real server over stdio with a canned model for code actions (`python -m
tests.actions.canned_server`).

Everything is the shipped server except the model run: `lsp.actions.run_plan` is replaced by a
function that answers each plan with a fixed, valid reply (a docstring, the fixed function,
a test), so edit ranges, versions and file locations can be checked in seconds. The fake
completion backend (AIRGAP_LSP_FAKE_BACKEND=1) serves completions.

Environment: AIRGAP_CANNED_DELAY_MS holds each run that long (to change a document while the
model "runs"); AIRGAP_CANNED_CLIENT_TIMEOUT_S shortens how long the server waits for the
client's answers (window/showDocument, workspace/applyEdit...).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

import airgap_lsp.completion.backend as backend
import airgap_lsp.lsp.actions as actions
from airgap_lsp.completion.actions import DOCSTRING, EXPLAIN, FIX, REWRITE, TESTS, Plan, Run


class _Engine:
    """Stands for the model engine: code actions only check that there is one."""


def canned_reply(plan: Plan) -> str:
    code = plan.text[plan.start : plan.end]
    if plan.kind == DOCSTRING:
        body = '"""Canned docstring."""' if plan.extra.get("style") == "docstring" else "// Doc."
    elif plan.kind == FIX:
        body = code.replace("totl", "t")
    elif plan.kind == REWRITE:
        body = code.replace("x", "y")
    elif plan.kind == TESTS:
        body = f"def test_{plan.name}():\n    assert {plan.name} is not None"
    elif plan.kind == EXPLAIN:
        return "It does what it says."
    else:
        raise ValueError(plan.kind)
    opening = plan.prefill or "```\n"
    return f"{opening}{body}\n```"


def canned_run_plan(_engine: Any, plan: Plan, cancelled: Callable[[], bool], **_kw: Any) -> Run:
    end = time.monotonic() + float(os.environ.get("AIRGAP_CANNED_DELAY_MS", "0")) / 1000
    while time.monotonic() < end and not cancelled():
        time.sleep(0.01)
    return Run(
        reply=canned_reply(plan),
        stop_reason="stop",
        prompt_tokens=10,
        generated=10,
        prompt_ms=1.0,
        predict_ms=1.0,
        total_ms=2.0,
        drafted=0,
        accepted=0,
    )


def main() -> int:
    backend.FakeBackend.engine = _Engine()  # type: ignore[attr-defined]
    actions.run_plan = canned_run_plan  # type: ignore[assignment]
    timeout = os.environ.get("AIRGAP_CANNED_CLIENT_TIMEOUT_S")
    if timeout and hasattr(actions, "CLIENT_TIMEOUTS"):
        actions.CLIENT_TIMEOUTS = dict.fromkeys(actions.CLIENT_TIMEOUTS, float(timeout))
    from airgap_lsp.lsp.cli import main as cli_main

    return cli_main(["serve"])


if __name__ == "__main__":
    sys.exit(main())
