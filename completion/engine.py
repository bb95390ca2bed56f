"""The decode loop: greedy generation by the target model, sped up by verified drafts.

Owns one generation from a prompt: bringing the target sequence to the prompt with prefix
reuse, then stepping: at each step the drafters (`drafting`: n-gram lookup, then the draft
model) are asked in turn and the first draft is verified in one batch of the target, which
keeps the drafts it would have produced itself and rolls back the rest; no draft is a plain
step. Owns the models' llama.cpp contexts and makes each generation's drafters. The output is
the target's own greedy output; `verify_one_by_one` evaluates the verification batch one token
per decode, the same kernels as plain decoding, which makes the output bit-exact with plain
greedy decoding. The target's greedy choice may be constrained (a banned token at one
position; token healing's spelling of a backed-off token), the same in plain and verified
steps. Cancellation and time budgets are checked between steps and inside llama.cpp's
computation; a short prompt tail is finished first.
"""

from __future__ import annotations

import codecs
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from airgap_lsp.completion import calibration
from airgap_lsp.completion.adaptive import CostModel
from airgap_lsp.completion.drafting import (
    DraftCounts,
    Drafter,
    ModelDrafter,
    NgramDrafter,
    check_draft_vocab,
)
from airgap_lsp.completion.healing import still_to_spell
from airgap_lsp.completion.runtime import Aborted, LlamaContext, Model
from airgap_lsp.completion.sequences import SequenceCache, Slot, common_prefix

log = logging.getLogger(__name__)

FINISH_ON_CANCEL = 32  # prompt tokens; see Engine.generate
StopRule = Callable[[str], int | None]  # decoded text so far -> where it must end, or None
IsCancelled = Callable[[], bool]  # has the request been cancelled? (a worker's CancelToken)


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    max_tokens: int = 128
    max_prompt_ms: float | None = None
    max_predict_ms: float | None = None
    drafting: str = "auto"  # auto (n-gram, else draft model) | model | ngram | none
    draft_max: int = 8  # draft-model tokens per step at most
    ngram_max: int = 32  # n-gram tokens per step at most (copying is long and free to draft)
    draft_p_min: float = 0.6  # stop drafting when the draft model's top token is less sure
    verify_one_by_one: bool = False  # debug switch: bit-exact verification
    track_margins: bool = False
    near_tie_margin: float = 0.1  # logits; a top-2 gap below this is a near-tie
    ngram_sources: tuple[tuple[int, ...], ...] = ()
    extra_stop_tokens: frozenset[int] = frozenset()
    expected_tokens: int = 32  # how long the caller expects the output (for draft catch-up)
    # (output index, tokens): at that position the target may not pick these (a retry that
    # steers away from a placeholder such as `# Your code here` / `pass`).
    ban: tuple[int, frozenset[int]] | None = None
    # Token healing: the prompt was backed off by a token with this text; the output must
    # spell it first, and the result's text starts after it.
    heal: str = ""


@dataclass(slots=True)
class DecodeStats:
    prompt_tokens: int = 0
    reused_tokens: int = 0
    prompt_ms: float = 0.0
    predict_ms: float = 0.0
    generated: int = 0
    steps: int = 0  # target verification batches (plain steps included)
    drafts: dict[str, DraftCounts] = field(default_factory=dict)  # by drafter name
    near_ties: list[tuple[int, float]] = field(default_factory=list)  # (token index, margin)
    min_margin: float | None = None

    def _counts(self, name: str) -> DraftCounts:
        return self.drafts.get(name) or DraftCounts()

    @property
    def drafted_model(self) -> int:
        return self._counts("model").drafted

    @property
    def accepted_model(self) -> int:
        return self._counts("model").accepted

    @property
    def drafted_ngram(self) -> int:
        return self._counts("ngram").drafted

    @property
    def accepted_ngram(self) -> int:
        return self._counts("ngram").accepted

    @property
    def draft_prompt_tokens(self) -> int:
        """Prompt tokens the draft model evaluated to catch up with the history."""
        return sum(c.prompt_tokens for c in self.drafts.values())

    @property
    def tokens_per_step(self) -> float:
        return self.generated / self.steps if self.steps else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.generated / (self.predict_ms / 1000) if self.predict_ms > 0 else 0.0


@dataclass(frozen=True, slots=True)
class DecodeResult:
    tokens: list[int]
    text: str
    # eog | stop | max_tokens | cancelled | budget | prompt_budget | context_full
    stop_reason: str
    stats: DecodeStats


