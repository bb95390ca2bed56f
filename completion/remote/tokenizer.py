"""The served model's tokens, counted here: the prompt is built and measured with a local
vocabulary-only GGUF of the served model (`models.tokenizer`), so token budgets stay exact and
the prompt can go to the engine as token ids.

Owns loading that vocabulary, rendering tokens back to text with control tokens spelled (for
engines that take text), and the start-up probe that round-trips a text with code, Unicode and
FIM control tokens through the engine's own tokenizer to detect a mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airgap_lsp.completion.models import DEFAULT_TARGET, ModelError, resolve
from airgap_lsp.completion.runtime import Model, RuntimeError_

# Code, indentation, Unicode and numbers: where two tokenizers of different models part ways.
PROBE_CODE = (
    "def area(r: float) -> float:\n"
    '    """Area of a círcle ⌀ — 円の面積."""\n'
    "\treturn 3.14159 * r ** 2  # ✓ 0x1F\n"
)


class TokenizerError(Exception):
    """The configured tokenizer cannot be loaded; the message is for the user."""


def load_tokenizer(name: str, search_paths: Sequence[str] = ()) -> Model:
    """The vocabulary of `name` (a registry name, a GGUF path or a discovered model's name;
    "" means the default target), without its weights (about a second to load; loaded again
    at each reload rather than kept in a process-wide cache)."""
    try:
        path = resolve(name or DEFAULT_TARGET, search_paths)
        return Model(path, vocab_only=True)
    except (ModelError, RuntimeError_, OSError) as exc:
        raise TokenizerError(f"models.tokenizer: {exc}") from exc


def render(vocab: Model, tokens: Sequence[int]) -> str:
    """Tokens as text an engine tokenizes back to them: control tokens (`<|fim_prefix|>`...)
    spelled out, everything else as its bytes."""
    out = bytearray()
    for t in tokens:
        out += vocab.token_text(t).encode() if vocab.is_control(t) else vocab.piece(t)
    return out.decode("utf-8", "replace")


def probe_text(vocab: Model) -> str:
    """The probe: code between the model's FIM control tokens when it has them."""
    c = vocab.control
    if c.has_fim:
        assert c.fim_prefix is not None and c.fim_suffix is not None and c.fim_middle is not None
        pre, suf, mid = (vocab.token_text(t) for t in (c.fim_prefix, c.fim_suffix, c.fim_middle))
        return f"{pre}{PROBE_CODE}{suf}\n{mid}    "
    return PROBE_CODE


@dataclass(frozen=True, slots=True)
class Match:
    same: bool
    local: int  # tokens here
    remote: int  # tokens there
    first_difference: int | None  # index of the first token that differs

    def describe(self, tokenizer: str) -> str:
        if self.same:
            return f"the engine's tokenizer matches {tokenizer} ({self.local} probe tokens)"
        return (
            f"the engine's tokenizer differs from models.tokenizer ({tokenizer}): the probe is "
            f"{self.local} tokens here and {self.remote} there, first different at token "
            f"{self.first_difference}; prompts are sent as text and token budgets are "
            "approximate. Set models.tokenizer to the served model's GGUF (or a GGUF of the "
            "same family)"
        )


def compare(local: Sequence[int], remote: Sequence[int]) -> Match:
    first = next(
        (i for i, (a, b) in enumerate(zip(local, remote, strict=False)) if a != b),
        None if len(local) == len(remote) else min(len(local), len(remote)),
    )
    return Match(first is None, len(local), len(remote), first)
