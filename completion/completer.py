"""One inline completion: from document text and a cursor offset to a suggestion.

Owns the request/suggestion dataclasses and the path between them: the shape of the answer
(single line, block, or new lines after the cursor), the prompt plan (`planner`), committed
once, the engine that runs it (`decoding`), and the suggestion built from the outcome. Knows
nothing of LSP; offsets are Python string indices (code points).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.decoding import Decoded, FitSyntax, clean_output, decode
from airgap_lsp.completion.engine import DecodeOptions, Engine, IsCancelled
from airgap_lsp.completion.planner import MIN_PREFIX_TOKENS, PromptPlan, PromptPlanner
from airgap_lsp.completion.prompt import Budget, Prompt, head_tokens
from airgap_lsp.completion.selection import CacheMemory
from airgap_lsp.completion.settings import CompletionSettings
from airgap_lsp.completion.steady_context import SteadyContexts
from airgap_lsp.context import Shape, as_if_enter, decide_shape, language_for, shape_completion

if TYPE_CHECKING:
    from airgap_lsp.completion.health import Health
    from airgap_lsp.completion.model_plan import Origin

log = logging.getLogger(__name__)

# Pre-warming evaluates in pieces: an idle run pre-empted by a request keeps the pieces it
# finished (an aborted decode keeps nothing of its batch).
WARM_PIECE = 128


def predict_budget_ms(
    setting_ms: float, max_tokens: int, calibration: Mapping[str, object]
) -> float | None:
    """The generation time budget (None: none): the setting, or the time `max_tokens` decode
    steps take at the step time measured at load where that is longer. A slow CPU must not
    get shorter answers than a fast one (the latency suite's bodies on an AVX2-only CPU, ~100
    ms a step: two of ten were cut at 8 s, one before its last line), so there the suggestion
    takes longer instead; the budget still guards against a machine much slower than measured
    (another process on the cores) and remote engines, which measure no step time."""
    if not setting_ms:
        return None
    verify = calibration.get("verify_ms")
    step = verify.get(1) if isinstance(verify, Mapping) else None
    if not isinstance(step, (int, float)) or step <= 0:
        return setting_ms
    return max(setting_ms, 1.25 * max_tokens * step)


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
    """What the server and the code actions use of a completion backend."""

    description: str
    settings: CompletionSettings  # replaced when the client changes the options

    @property
    def engine(self) -> Engine | None:
        """The engine code actions run on (None: no model, as with the fake backend)."""

    @property
    def health(self) -> Health | None:
        """A remote engine's health, told as it changes (None: the model runs in process)."""

    @property
    def local_fallback(self) -> bool:
        """Whether the local model completes while the remote engine is down."""

    @property
    def origin(self) -> Origin | None:
        """Where the models came from and why they were chosen (None: not from a plan)."""

    def complete(self, request: CompletionRequest, cancelled: IsCancelled) -> Suggestion | None: ...

    def warm(self, request: CompletionRequest, cancelled: IsCancelled) -> int:
        """Evaluate the part of the document's prompt that every place in it shares; returns
        the prompt tokens evaluated (0: nothing to do, or no model)."""

    def forget(self, key: str) -> None:
        """The document closed: drop what was kept for it."""

    def memory_report(self) -> dict[str, int]:
        """The KV memory this machine sets aside for cached documents and what they hold now
        (empty: no model in this machine's memory)."""

    def close(self) -> None:
        """Replaced by other models: stop the engine's process or connections."""


def line_around(text: str, offset: int) -> tuple[str, str]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start:offset], text[offset : end if end >= 0 else len(text)]