class Engine:
    """Target model plus optional draft model, each with a context of several cached slots."""

    def __init__(
        self,
        target: Model,
        draft: Model | None = None,
        n_ctx: int = 8192,
        n_seq: int = 4,
        threads: int = 0,
        draft_max: int = 8,
    ) -> None:
        self.target = target
        rs = draft_max + 1 if target.is_recurrent else 0
        # n_ctx is per cached document; each sequence gets its own KV stream of that size.
        self.target_llama = LlamaContext(
            target, n_ctx=n_ctx * n_seq, n_seq=n_seq, threads=threads, n_rs_seq=rs
        )
        self.tcache = SequenceCache(self.target_llama, recurrent=target.is_recurrent)
        self.draft: Model | None = None
        self.dcache: SequenceCache | None = None
        self.draft_warning = ""
        if draft is not None:
            check = check_draft_vocab(target.vocab_fingerprint(), draft.vocab_fingerprint())
            if check.compatible:
                self.draft = draft
                # One extra sequence is scratch space for drafting from recurrent models.
                draft_llama = LlamaContext(
                    draft, n_ctx=n_ctx * (n_seq + 1), n_seq=n_seq + 1, threads=threads
                )
                self.dcache = SequenceCache(draft_llama, recurrent=draft.is_recurrent)
                self.dcache.slots = self.dcache.slots[:n_seq]
                self.draft_scratch = n_seq
            else:
                self.draft_warning = (
                    f"draft model {draft.path.name} cannot draft for {target.path.name}: "
                    f"{check.reason}; decoding without it"
                )
                log.warning(self.draft_warning)
        self.draft_max = draft_max
        self.costs = CostModel()
        self.calibration: dict[str, object] = {}
        self.prompt_ms_per_token: float | None = None

    # -- public -----------------------------------------------------------------------------

    def generate(
        self,
        key: str,
        prompt: Sequence[int],
        options: DecodeOptions,
        stop: StopRule | None = None,
        cancelled: IsCancelled | None = None,
    ) -> DecodeResult:
        stats = DecodeStats(prompt_tokens=len(prompt))
        # Checked before any slot is touched: a prompt that cannot fit would otherwise fail
        # in llama_decode after the cache had dropped every other document's slot.
        room = self.tcache.capacity - len(prompt)
        if room < 1:
            log.info(
                "prompt of %d tokens exceeds the context (%d)", len(prompt), room + len(prompt)
            )
            return DecodeResult([], "", "context_full", stats)
        if options.max_tokens > room:  # drafts never go past max_tokens, so the slot holds it
            options = dataclasses.replace(options, max_tokens=room)
        is_cancelled = cancelled or (lambda: False)
        t0 = time.monotonic()
        prompt_deadline = t0 + options.max_prompt_ms / 1000 if options.max_prompt_ms else None

        # A short prompt tail is evaluated to the end even when the request is cancelled
        # meanwhile: the next request (the user typed on) starts with the same tokens, and
        # aborting kept nothing. Measured while typing, aborted tails piled up from keystroke
        # to keystroke (32 tokens, 0.5 s) until a pause let one finish.
        finish = self.tokens_to_evaluate(key, prompt) <= FINISH_ON_CANCEL

        def prompt_abort() -> bool:
            return (not finish and is_cancelled()) or (
                prompt_deadline is not None and time.monotonic() > prompt_deadline
            )

        try:
            prepared = self.tcache.prepare(key, prompt, abort=prompt_abort)
        except Aborted:
            reason = "cancelled" if is_cancelled() else "prompt_budget"
            stats.prompt_ms = (time.monotonic() - t0) * 1000
            return DecodeResult([], "", reason, stats)
        stats.reused_tokens = prepared.reused
        t1 = time.monotonic()
        stats.prompt_ms = (t1 - t0) * 1000
        if is_cancelled():
            return DecodeResult([], "", "cancelled", stats)
        drafters = self._drafters(key, options, is_cancelled)
        loop = _Loop(
            self, prepared.slot, list(prompt), options, stop, is_cancelled, stats, drafters
        )
        result = loop.run(t1)
        stats.predict_ms = (time.monotonic() - t1) * 1000
        return result

    def _drafters(self, key: str, options: DecodeOptions, cancelled: IsCancelled) -> list[Drafter]:
        """The drafters a generation consults at each step, in order: the first that drafts
        is verified."""
        drafters: list[Drafter] = []
        if options.drafting in ("auto", "ngram"):
            drafters.append(NgramDrafter(self.costs, options))
        if options.drafting in ("auto", "model") and self.dcache is not None:
            drafters.append(
                ModelDrafter(
                    self.dcache,
                    self.draft_scratch,
                    self.costs,
                    options,
                    self.draft_max,
                    key,
                    cancelled,
                )
            )
        return drafters

    def calibrate(self, sizes: Sequence[int] = (1, 2, 4, 8, 16, 32)) -> dict[str, object]:
        """Measure, on this hardware, a target step and verification batches of several
        sizes, the prompt speed and a draft-model step, all at once (benchmarks; the server
        measures in the background and caches, `completion.calibration`); the cost model
        starts from these numbers."""
        measurement = calibration.Measurement(self, sizes)
        measurement.run()
        calibration.apply(self, measurement.target_costs(), measurement.draft_costs())
        log.info("calibrated: %s", self.calibration)
        return self.calibration

    def tokens_to_evaluate(self, key: str, prompt: Sequence[int]) -> int:
        """How many prompt tokens a request would evaluate, given what the slots hold."""
        held = max(common_prefix(s.tokens, prompt) for s in self.tcache.slots)
        return len(prompt) - held

    def cached_lengths(self) -> tuple[list[int], list[int]]:
        """Tokens each slot of the target's and the draft's context holds now."""
        draft = [] if self.dcache is None else [len(s.tokens) for s in self.dcache.slots]
        return [len(s.tokens) for s in self.tcache.slots], draft

    def close(self) -> None:
        """Nothing to stop in process: the contexts are freed when the engine is dropped (a
        request queued before a reload may still hold it)."""

    def draft_alone(self) -> Engine:
        """An engine of the draft model alone (single lines written by the small model), with
        this one's context sizes."""
        if self.draft is None:
            raise ValueError("no draft model")
        base = self.target_llama
        return Engine(self.draft, None, n_ctx=base.n_ctx // base.n_seq, n_seq=base.n_seq)

    def forget(self, key: str) -> None:
        """The document `key` closed (from any thread): its slots are reused first."""
        self.tcache.forget(key)
        if self.dcache:
            self.dcache.forget(key)

    def reset(self) -> None:
        self.tcache.clear()
        if self.dcache:
            self.dcache.clear()

    def is_stop_token(self, token: int, options: DecodeOptions) -> bool:
        return self.target.is_eog(token) or token in options.extra_stop_tokens


def _argmax(row: np.ndarray) -> int:
    return int(np.argmax(row))


def _margin(row: np.ndarray) -> float:
    top2 = np.partition(row, -2)[-2:]
    return float(abs(top2[1] - top2[0]))


class _Loop:
    """One generation's state; exists only for the duration of `Engine.generate`."""

    def __init__(
        self,
        engine: Engine,
        slot: Slot,
        prompt: list[int],
        options: DecodeOptions,
        stop: StopRule | None,
        cancelled: IsCancelled,
        stats: DecodeStats,
        drafters: Sequence[Drafter],
    ) -> None:
        self.e = engine
        self.slot = slot
        self.prompt = prompt
        self.o = options
        self.stop = stop
        self.cancelled = cancelled
        self.stats = stats
        self.out: list[int] = []
        self.history = list(prompt)  # prompt + out; drafters may hold on to it
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""
        self.heal = options.heal.encode("utf-8")
        self.spelled = b""  # output bytes while they may still be spelling `heal`
        self.cut: int | None = None
        self.drafters = drafters
        stats.drafts = {d.name: d.counts for d in drafters}
        for drafter in drafters:
            drafter.begin(self.history)

    # Appends one token; returns a stop reason or None.
    def _push(self, token: int) -> str | None:
        if self.e.is_stop_token(token, self.o):
            return "eog"
        self.out.append(token)
        self.history.append(token)
        self.stats.generated += 1
        piece = self.e.target.piece(token)
        if len(self.spelled) < len(self.heal):
            self.spelled += piece
        self.text += self.decoder.decode(piece)
        if self.stop is not None:
            cut = self.stop(self.visible)
            if cut is not None:
                self.cut = cut
                return "stop"
        if len(self.out) >= self.o.max_tokens:
            return "max_tokens"
        return None

    def _record_margin(self, row: np.ndarray) -> None:
        if not self.o.track_margins:
            return
        m = _margin(row)
        idx = len(self.out)
        if self.stats.min_margin is None or m < self.stats.min_margin:
            self.stats.min_margin = m
        if m < self.o.near_tie_margin:
            self.stats.near_ties.append((idx, m))

    def run(self, t_start: float) -> DecodeResult:
        deadline = t_start + self.o.max_predict_ms / 1000 if self.o.max_predict_ms else None
        row = self.e.target_llama.logits(-1)
        self._record_margin(row)
        reason = self._push(self._pick(row, 0))
        while reason is None:
            if self.cancelled():
                reason = "cancelled"
                break
            if deadline is not None and time.monotonic() > deadline:
                reason = "budget"
                break
            try:
                reason = self._step()
            except Aborted:
                # Cancelled inside a verification batch: the cache already forgot the batch.
                reason = "cancelled"
        text = self.visible if self.cut is None else self.visible[: self.cut]
        return DecodeResult(list(self.out), text, reason, self.stats)

    @property
    def visible(self) -> str:
        """The output after the healed text (what the caller asked for)."""
        return self.text[len(self.o.heal) :] if self.o.heal else self.text

    def _pick(self, row: np.ndarray, index: int, ahead: Sequence[int] = ()) -> int:
        """The target's greedy choice for output position `index`, after the output so far
        and the drafts `ahead` of it."""
        ban = self.o.ban
        rest = b""
        if len(self.spelled) < len(self.heal):
            piece = self.e.target.piece
            rest = still_to_spell(self.heal, self.spelled + b"".join(piece(t) for t in ahead))
        if not rest and (ban is None or ban[0] != index):
            return _argmax(row)
        masked = row.copy()
        if ban is not None and ban[0] == index:
            masked[list(ban[1])] = -np.inf
        if rest:
            allowed = self.e.target.piece_index().allowed(rest)
            if len(allowed):
                return int(allowed[np.argmax(masked[allowed])])
        return _argmax(masked)

    def _draft(self) -> tuple[Drafter | None, list[int]]:
        """The first draft a drafter makes for this step (none: a plain step)."""
        room = self.o.max_tokens - len(self.out)
        if room <= 0:
            return None, []
        for drafter in self.drafters:
            drafts = drafter.draft(self.history, room)
            if drafts:
                return drafter, drafts
        return None, []

    def _step(self) -> str | None:
        drafter, drafts = self._draft()
        if self.cancelled():
            return "cancelled"
        cur = self.out[-1]
        batch = [cur, *drafts]
        llama = self.e.target_llama
        cache = self.e.tcache
        t0 = time.monotonic()
        preds: list[int] = []
        rows: list[np.ndarray] = []
        if self.o.verify_one_by_one:
            # The same one-token decodes as plain greedy decoding. A transformer evaluates every
            # drafted token and then rolls back the rejected ones (exercising rollback); a
            # recurrent model can roll back only within its last piece, so it stops at the first
            # rejected draft instead.
            stop_early = self.e.target.is_recurrent
            for i, tok in enumerate(batch):
                cache.extend(self.slot, [tok], abort=self.cancelled)
                row = llama.logits(-1)
                preds.append(self._pick(row, len(self.out) + i, drafts[:i]))
                if self.o.track_margins:
                    rows.append(row.copy())
                if stop_early and i < len(drafts) and preds[-1] != drafts[i]:
                    break
        else:
            cache.extend(self.slot, batch, abort=self.cancelled, logits="all")
            for i in range(len(batch)):
                row = llama.logits(i)
                preds.append(self._pick(row, len(self.out) + i, drafts[:i]))
                if self.o.track_margins:
                    rows.append(row.copy())
        ms = (time.monotonic() - t0) * 1000
        if not self.o.verify_one_by_one:
            self.e.costs.observe_target(len(batch), ms)
        self.stats.steps += 1
        accepted = 0
        while accepted < len(drafts) and preds[accepted] == drafts[accepted]:
            accepted += 1
        if drafter is not None:
            drafter.accept(len(drafts), accepted)
        # Evaluated tokens beyond the accepted drafts and the verified one are forgotten.
        cache.rollback(self.slot, len(preds) - accepted - 1)
        new = [*drafts[:accepted], preds[accepted]]
        for i, tok in enumerate(new):
            if rows:
                self._record_margin(rows[i])
            reason = self._push(tok)
            if reason is not None:
                return reason
        return None
