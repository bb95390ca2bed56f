"""Grading candidate programs against HumanEval+ and single-line infilling tasks.

Every check runs the candidate once, in one sandbox subprocess, over all of the task's
tests or inputs. `completion_source` is always the whole candidate program (e.g.
`task.completion_document().apply(model_output)`), which must define the entry point.

`check_plus` compares with the canonical solution's outputs, computed in the sandbox's
trusted checker process just before the candidate runs in its own process (shipping them
in would mean pickles of up to 150 MB for some tasks). The candidate's code never runs
where the verdict is decided (see `sandbox.py`); every check raises `SandboxUnavailable`
rather than run without the sandbox's protections. Time limits follow EvalPlus: per input
`max(1 s, 4 x reference time)` (the call; sending its result back gets extra time), per task
their sum capped at 60 s, plus start-up and the reference's own run.
The reference times are measured once per data file, in the sandbox, and cached as JSON
under `$AIRGAP_CACHE_DIR` or `~/.cache/airgap-lsp/`, keyed by the data file's sha256.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .datasets import HumanEvalTask, InfillTask
from .progress import Progress
from .sandbox import GIB, Limits, SandboxResult, run_driver

Result = SandboxResult

_DRIVER = Path(__file__).with_name("_checks_child.py")
CACHE_DIR_ENV = "AIRGAP_CACHE_DIR"
# Bump when reference computation changes, so stale caches are ignored.
_REFERENCE_FORMAT = 2


@dataclass(frozen=True)
class TimeBudget:
    min_input_seconds: float = 1.0  # EvalPlus DEFAULT_MIN_TIME_LIMIT
    reference_factor: float = 4.0  # EvalPlus DEFAULT_GT_TIME_LIMIT_FACTOR
    max_task_seconds: float = 60.0  # EvalPlus EVALPLUS_TIMEOUT_PER_TASK
    startup_seconds: float = 3.0  # interpreter start and loading the inputs
    test_base_seconds: float = 3.0  # a `check(candidate)` test suite, before per-input slack
    test_input_seconds: float = 0.25  # slack per base input of the suite
    memory_bytes: int = 4 * GIB

    def input_limits(self, reference_seconds: Sequence[float]) -> list[float]:
        return [max(self.min_input_seconds, self.reference_factor * t) for t in reference_seconds]

    def io_wall(self, reference_seconds: Sequence[float], input_limits: Sequence[float]) -> float:
        # The reference reruns in the child first; doubled for load on a shared machine.
        reference = self.startup_seconds + 2 * sum(reference_seconds)
        return reference + min(self.max_task_seconds, sum(input_limits))

    def tests_seconds(self, n_inputs: int) -> float:
        return min(
            self.max_task_seconds, self.test_base_seconds + self.test_input_seconds * n_inputs
        )


DEFAULT_BUDGET = TimeBudget()


@dataclass(frozen=True)
class Reference:
    """Seconds the canonical solution took on each of `base_input + plus_input`."""

    seconds: list[float]


def cache_dir() -> Path:
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override).expanduser() if override else Path.home() / ".cache" / "airgap-lsp"


def _tests_limits(seconds: float, budget: TimeBudget) -> Limits:
    wall = budget.startup_seconds + seconds
    return Limits(wall_seconds=wall, memory_bytes=budget.memory_bytes)


def _run_tests(
    source: str, test: str, entry_point: str, seconds: float, budget: TimeBudget
) -> Result:
    payload = {"source": source, "test": test, "entry_point": entry_point, "seconds": seconds}
    result, _ = run_driver(_DRIVER, "run_tests", payload, _tests_limits(seconds, budget))
    return result


def check_base(
    task: HumanEvalTask, completion_source: str, budget: TimeBudget = DEFAULT_BUDGET
) -> Result:
    """Run the task's own `test` (`check(entry_point)`) against the candidate program."""
    seconds = budget.tests_seconds(len(task.base_input))
    return _run_tests(completion_source, task.test, task.entry_point, seconds, budget)


def check_infill(
    task: InfillTask,
    middle: str,
    budget: TimeBudget = DEFAULT_BUDGET,
    *,
    ensure_newline: bool = True,
) -> Result:
    """Run the task's test against `prefix + middle + suffix` (see `InfillTask.program`)."""
    source = task.program(middle, ensure_newline=ensure_newline)
    return _run_tests(source, task.test, task.entry_point, budget.tests_seconds(0), budget)