class Completer:
    """The real backend: the code context, prompt planning, the engine, post-processing."""

    def __init__(
        self,
        engine: Engine,
        settings: CompletionSettings,
        context: ContextProvider | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.context = context
        self.health: Health | None = None  # set for a remote engine
        self.local_fallback = False
        self.origin: Origin | None = None  # set by the loader
        self.memory: CacheMemory | None = None  # set by the loader of a local engine
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
            self._small = self.engine.draft_alone()
        return self._small

    def close(self) -> None:
        self.engine.close()

    def forget(self, key: str) -> None:
        self._steady.forget(key)
        self.engine.forget(key)
        if self._small is not None:
            self._small.forget(key)

    def memory_report(self) -> dict[str, int]:
        if self.memory is None:
            return {}
        return self.memory.report(*self.engine.cached_lengths())

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenize(text))

    def planner(self) -> PromptPlanner:
        """A prompt planner for the current settings and code context. The prompt time budget
        is judged on the target's engine (whichever engine then writes the suggestion)."""
        return PromptPlanner(self.model, self.settings, self.context, self._steady, self.engine)

    def _shape(self, request: CompletionRequest, offset: int) -> Shape:
        s = self.settings
        lang = language_for(request.language or None, request.path) if s.shaping else None
        tree = None
        if lang is not None and self.context is not None:
            tree = self.context.tree_for(request.key, request.text)
        return decide_shape(
            request.text, offset, lang, tree, max_lines=s.max_lines, block=request.multiline
        )

    def complete(self, request: CompletionRequest, cancelled: IsCancelled) -> Suggestion | None:
        t0 = time.monotonic()
        offset = max(0, min(request.offset, len(request.text)))
        shape = self._shape(request, offset)
        if shape.new_line:
            outcome = self._complete_on_new_line(request, offset, cancelled, t0)
        else:
            outcome = self._complete_at(request, offset, shape, cancelled, t0)
            if (
                outcome is None
                and shape.code_below
                and not shape.at_line_start
                and not shape.line_rest.strip()
                and not cancelled()
            ):
                # The end of a complete line with code below (`result = []`): the model, asked
                # there, says the hole is empty. Ask again as if the cursor stood on a new line.
                outcome = self._complete_on_new_line(request, offset, cancelled, t0)
        return None if outcome is None else outcome.suggestion()

    def warm(self, request: CompletionRequest, cancelled: IsCancelled) -> int:
        """Evaluate, into the document's sequence, what its prompts share wherever the cursor
        will be: the other files' context and the path (the prompt's stable part), then the
        file's start as far as the smallest prefix window reaches (a request in the first
        screenful finds its prefix cached too). Nothing is generated; returns the tokens
        evaluated."""
        s = self.settings
        planner = self.planner()
        budget = Budget(s.prefix_tokens, s.suffix_tokens, s.extra_context_tokens)
        prompt = planner.lay_out(request, request.offset, budget, keep=False).prompt
        fim_prefix = self.model.control.fim_prefix
        if prompt.kind != "fim" or fim_prefix is None:
            return 0  # a chat prompt starts with the instructions and the file, not shared
        start, _ = head_tokens(self.model, request.text, min(s.prefix_tokens, MIN_PREFIX_TOKENS))
        tokens = [*prompt.tokens[: prompt.stable_tokens], fim_prefix, *start]
        options = DecodeOptions(max_tokens=1, drafting="none")
        evaluated = 0
        for end in range(WARM_PIECE, len(tokens) + WARM_PIECE, WARM_PIECE):
            if cancelled():
                break
            piece = tokens[: min(end, len(tokens))]
            result = self.engine.generate(request.key, piece, options, cancelled=cancelled)
            if result.stop_reason == "cancelled":
                break
            evaluated += result.stats.prompt_tokens - result.stats.reused_tokens
        return evaluated

    def _complete_on_new_line(
        self, request: CompletionRequest, offset: int, cancelled: IsCancelled, t0: float
    ) -> _Outcome | None:
        """The answer for a new line after the cursor's: what a user who pressed Enter there
        would be offered, shown as that line break, its indentation and the lines."""
        shape = self._shape(request, offset)
        text, start, inserted = as_if_enter(request.text, offset, shape)
        entered = dataclasses.replace(request, text=text, offset=start)
        on_new_line = dataclasses.replace(self._shape(entered, start), guessed_indent=True)
        outcome = self._complete_at(entered, start, on_new_line, cancelled, t0)
        if outcome is None:
            return None
        lines = outcome.text.rstrip("\r\n")
        if not lines.strip():
            return None
        return dataclasses.replace(outcome, text=inserted + lines, multiline=True)

    def _complete_at(
        self,
        request: CompletionRequest,
        offset: int,
        shape: Shape,
        cancelled: IsCancelled,
        t0: float,
    ) -> _Outcome | None:
        """The answer at `offset` in the given shape: the prompt planned and committed, then
        decoded; None when there is nothing to show."""
        planner = self.planner()
        plan = planner.plan(request, offset)
        planner.commit(request.key, plan)
        prep_ms = (time.monotonic() - t0) * 1000
        engine = self._engine_for(shape)
        options = self._options(request, shape, plan.prompt, planner, engine)
        clean = functools.partial(
            clean_output,
            prompt=plan.prompt,
            shape=shape,
            fit_syntax=self._fit_syntax(request, offset, shape),
        )
        decoded = decode(engine, request.key, plan.prompt, options, shape, clean, cancelled)
        st = decoded.result.stats
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
            decoded.result.stop_reason,
            total,
        )
        if decoded.text is None or decoded.result.stop_reason == "cancelled":
            return None
        return _Outcome(decoded.text, shape.multiline, decoded, plan, total)

    def _options(
        self,
        request: CompletionRequest,
        shape: Shape,
        prompt: Prompt,
        planner: PromptPlanner,
        engine: Engine,
    ) -> DecodeOptions:
        s = self.settings
        lookup = tuple(
            tuple(self.model.tokenize(t[-8000:])) for t in request.lookup_texts if t.strip()
        )
        max_tokens = request.max_tokens or (s.max_tokens if shape.multiline else 48)
        return DecodeOptions(
            max_tokens=max_tokens,
            max_prompt_ms=planner.deadline_ms(request.key, prompt),
            max_predict_ms=predict_budget_ms(s.max_predict_ms, max_tokens, engine.calibration),
            drafting=request.drafting or s.drafting,
            verify_one_by_one=request.verify_one_by_one,
            ngram_sources=lookup,
            expected_tokens=48 if shape.multiline else 12,
            heal=prompt.heal,
        )

    def _fit_syntax(
        self, request: CompletionRequest, offset: int, shape: Shape
    ) -> FitSyntax | None:
        """Syntax-aware trimming of the output, when shaping is on and the language known."""
        if not self.settings.shaping or not request.language:
            return None
        language = request.language

        def fit(text: str) -> str:
            tree = self.context.tree_for(request.key, request.text) if self.context else None
            return shape_completion(
                request.text, offset, text, language, mode=shape.mode, tree=tree
            )

        return fit


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one ask produced, before it becomes a suggestion."""

    text: str
    multiline: bool
    decoded: Decoded
    plan: PromptPlan
    total_ms: float

    def suggestion(self) -> Suggestion:
        result = self.decoded.result
        st = result.stats
        return Suggestion(
            text=self.text,
            multiline=self.multiline,
            stop_reason=result.stop_reason,
            prompt_tokens=st.prompt_tokens,
            reused_tokens=st.reused_tokens,
            generated_tokens=st.generated,
            prompt_ms=st.prompt_ms,
            predict_ms=st.predict_ms,
            total_ms=self.total_ms,
            tokens_per_second=st.tokens_per_second,
            drafted=st.drafted_model + st.drafted_ngram,
            accepted=st.accepted_model + st.accepted_ngram,
            shed=self.plan.shed,
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
