"""One inline completion: from document text and a cursor offset to a suggestion.

Owns the request/suggestion dataclasses and the path between them: budgets the prompt, runs
the engine with a stop rule for the chosen shape (single line or block), and cleans up the
output. Knows nothing of LSP; offsets are Python string indices (code points).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from completion.engine import DecodeOptions, Engine
from completion.postprocess import Shape, decide_shape, finalize, stop_index, strip_code_fence
from completion.prompt import Budget, PromptInput, fim_prompt
from completion.settings import CompletionSettings

log = logging.getLogger(__name__)

Cancelled = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    key: str  # the document's identity (its URI), for cache reuse
    text: str
    offset: int
    path: str = "untitled"
    language: str = ""
    extra_files: Sequence[tuple[str, str]] = ()
    lookup_texts: Sequence[str] = ()  # other text the output may copy from (n-gram drafting)
    max_tokens: int | None = None
    drafting: str | None = None
    verify_one_by_one: bool = False
    multiline: bool | None = None  # None: decided from the cursor position


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    multiline: bool
    stop_reason: str
    prompt_tokens: int = 0
    reused_tokens: int = 0
    generated_tokens: int = 0
    prompt_ms: float = 0.0
    predict_ms: float = 0.0
    total_ms: float = 0.0
    tokens_per_second: float = 0.0
    drafted: int = 0
    accepted: int = 0
    stats: dict[str, float] = field(default_factory=dict)
    source: str = "model"  # "model", "typed-ahead" or "prefetch"


class Backend(Protocol):
    """What the server needs from a completion backend."""

    description: str

    def complete(self, request: CompletionRequest, cancelled: Cancelled) -> Suggestion | None: ...


def line_around(text: str, offset: int) -> tuple[str, str]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start:offset], text[offset : end if end >= 0 else len(text)]


class Completer:
    """The real backend: prompt building, the engine, post-processing."""

    def __init__(self, engine: Engine, settings: CompletionSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.model = engine.target
        self.description = f"{self.model.name} ({self.model.path.name})" + (
            f" + draft {engine.draft.path.name}" if engine.draft else ""
        )

    def complete(self, request: CompletionRequest, cancelled: Cancelled) -> Suggestion | None:
        t0 = time.monotonic()
        s = self.settings
        offset = max(0, min(request.offset, len(request.text)))
        line_prefix, line_suffix = line_around(request.text, offset)
        shape = decide_shape(line_prefix, line_suffix, s.max_lines)
        if request.multiline is not None:
            shape = Shape(request.multiline, shape.indent, s.max_lines if request.multiline else 1)
        budget = Budget(s.prefix_tokens, s.suffix_tokens, s.extra_context_tokens)
        prompt = fim_prompt(
            self.model,
            PromptInput(
                prefix=request.text[:offset],
                suffix=request.text[offset:],
                path=request.path,
                extra_files=request.extra_files,
                language=request.language,
            ),
            budget,
        )
        chat = prompt.kind == "chat"

        def stop(text: str) -> int | None:
            if chat:  # a chat reply ends with the code block's closing fence
                closing = text.find("```", text.find("\n") + 1) if text.startswith("```") else -1
                return closing if closing > 0 else None
            return stop_index(text, shape, line_prefix)

        max_tokens = request.max_tokens or (s.max_tokens if shape.multiline else 48)
        lookup = tuple(
            tuple(self.model.tokenize(t[-8000:])) for t in request.lookup_texts if t.strip()
        )
        options = DecodeOptions(
            max_tokens=max_tokens,
            max_prompt_ms=s.max_prompt_ms or None,
            max_predict_ms=s.max_predict_ms or None,
            drafting=request.drafting or s.drafting,
            verify_one_by_one=request.verify_one_by_one,
            ngram_sources=lookup,
            expected_tokens=48 if shape.multiline else 12,
        )
        result = self.engine.generate(request.key, prompt.tokens, options, stop, cancelled)
        raw = strip_code_fence(result.text) if chat else result.text
        if result.stop_reason == "budget" and shape.multiline and "\n" in raw:
            raw = raw[: raw.rindex("\n")]  # out of time: keep the complete lines only
        text = finalize(raw, prompt.suffix_text, shape)
        st = result.stats
        total = (time.monotonic() - t0) * 1000
        log.info(
            "completion: %d prompt tokens (%d reused) %.0f ms, %d generated %.0f ms, stop=%s",
            st.prompt_tokens,
            st.reused_tokens,
            st.prompt_ms,
            st.generated,
            st.predict_ms,
            result.stop_reason,
        )
        if text is None or result.stop_reason == "cancelled":
            return None
        return Suggestion(
            text=text,
            multiline=shape.multiline,
            stop_reason=result.stop_reason,
            prompt_tokens=st.prompt_tokens,
            reused_tokens=st.reused_tokens,
            generated_tokens=st.generated,
            prompt_ms=st.prompt_ms,
            predict_ms=st.predict_ms,
            total_ms=total,
            tokens_per_second=st.tokens_per_second,
            drafted=st.drafted_model + st.drafted_ngram,
            accepted=st.accepted_model + st.accepted_ngram,
            stats={
                "steps": st.steps,
                "tokens_per_step": st.tokens_per_step,
                "draft_prompt_tokens": st.draft_prompt_tokens,
                "drafted_model": st.drafted_model,
                "accepted_model": st.accepted_model,
                "drafted_ngram": st.drafted_ngram,
                "accepted_ngram": st.accepted_ngram,
            },
        )