_references: dict[tuple[str, str], Reference] = {}
_references_lock = threading.Lock()


def _reference_path(task: HumanEvalTask) -> Path | None:
    if not task.dataset_sha256:
        return None
    number = task.task_id.rsplit("/", 1)[-1]
    folder = f"{task.dataset_sha256[:16]}-v{_REFERENCE_FORMAT}"
    return cache_dir() / "humaneval_plus" / folder / f"{number}.json"


def _compute_reference(task: HumanEvalTask) -> Reference:
    payload = {
        "source": task.canonical_source,
        "entry_point": task.entry_point,
        "inputs": task.all_inputs,
    }
    # Generous: this measures the reference, and some plus inputs take seconds.
    limits = Limits(wall_seconds=300.0, memory_bytes=8 * GIB)
    # want_data: the reference solution is trusted, so unpickling its result is safe.
    result, data = run_driver(_DRIVER, "run_reference", payload, limits, want_data=True)
    if not result.passed or data is None:
        raise RuntimeError(f"{task.task_id}: reference solution failed: {result.detail}")
    return Reference(seconds=[float(t) for t in data["seconds"]])


def _write_atomically(path: Path, reference: Reference) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"seconds": reference.seconds}, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def reference_for(task: HumanEvalTask) -> Reference:
    """The task's reference timings: from memory, else the disk cache, else measured."""
    key = (task.dataset_sha256, task.task_id)
    with _references_lock:
        cached = _references.get(key)
    if cached is not None:
        return cached
    path = _reference_path(task)
    reference: Reference | None = None
    if path is not None and path.exists():
        try:
            raw = json.loads(path.read_text())
            reference = Reference(seconds=[float(t) for t in raw["seconds"]])
        except (OSError, ValueError, KeyError, TypeError):
            reference = None
        if reference is not None and len(reference.seconds) != len(task.all_inputs):
            reference = None
    if reference is None:
        reference = _compute_reference(task)
        if path is not None:
            _write_atomically(path, reference)
    with _references_lock:
        _references[key] = reference
    return reference


def check_plus(
    task: HumanEvalTask,
    completion_source: str,
    budget: TimeBudget = DEFAULT_BUDGET,
    *,
    reference: Reference | None = None,
) -> Result:
    """Compare the candidate with the reference on `base_input + plus_input`, as EvalPlus does."""
    reference = reference or reference_for(task)
    input_limits = budget.input_limits(reference.seconds)
    payload = {
        "source": completion_source,
        "entry_point": task.entry_point,
        "inputs": task.all_inputs,
        "reference_source": task.canonical_source,
        "time_limits": input_limits,
        "atol": task.atol,
    }
    wall = budget.io_wall(reference.seconds, input_limits)
    limits = Limits(wall_seconds=wall, memory_bytes=budget.memory_bytes)
    result, _ = run_driver(_DRIVER, "run_io", payload, limits)
    return result


def check_contracts(task: HumanEvalTask) -> Result:
    """Vet the task's inputs: the contract-guarded reference must accept every one.

    This is the only use of `task.contract`; grading never runs it (as in EvalPlus).
    """
    payload = {
        "source": task.contract_source,
        "entry_point": task.entry_point,
        "inputs": task.all_inputs,
    }
    result, _ = run_driver(
        _DRIVER, "run_contracts", payload, Limits(wall_seconds=300.0, memory_bytes=8 * GIB)
    )
    return result


T = TypeVar("T")
R = TypeVar("R")


def run_parallel(
    func: Callable[[T], R],
    items: Sequence[T],
    workers: int = 2,
    progress: Progress | None = None,
    status: Callable[[T, R], str] | None = None,
) -> list[R]:
    """`[func(item) for item in items]` on `workers` threads (each check is its own process)."""
    results: dict[int, R] = {}

    def one(index: int) -> None:
        result = func(items[index])
        results[index] = result
        if progress is not None:
            progress.advance(status=status(items[index], result) if status else "")

    if workers <= 1:
        for index in range(len(items)):
            one(index)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(one, index) for index in range(len(items))]:
                future.result()
    return [results[index] for index in range(len(items))]


__all__ = [
    "DEFAULT_BUDGET",
    "Reference",
    "Result",
    "TimeBudget",
    "cache_dir",
    "check_base",
    "check_contracts",
    "check_infill",
    "check_plus",
    "reference_for",
    "run_parallel",
]
