"""Running a plan on the engine: the decode options, the closing-fence stop rule and the
`Run` with its timings (call on the model worker thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from airgap_lsp.completion.actions.data import ActionCancelled, Plan, Run
from airgap_lsp.completion.actions.extract import fence_stop
from airgap_lsp.completion.actions.prompts import action_prompt
from airgap_lsp.completion.engine import DecodeOptions, Engine


def run_plan(
    engine: Engine,
    plan: Plan,
    cancelled: Callable[[], bool],
    *,
    key: str = "action",
    drafting: str = "auto",
    on_text: Callable[[str], None] | None = None,
    max_prompt_ms: float | None = None,
    max_predict_ms: float | None = None,
) -> Run:
    """Generate the reply to a plan on the engine (call on the model worker thread)."""
    t0 = time.monotonic()
    model = engine.target
    tokens = action_prompt(model, plan)
    sources = (tuple(model.tokenize(plan.copy_source)),) if plan.copy_source else ()

    def stop(text: str) -> int | None:
        if on_text is not None:
            on_text(text)
        return fence_stop(text) if plan.fenced else None

    options = DecodeOptions(
        max_tokens=plan.max_tokens,
        max_prompt_ms=max_prompt_ms,
        max_predict_ms=max_predict_ms,
        drafting=drafting,
        ngram_sources=sources,
        expected_tokens=plan.expected_tokens,
    )
    result = engine.generate(key, tokens, options, stop, cancelled)
    if result.stop_reason == "cancelled" or cancelled():
        raise ActionCancelled("cancelled")
    closing = ""
    if plan.fenced and result.stop_reason in ("stop", "eog"):
        # The closing fence was seen (stop), or the model ended its reply without writing one
        # (eog): either way the code block is complete. Only a reply cut by max_tokens or a
        # budget is left open, and refused as cut off.
        closing = "```" if result.text.endswith("\n") or not result.text else "\n```"
    st = result.stats
    return Run(
        reply=plan.prefill + result.text + closing,
        stop_reason=result.stop_reason,
        prompt_tokens=st.prompt_tokens,
        generated=st.generated,
        prompt_ms=st.prompt_ms,
        predict_ms=st.predict_ms,
        total_ms=(time.monotonic() - t0) * 1000,
        drafted=st.drafted_model + st.drafted_ngram,
        accepted=st.accepted_model + st.accepted_ngram,
    )
