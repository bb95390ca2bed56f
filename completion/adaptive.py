"""How many tokens to draft, from what speculation costs and earns on this hardware.

Owns the online cost model: measured milliseconds of a one-token target step, of batched
verification by batch size, and of a draft-model token, plus each drafter's acceptance rate.
From them it picks, per step, plain decoding or a drafter and a draft length that maximise
expected tokens per millisecond, so speculation switches itself off where it does not pay
(a small CPU) and drafts longer where verification is nearly free (a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

NgramMode = Literal["fresh", "copy", "resume"]
ALPHA = 0.15  # EMA weight of a new measurement


def _ema(old: float | None, new: float) -> float:
    return new if old is None else old + ALPHA * (new - old)


@dataclass(slots=True)
class Acceptance:
    """Per-token acceptance probability p under the geometric model: a verification of k
    drafts that accepts a of them observed a successes and (a < k) one failure."""

    successes: float = 4.0  # a mild prior: p = 0.8
    failures: float = 1.0

    def observe(self, drafted: int, accepted: int) -> None:
        decay = 0.97  # forget slowly: acceptance depends on the text being written
        self.successes = self.successes * decay + accepted
        self.failures = self.failures * decay + (1 if accepted < drafted else 0)

    @property
    def p(self) -> float:
        return self.successes / (self.successes + self.failures)


def expected_tokens(p: float, k: int) -> float:
    """Tokens one verification of k drafts yields: accepted drafts plus the target's own."""
    if k <= 0:
        return 1.0
    if p >= 1.0:
        return k + 1.0
    return (1 - p ** (k + 1)) / (1 - p)


@dataclass(slots=True)
class CostModel:
    target_step_ms: float | None = None
    draft_step_ms: float | None = None
    draft_prompt_ms: float = 3.0  # per prompt token the draft model must catch up on
    verify_ms: dict[int, float] = field(default_factory=dict)  # batch size -> ms
    model: Acceptance = field(default_factory=Acceptance)
    calibrated: bool = False
    # n-gram acceptance differs a lot between a fresh match and a continuation of a copy whose
    # previous draft was accepted whole (the user's code repeating a block): tracked apart.
    ngram: Acceptance = field(default_factory=lambda: Acceptance(3.0, 1.0))
    ngram_copy: Acceptance = field(default_factory=lambda: Acceptance(9.0, 1.0))
    # ...and a copy picked up again next to where it stood after a substitution.
    ngram_resume: Acceptance = field(default_factory=lambda: Acceptance(3.0, 1.0))

    def observe_target(self, n: int, ms: float) -> None:
        if n == 1:
            self.target_step_ms = _ema(self.target_step_ms, ms)
        self.verify_ms[n] = _ema(self.verify_ms.get(n), ms)

    def observe_draft(self, ms_per_token: float) -> None:
        self.draft_step_ms = _ema(self.draft_step_ms, ms_per_token)

    def observe_draft_prompt(self, ms_per_token: float) -> None:
        self.draft_prompt_ms = _ema(self.draft_prompt_ms, ms_per_token)

    def verify_cost(self, n: int) -> float:
        """Measured cost of verifying n tokens, interpolated where not measured yet. Before any
        measurement, assume batching is nearly free (as on a GPU) so speculation is tried."""
        t1 = self.target_step_ms or 1.0
        if n in self.verify_ms:
            return self.verify_ms[n]
        known = sorted(self.verify_ms.items())
        lower = [(m, t) for m, t in known if m < n]
        upper = [(m, t) for m, t in known if m > n]
        if lower and upper:
            (m0, t0), (m1, t1_) = lower[-1], upper[0]
            return t0 + (t1_ - t0) * (n - m0) / (m1 - m0)
        if lower:
            m0, t0 = lower[-1]
            per = (t0 - t1) / (m0 - 1) if m0 > 1 else 0.05 * t1
            return t0 + max(per, 0.0) * (n - m0)
        return t1 * (1 + 0.05 * (n - 1))

    def calibrate(self, verify_ms: dict[int, float], draft_step_ms: float | None) -> None:
        """Start from costs measured on this hardware at load time."""
        for n, ms in verify_ms.items():
            self.verify_ms[n] = ms
        self.target_step_ms = verify_ms.get(1, self.target_step_ms)
        if draft_step_ms is not None:
            self.draft_step_ms = draft_step_ms
        self.calibrated = True

    def rate(self, p: float, k: int, draft_ms: float) -> float:
        """Expected tokens per ms of drafting k tokens at draft_ms each and verifying them."""
        if k <= 0:
            return 1.0 / (self.target_step_ms or 1.0)
        return expected_tokens(p, k) / (k * draft_ms + self.verify_cost(k + 1))

    def best_model_draft(self, k_max: int) -> int:
        """Draft length for the draft model (0 = decode plainly)."""
        if self.target_step_ms is None:
            return min(4, k_max)  # explore until the first measurements arrive
        d = self.draft_step_ms if self.draft_step_ms is not None else 0.3 * self.target_step_ms
        return self._best_k(self.model.p, k_max, d)

    def _best_k(self, p: float, k_max: int, draft_ms: float) -> int:
        best_k, best = 0, self.rate(p, 0, draft_ms)
        for k in range(1, k_max + 1):
            r = self.rate(p, k, draft_ms)
            if r > best * 1.02:  # demand a margin: noise must not switch speculation on
                best_k, best = k, r
        return best_k

    def draft_can_pay(self, k_max: int) -> bool:
        """Whether the draft model could win even if it were always right; where it cannot
        (a CPU on which verifying k tokens costs nearly k steps), it is not even explored."""
        if self.target_step_ms is None or self.draft_step_ms is None:
            return True
        return self._best_k(1.0, k_max, self.draft_step_ms) > 0

    def ngram_tracker(self, mode: NgramMode) -> Acceptance:
        return {"copy": self.ngram_copy, "resume": self.ngram_resume}.get(mode, self.ngram)

    def ngram_pays(self, k: int, mode: NgramMode = "fresh") -> int:
        """How many of k n-gram proposals to verify (0 = not worth a batch)."""
        if self.target_step_ms is None:
            return k
        return self._best_k(self.ngram_tracker(mode).p, k, 0.0)
