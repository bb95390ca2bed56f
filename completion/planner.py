"""Planning a completion's prompt: which code context, how much of it, and where it goes.

Owns the choice of prompt for one request: the code context (the one chosen for the document
before while it still applies, see `steady_context`, else chosen anew within the token
budgets), its FIM layout (what was typed since the anchor goes in the middle), and fitting the
prompt into the prompt time budget (other files are shed first, then the windows halve down to
a floor). Planning has no side effects: a plan carries its layout, which `commit` records for
the document's next requests, once, for the prompt that is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.prompt import Budget, Prompt, PromptInput, Vocabulary, fim_prompt
from airgap_lsp.completion.settings import CompletionSettings
from airgap_lsp.completion.steady_context import Chosen, Layout, SteadyContexts
from airgap_lsp.context import CodeContext
from airgap_lsp.context.windows import suffix_window

if TYPE_CHECKING:
    from airgap_lsp.completion.completer import CompletionRequest

# The prompt time budget never shrinks the windows below these: on a slow CPU a prompt cut to
# a hundred tokens loses the names the line needs (measured: 85 % of single lines against
# 95 % for llama-server, which evaluates its whole prompt), and a suffix cut to a few lines
# hides where a multi-line hole ends (infill_tune, tuning split, 50 real-code holes: edit
# similarity 42 % at 256/64, 50 % at 512/256; the naive whole-window FIM 42 %). Quality does
# not depend on the CPU's speed; the first suggestion on a slow CPU takes longer instead.
MIN_PREFIX_TOKENS = 512
MIN_SUFFIX_TOKENS = 256


class PromptCost(Protocol):
    """What fitting needs from the engine: the prompt speed measured at load (None: not
    measured, no prompt time budget applies) and what its cache already holds."""

    @property
    def prompt_ms_per_token(self) -> float | None: ...

    def tokens_to_evaluate(self, key: str, prompt: Sequence[int]) -> int: ...


@dataclass(frozen=True, slots=True)
class PromptPlan:
    prompt: Prompt
    # How the prompt was laid out, for the document's next requests (None: nothing to record,
    # the prompt was built from the raw text).
    layout: Layout | None
    shed: str = ""  # context left out of the prompt to fit the prompt time budget


@dataclass(frozen=True, slots=True)
class PromptPlanner:
    """Plans prompts under one set of settings; cheap, made per request."""

    vocab: Vocabulary
    settings: CompletionSettings
    context: ContextProvider | None
    steady: SteadyContexts
    cost: PromptCost

    def count_tokens(self, text: str) -> int:
        return len(self.vocab.tokenize(text))

    def plan(self, request: CompletionRequest, offset: int) -> PromptPlan:
        """The richest prompt whose evaluation fits the prompt time budget, judged from the
        prompt speed measured at load and what the cache already holds: extra context goes
        first, then the windows shrink. (While the user types, most of the prompt is cached,
        so the full context fits again.) Also says what was shed, for the status."""
        s = self.settings
        budget = Budget(s.prefix_tokens, s.suffix_tokens, s.extra_context_tokens)
        floor = Budget(
            min(s.prefix_tokens, MIN_PREFIX_TOKENS), min(s.suffix_tokens, MIN_SUFFIX_TOKENS), 0
        )
        plan = self.lay_out(request, offset, budget)
        per_token = self.cost.prompt_ms_per_token
        if not s.max_prompt_ms or not per_token:
            return plan
        while self.cost.tokens_to_evaluate(request.key, plan.prompt.tokens) * per_token > (
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
            plan = self.lay_out(request, offset, budget, keep=False)
        shed = []
        if budget.extra < s.extra_context_tokens:
            shed.append("other files")
        if budget.prefix < s.prefix_tokens:
            shed.append(f"code before the cursor beyond {budget.prefix} tokens")
        if budget.suffix < s.suffix_tokens:
            shed.append(f"code after the cursor beyond {budget.suffix} tokens")
        return PromptPlan(plan.prompt, plan.layout, ", ".join(shed))

    def lay_out(
        self, request: CompletionRequest, offset: int, budget: Budget, keep: bool = True
    ) -> PromptPlan:
        """The prompt within `budget` from the code context when there is one, else from the
        raw text; with `keep`, from the context chosen for the document before while it still
        applies."""
        if self.context is None or not self.settings.use_context:
            raw = PromptInput(
                prefix=request.text[:offset],
                suffix=request.text[offset:],
                path=request.path,
                extra_files=request.extra_files,
                language=request.language,
            )
            return PromptPlan(fim_prompt(self.vocab, raw, budget), None)
        kept = (
            self.steady.reuse(
                request.key, request.text, offset, self.count_tokens, request.extra_files
            )
            if keep and self.settings.steady_context
            else None
        )
        chosen: Chosen | None = None
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
            code_context = self._collect(request, offset, budget)
            files = (*request.extra_files, *((f.path, f.text) for f in code_context.files))
            chosen = Chosen(
                code_context.prefix,
                code_context.window_start,
                files,
                code_context.report.prefix_tokens,
                tuple(request.extra_files),
            )
            prefix, middle, suffix = code_context.prefix, "", code_context.suffix
        # The code context fits the budget already; the whole budget is only a ceiling here
        # (it still cuts a request's own extra files, which the context does not count).
        whole = budget.prefix + budget.suffix + budget.extra
        prompt = fim_prompt(
            self.vocab,
            PromptInput(prefix, suffix, request.path, files, request.language, middle),
            Budget(whole, whole, whole),
        )
        anchor = None
        if prompt.kind == "fim" and (kept is None or kept.suffix is None):
            # A new layout: its anchor. (A kept anchor still holds as it was recorded.)
            anchor = offset - len(middle)
        layout = Layout(request.text, offset, chosen, anchor, prompt.suffix_text)
        return PromptPlan(prompt, layout)

    def _collect(self, request: CompletionRequest, offset: int, budget: Budget) -> CodeContext:
        """The code context within `budget` (context.assemble takes a total and fractions)."""
        assert self.context is not None
        total = budget.prefix + budget.suffix + budget.extra
        return self.context.collect(
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

    def commit(self, key: str, plan: PromptPlan) -> None:
        """Record the layout of the prompt that is used, for the document's next requests."""
        if plan.layout is not None:
            self.steady.record(key, plan.layout)

    def deadline_ms(self, key: str, prompt: Prompt) -> float | None:
        """The prompt time budget, or more when the prompt at its floor needs more: the
        deadline guards against a machine much slower than measured at load, not against
        the floor the planner chose to keep."""
        s = self.settings
        per_token = self.cost.prompt_ms_per_token
        if not s.max_prompt_ms:
            return None
        if not per_token:
            return s.max_prompt_ms
        needed = self.cost.tokens_to_evaluate(key, prompt.tokens) * per_token
        return max(s.max_prompt_ms, 2 * needed)
