"""The naive infilling baseline: a plain FIM prompt, greedy decoding, the output as it comes.

`<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>` with the model's own control
tokens (no file path, no repository context, no budgets, no shaping), greedy, ending at the
model's end-of-generation token or after 128 tokens. It decodes on the loaded target model
through the engine with drafting off and no stop rule (plain greedy steps).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from airgap_lsp.completion.engine import DecodeOptions, Engine
from airgap_lsp.completion.runtime import Model

MAX_TOKENS = 128


def fim_tokens(model: Model, prefix: str, suffix: str) -> list[int]:
    c = model.control
    if c.fim_prefix is None or c.fim_suffix is None or c.fim_middle is None:
        raise ValueError(f"{model.path.name} has no fill-in-the-middle tokens")
    head = [model.bos] if model.add_bos and model.bos is not None else []
    return [
        *head,
        c.fim_prefix,
        *model.tokenize(prefix),
        c.fim_suffix,
        *model.tokenize(suffix),
        c.fim_middle,
    ]


@dataclass(frozen=True)
class NaiveOutput:
    text: str
    stop_reason: str
    prompt_tokens: int
    generated_tokens: int
    prompt_ms: float
    predict_ms: float
    total_ms: float


class NaiveFim:
    def __init__(self, engine: Engine, max_tokens: int = MAX_TOKENS) -> None:
        self.engine = engine
        self.options = DecodeOptions(max_tokens=max_tokens, drafting="none")

    def complete(self, key: str, prefix: str, suffix: str) -> NaiveOutput:
        t0 = time.monotonic()
        tokens = fim_tokens(self.engine.target, prefix, suffix)
        result = self.engine.generate(key, tokens, self.options)
        st = result.stats
        return NaiveOutput(
            text=result.text,
            stop_reason=result.stop_reason,
            prompt_tokens=st.prompt_tokens,
            generated_tokens=st.generated,
            prompt_ms=st.prompt_ms,
            predict_ms=st.predict_ms,
            total_ms=(time.monotonic() - t0) * 1000,
        )
