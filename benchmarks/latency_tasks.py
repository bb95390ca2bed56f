"""Task sets of the latency suite: what the user opens, where the cursor is, what they type.

Owns the editor view of each task (document before typing, the text the user types, single-line
or body) and its grading with the shared harness: single-line infilling lines are checked with
`check_infill`, HumanEval+ bodies with `check_base` and `check_plus` on
`task.completion_document().apply(suggestion)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from benchmarks.harness import (
    HumanEvalTask,
    InfillTask,
    check_base,
    check_infill,
    check_plus,
    load_humaneval_plus,
    load_single_line_infilling,
)

Kind = Literal["line", "body"]


@dataclass(frozen=True)
class LatencyTask:
    """A document with a cursor (`prefix|suffix`) and the text the user is about to type there."""

    task_id: str
    kind: Kind
    prefix: str
    suffix: str
    expected: str
    source: InfillTask | HumanEvalTask

    @property
    def text(self) -> str:
        return self.prefix + self.suffix


@dataclass(frozen=True)
class Grade:
    base: bool
    plus: bool | None  # None: the task set has no plus tests (single-line infilling)
    detail: str = ""


def from_infill(task: InfillTask) -> LatencyTask:
    doc = task.document()
    return LatencyTask(task.task_id, "line", doc.prefix, doc.suffix, task.canonical_solution, task)


def from_humaneval(task: HumanEvalTask) -> LatencyTask:
    doc = task.completion_document()
    # The cursor already sits after the body's indentation on the first body line; the
    # canonical body starts with blank lines and that indentation, which are not typed again.
    body = task.canonical_solution.lstrip("\n")
    indent = task.body_indent
    if body.startswith(indent):
        body = body[len(indent) :]
    body = body.rstrip() + "\n"
    return LatencyTask(task.task_id, "body", doc.prefix, doc.suffix, body, task)


def _spread(items: Sequence[object], n: int) -> list[int]:
    """`n` indices spread evenly over `items` (deterministic), so a small subset is not all
    cut from the first problem."""
    if n <= 0 or not items:
        return []
    n = min(n, len(items))
    return [i * len(items) // n for i in range(n)]


Order = Literal["file", "spread"]


def _pick(items: Sequence[object], n: int, order: Order) -> list[int]:
    return _spread(items, n) if order == "spread" else list(range(min(n, len(items))))


def load_tasks(n_lines: int, n_bodies: int, order: Order = "spread") -> list[LatencyTask]:
    """`n_lines` single-line infilling tasks then `n_bodies` HumanEval+ bodies: the first ones
    in file order (the set the issue's llama-server anchor was measured on) or spread evenly
    over the whole set."""
    tasks: list[LatencyTask] = []
    if n_lines:
        lines = load_single_line_infilling()
        tasks += [from_infill(lines[i]) for i in _pick(lines, n_lines, order)]
    if n_bodies:
        bodies = load_humaneval_plus()
        tasks += [from_humaneval(bodies[i]) for i in _pick(bodies, n_bodies, order)]
    return tasks


def grade(task: LatencyTask, suggestion: str | None) -> Grade:
    """pass@1 of the suggestion shown at the task's cursor right after opening the document."""
    text = suggestion or ""
    source = task.source
    if isinstance(source, InfillTask):
        result = check_infill(source, text)
        return Grade(result.passed, None, "" if result.passed else result.detail[:200])
    program = source.completion_document().apply(text)
    base = check_base(source, program)
    plus = check_plus(source, program) if base.passed else None
    detail = "" if base.passed else base.detail[:200]
    return Grade(base.passed, bool(plus and plus.passed), detail)
