"""One inline completion: from document text and a cursor offset to a suggestion.

Owns the request/suggestion dataclasses and the path between them: budgets the prompt, runs
the engine with a stop rule for the chosen shape (single line or block), and cleans up the
output. Knows nothing of LSP; offsets are Python string indices (code points).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from completion.code_context import ContextProvider
from completion.engine import DecodeOptions, DecodeResult, Engine
from completion.postprocess import finalize, is_placeholder, strip_code_fence
from completion.prompt import Budget, Prompt, PromptInput, fim_prompt
from completion.settings import CompletionSettings
from completion.steady_context import SteadyContexts
from context import Shape, decide_shape, language_for, shape_completion, stop_index
from context.windows import suffix_window

log = logging.getLogger(__name__)

Cancelled = Callable[[], bool]
STOPPED = frozenset({"cancelled", "budget", "prompt_budget"})  # no time left for a retry
# The prompt time budget never shrinks the windows below these: on a slow CPU a prompt cut to
# a hundred tokens loses the names the line needs (measured: 85 % of single lines against
# 95 % for llama-server, which evaluates its whole prompt). Quality does not depend on the
# CPU's speed; the first suggestion on a slow CPU takes longer instead.
MIN_PREFIX_TOKENS = 256
MIN_SUFFIX_TOKENS = 64


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
    shed: str = ""  # context left out of the prompt to fit the prompt time budget


class Backend(Protocol):
    """What the server needs from a completion backend."""

    description: str

    def complete(self, request: CompletionRequest, cancelled: Cancelled) -> Suggestion | None: ...

    def forget(self, key: str) -> None:
        """The document closed: drop what was kept for it."""


def line_around(text: str, offset: int) -> tuple[str, str]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start:offset], text[offset : end if end >= 0 else len(text)]


class Completer:
    """The real backend: code context, prompt building, the engine, post-processing."""

    def __init__(
        self,
        engine: Engine,
        settings: CompletionSettings,
        context: ContextProvider | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.context = context
        self.model = engine.target
        self._small: Engine | None = None
        self._steady = SteadyContexts()
        self.description = f"{self.model.name} ({self.model.path.name})" + (
            f" + draft {engine.draft.path.name}" if engine.draft else ""
        )

    def _engine_for(self, shape: Shape) -> Engine:
        """The target's engine, or for single lines (when so configured) the draft model alone:
        the small model evaluates prompts and writes faster, and one line is where it matches
        the big one most often."""
        draft = self.engine.draft
        if shape.multiline or self.settings.single_line_model != "draft" or draft is None:
            return self.engine
        if self._small is None:
            base = self.engine.tctx
            self._small = Engine(draft, None, n_ctx=base.n_ctx // base.n_seq, n_seq=base.n_seq)
        return self._small

    def forget(self, key: str) -> None:
        self._steady.forget(key)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenize(text))

    def _build_prompt(
        self, request: CompletionRequest, offset: int, budget: Budget, steady: bool = True
    ) -> Prompt:
        """The prompt from the code context when there is one, else from the raw text; with
        `steady`, the context chosen for the document before while it still applies."""
        if self.context is None or not self.settings.use_context:
            raw = PromptInput(
                prefix=request.text[:offset],
                suffix=request.text[offset:],
                path=request.path,
                extra_files=request.extra_files,
                language=request.language,
            )
            return fim_prompt(self.model, raw, budget)
        total = budget.prefix + budget.suffix + budget.extra
        kept = (
            self._steady.reuse(
                request.key, request.text, offset, self.count_tokens, request.extra_files
            )
            if steady and self.settings.steady_context
            else None
        )
        if kept is not None:
            # The user is typing here: the context chosen before is kept so the cached prompt
            # holds; what was typed since the anchor is the middle.
            prefix, middle, files = kept.prefix, kept.middle, kept.files
            if kept.suffix is not None:
                suffix = kept.suffix
            else:
                end = suffix_window(request.text, offset, budget.suffix, self.count_tokens)
                suffix = request.text[offset:end]
        else:
            ctx = self.context.collect(
                request.key,
                request.text,
                offset,
                request.path,
                request.language,
                self.count_tokens,
                total,
                file_overhead_tokens=1,
                extra_fraction=budget.extra / total,
                suffix_fraction=budget.suffix / (budget.prefix + budget.suffix),
            )
            files = (*request.extra_files, *((f.path, f.text) for f in ctx.files))
            self._steady.remember(
                request.key,
                request.text,
                offset,
                ctx.prefix,
                ctx.window_start,
                files,
                ctx.report.prefix_tokens,
                request.extra_files,
            )
            prefix, middle, suffix = ctx.prefix, "", ctx.suffix
        # The context already fits the budget; the prompt builder only adds control tokens.
        prompt = fim_prompt(
            self.model,
            PromptInput(prefix, suffix, request.path, files, request.language, middle),
            Budget(total, total, total),
        )
        if prompt.kind == "fim" and (kept is None or kept.suffix is None):
            # A new layout: its anchor. (A kept anchor still holds as it was recorded.)
            anchor = offset - len(middle)
            self._steady.anchor(request.key, request.text, anchor, offset, prompt.suffix_text)
        return prompt

    def _fit_prompt(self, request: CompletionRequest, offset: int) -> tuple[Prompt, str]:
        """The richest prompt whose evaluation fits the prompt time budget, judged from the
        prompt speed measured at load and what the cache already holds: extra context goes
        first, then the windows shrink. (While the user types, most of the prompt is cached,
        so the full context fits again.) Also says what was shed, for the status."""
        s = self.settings
        budget = Budget(s.prefix_tokens, s.suffix_tokens, s.extra_context_tokens)
        floor = Budget(
            min(s.prefix_tokens, MIN_PREFIX_TOKENS), min(s.suffix_tokens, MIN_SUFFIX_TOKENS), 0
        )
        prompt = self._build_prompt(request, offset, budget)
        per_token = self.engine.prompt_ms_per_token
        if not s.max_prompt_ms or not per_token:
            return prompt, ""
        while self.engine.tokens_to_evaluate(request.key, prompt.tokens) * per_token > (
            0.8 * s.max_prompt_ms
        ):
            if budget.extra > 0:
                budget = Budget(budget.prefix, budget.suffix, 0)
            elif budget.prefix > floor.prefix or budget.suffix > floor.suffix:
                budget = Budget(
                    max(floor.prefix, budget.prefix // 2), max(floor.suffix, budget.suffix // 2), 0
                )
            else:
                break
            # A smaller context is chosen anew (and kept for the keystrokes that follow).
            prompt = self._build_prompt(request, offset, budget, steady=False)
        shed = []
        if budget.extra < s.extra_context_tokens:
            shed.append("other files")
        if budget.prefix < s.prefix_tokens:
            shed.append(f"code before the cursor beyond {budget.prefix} tokens")
        if budget.suffix < s.suffix_tokens:
            shed.append(f"code after the cursor beyond {budget.suffix} tokens")
        return prompt, ", ".join(shed)

    def _prompt_deadline_ms(self, key: str, prompt: Prompt) -> float | None:
        """The prompt time budget, or more when the prompt at its floor needs more: the
        deadline guards against a machine much slower than measured at load, not against
        the floor the planner chose to keep."""
        s = self.settings
        per_token = self.engine.prompt_ms_per_token
        if not s.max_prompt_ms:
            return None
        if not per_token:
            return s.max_prompt_ms
        needed = self.engine.tokens_to_evaluate(key, prompt.tokens) * per_token
        return max(s.max_prompt_ms, 2 * needed)

    def _shape(self, request: CompletionRequest, offset: int) -> Shape:
        s = self.settings
        lang = language_for(request.language or None, request.path) if s.shaping else None
        tree = None
        if lang is not None and self.context is not None:
            tree = self.context.tree_for(request.key, request.text)
        return decide_shape(
            request.text, offset, lang, tree, max_lines=s.max_lines, block=request.multiline
        )

    def complete(self, request: CompletionRequest, cancelled: Cancelled) -> Suggestion | None:
        t0 = time.monotonic()
        offset = max(0, min(request.offset, len(request.text)))
        shape = self._shape(request, offset)
        if shape.new_line:
            return self._complete_on_new_line(request, offset, cancelled, t0)
        suggestion = self._complete_at(request, offset, shape, cancelled, t0)
        if (
            suggestion is None
            and shape.code_below
            and not shape.at_line_start
            and not shape.line_rest.strip()
            and not cancelled()
        ):
            # The end of a complete line with code below (`result = []`): the model, asked
            # there, says the hole is empty. Ask again as if the cursor stood on a new line.
            return self._complete_on_new_line(request, offset, cancelled, t0)
        return suggestion

    def _complete_on_new_line(
        self, request: CompletionRequest, offset: int, cancelled: Cancelled, t0: float
    ) -> Suggestion | None:
        """The suggestion for the start of the next line, shown as new lines after the
        cursor: what a user who pressed Enter there would be offered."""
        newline = "\r\n" if request.text.startswith("\r\n", offset) else "\n"
        start = offset + len(newline)
        shape = self._shape(request, start)
        suggestion = self._complete_at(request, start, shape, cancelled, t0)
        if suggestion is None:
            return None
        lines = suggestion.text.rstrip("\r\n")
        if not lines.strip():
            return None
        return dataclasses.replace(suggestion, text=newline + lines, multiline=True)

    def _complete_at(
        self,
        request: CompletionRequest,
        offset: int,
        shape: Shape,
        cancelled: Cancelled,
        t0: float,
    ) -> Suggestion | None:
        s = self.settings
        line_prefix = shape.line_prefix
        prompt, shed = self._fit_prompt(request, offset)
        prep_ms = (time.monotonic() - t0) * 1000
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
            max_prompt_ms=self._prompt_deadline_ms(request.key, prompt),
            max_predict_ms=s.max_predict_ms or None,
            drafting=request.drafting or s.drafting,
            verify_one_by_one=request.verify_one_by_one,
            ngram_sources=lookup,
            expected_tokens=48 if shape.multiline else 12,
            heal=prompt.heal,
        )
        engine = self._engine_for(shape)

        def attempt(options: DecodeOptions) -> tuple[DecodeResult, str | None]:
            result = engine.generate(request.key, prompt.tokens, options, stop, cancelled)
            raw = strip_code_fence(result.text) if chat else result.text
            if result.stop_reason in ("budget", "max_tokens") and "\n" in raw:
                # Out of time or tokens inside a block: keep the complete lines only (the
                # prefetch computes the rest while the user reads them).
                raw = raw[: raw.rindex("\n") + 1]
            text = finalize(raw, prompt.suffix_text, shape)
            if text is not None and s.shaping and request.language:
                tree = self.context.tree_for(request.key, request.text) if self.context else None
                shaped = shape_completion(
                    request.text, offset, text, request.language, mode=shape.mode, tree=tree
                )
                text = shaped if shaped.strip() else None
            return result, text

        result, text = attempt(options)
        if text is not None and is_placeholder(text) and result.stop_reason not in STOPPED:
            # Instruct-tuned models like to leave `# Your code here` + `pass` in an empty
            # body; nobody wants that as ghost text. Ask once more with the token that opened
            # the placeholder forbidden there (the prompt is cached: only decoding repeats).
            tokens = result.tokens
            at = next((i for i, t in enumerate(tokens) if engine.target.piece(t).strip()), None)
            if at is not None:
                ban = (at, frozenset({tokens[at]}))
                retry, retry_text = attempt(dataclasses.replace(options, ban=ban))
                if retry_text is not None and not is_placeholder(retry_text):
                    retry.stats.generated += result.stats.generated
                    retry.stats.predict_ms += result.stats.predict_ms
                    retry.stats.prompt_ms += result.stats.prompt_ms
                    result, text = retry, retry_text
        st = result.stats
        total = (time.monotonic() - t0) * 1000
        log.info(
            "completion: prep %.0f ms, %d prompt tokens (%d reused) %.0f ms, "
            "%d generated %.0f ms, stop=%s, total %.0f ms",
            prep_ms,
            st.prompt_tokens,
            st.reused_tokens,
            st.prompt_ms,
            st.generated,
            st.predict_ms,
            result.stop_reason,
            total,
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
            shed=shed,
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
