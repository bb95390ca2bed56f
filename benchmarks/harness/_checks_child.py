"""Checks that run in the sandbox's checker: test suites, input/output oracles, references.

Loaded by path by `_sandbox_child.py` into the sandbox's trusted checker process, so it
imports only the standard library. Every driver takes a payload dict and the `Sandbox`
(`_sandbox_child.Sandbox`) and returns `(status, detail, data)`.

Candidate code never runs here: `sandbox.candidate(source)` runs it in a separate,
unprivileged process, and its functions are called through the pipe; what they return
arrives as plain data (see `_sandbox_wire.py`). The dataset's tests and reference
solutions (trusted) run here, so a candidate cannot patch them, return an object that
equals everything, or skip the asserts.

The output oracle mirrors EvalPlus (`evalplus.eval.unsafe_execute`): exact `==` first
(so a tuple never equals a list); HumanEval/32 (`find_zero`) is judged by
`abs(poly(xs, out)) <= atol`; otherwise if `atol` is 0 and the expected output is a float
or a non-empty list/tuple of floats, `atol` becomes 1e-6 for this and every later input
of the task (EvalPlus rebinds it in its loop); a non-exact output then passes only if it
has the expected type (and length, for lists/tuples) and is `allclose` with rtol 1e-7.
Unlike numpy, `_allclose` never broadcasts: nested shapes must match.
"""

from __future__ import annotations

import builtins
import copy
import math
import numbers
import signal
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

Verdict = tuple[str, str, Any]

_RTOL = 1e-07
_FLOAT_ATOL = 1e-6


class InputTimeout(BaseException):
    """Raised by the interval timer; a BaseException so candidates' `except Exception` miss it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(_signum: int, _frame: object) -> None:
        raise InputTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _short(value: object, limit: int = 200) -> str:
    try:
        text = repr(value)
    except BaseException:
        text = f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _exception_line(exc: BaseException) -> str:
    kind = getattr(exc, "kind", None)  # a CandidateError names the candidate's exception
    if isinstance(kind, str):
        return f"{kind}: {_short(getattr(exc, 'message', ''), 300)}"
    return f"{type(exc).__name__}: {_short(str(exc), 300)}"


def _load(source: str, entry_point: str | None) -> tuple[dict[str, Any], Verdict | None]:
    """Execute trusted source (a reference solution) here; a verdict if that went wrong."""
    namespace: dict[str, Any] = {"__name__": "__candidate__"}
    try:
        code = compile(source, "candidate.py", "exec")
    except (SyntaxError, ValueError):
        return namespace, ("error", traceback.format_exc(limit=0), None)
    try:
        exec(code, namespace)
    except MemoryError:
        return namespace, ("memory", "MemoryError while defining the candidate", None)
    except InputTimeout:
        return namespace, ("timeout", "time limit hit while defining the candidate", None)
    except BaseException as exc:
        return namespace, ("error", f"defining the candidate raised {_exception_line(exc)}", None)
    if entry_point is not None and not callable(namespace.get(entry_point)):
        return namespace, ("error", f"entry point {entry_point!r} is not defined", None)
    return namespace, None


def _start(sandbox: Any, source: str, entry_point: str) -> tuple[Any, Verdict | None]:
    """The candidate's process with `source` loaded; or the verdict if that went wrong."""
    try:
        candidate = sandbox.candidate(source)
    except sandbox.CandidateError as exc:
        if exc.phase == "compile":
            return None, ("error", exc.trace, None)
        if exc.kind == "MemoryError":
            return None, ("memory", "MemoryError while defining the candidate", None)
        detail = f"defining the candidate raised {exc.kind}: {_short(exc.message, 300)}"
        return None, ("error", detail, None)
    except sandbox.CandidateGone as exc:
        return None, (exc.status, f"while defining the candidate: {exc.detail}", None)
    if entry_point not in candidate.callables:
        return None, ("error", f"entry point {entry_point!r} is not defined", None)
    return candidate, None


class _Proxy:
    """Stands in for one of the candidate's functions in the test's namespace."""

    def __init__(self, sandbox: Any, candidate: Any, name: str) -> None:
        self._sandbox = sandbox
        self._candidate = candidate
        self.__name__ = name

    def __call__(self, *args: Any) -> Any:
        try:
            return self._candidate.call(self.__name__, list(args), self._sandbox.remaining())
        except self._sandbox.CandidateError as exc:
            if exc.kind == "MemoryError":
                raise MemoryError(exc.message) from None
            raise

    def __repr__(self) -> str:
        return f"<candidate function {self.__name__}>"


def run_tests(payload: dict[str, Any], sandbox: Any) -> Verdict:
    """The task's `test` here, calling the candidate's functions in their own process.

    The test sees the candidate's top-level callables by name (HumanEval/32's test calls
    the candidate's `poly`), except names of builtins: `abs` in a test is the real one.
    """
    entry_point = payload["entry_point"]
    candidate, failure = _start(sandbox, payload["source"], entry_point)
    if failure is not None:
        return failure
    namespace: dict[str, Any] = {"__name__": "__test__"}
    for name in candidate.callables:
        if not hasattr(builtins, name):
            namespace[name] = _Proxy(sandbox, candidate, name)
    try:
        with time_limit(payload["seconds"]):
            exec(compile(payload["test"], "test.py", "exec"), namespace)
            namespace["check"](namespace[entry_point])
    except MemoryError:
        return "memory", "MemoryError during the tests", None
    except InputTimeout:
        return "timeout", f"tests exceeded {payload['seconds']:.1f}s", None
    except sandbox.CandidateGone as exc:
        return exc.status, f"during the tests: {exc.detail}", None
    except AssertionError:
        return "failed", traceback.format_exc(limit=-2), None
    except BaseException as exc:
        return "failed", f"tests raised {_exception_line(exc)}", None
    return "passed", "", None


def _poly(xs: list[float], x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _is_floats(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)) and value:
        return all(isinstance(item, float) for item in value)
    return False


def _allclose(out: object, exp: object, rtol: float, atol: float) -> bool:
    if isinstance(out, (list, tuple)) and isinstance(exp, (list, tuple)):
        return len(out) == len(exp) and all(
            _allclose(o, e, rtol, atol) for o, e in zip(out, exp, strict=True)
        )
    if isinstance(out, (str, bytes)) or isinstance(exp, (str, bytes)):
        return False
    if not (isinstance(out, numbers.Number) and isinstance(exp, numbers.Number)):
        return False
    if out == exp:  # also equal infinities, which the formula below would reject
        return True
    try:
        diff: Any = out - exp  # type: ignore[operator]
        return bool(abs(diff) <= atol + rtol * abs(cast(Any, exp)))
    except (OverflowError, TypeError):
        return False


def outputs_match(
    out: object, exp: object, inp: list[Any], atol: float, entry_point: str
) -> tuple[bool, float]:
    """EvalPlus's oracle for one input; also returns `atol` as EvalPlus leaves it."""
    exact = bool(out == exp)
    if entry_point == "find_zero":
        return abs(_poly(inp[0], cast(float, out))) <= atol, atol  # EvalPlus: _poly(*inp, out)
    if atol == 0 and _is_floats(exp):
        atol = _FLOAT_ATOL
    if not exact and atol != 0:
        if type(out) is not type(exp):
            return False, atol
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):  # type: ignore[arg-type]
            return False, atol
        return _allclose(out, exp, _RTOL, atol), atol
    return exact, atol


def _reference_outputs(source: str, entry_point: str, inputs: list[list[Any]]) -> list[Any]:
    namespace, failure = _load(source, entry_point)
    if failure is not None:
        raise RuntimeError(f"reference solution: {failure[1]}")
    fn = namespace[entry_point]
    return [fn(*copy.deepcopy(inp)) for inp in inputs]


def run_io(payload: dict[str, Any], sandbox: Any) -> Verdict:
    """Reference outputs here, then the candidate on every input; stop at the first miss.

    The reference runs here rather than being shipped in: some tasks' outputs are
    hundreds of megabytes (e.g. HumanEval/15), cheaper to recompute than to pickle.
    An input's time limit covers the call and sending its result back.
    """
    entry_point: str = payload["entry_point"]
    inputs: list[list[Any]] = payload["inputs"]
    try:
        expected = _reference_outputs(payload["reference_source"], entry_point, inputs)
    except BaseException as exc:
        return "error", f"harness: {_exception_line(exc)}", None
    candidate, failure = _start(sandbox, payload["source"], entry_point)
    if failure is not None:
        return failure
    atol: float = payload["atol"]
    for index, (inp, exp, seconds) in enumerate(
        zip(inputs, expected, payload["time_limits"], strict=True)
    ):
        try:
            out = candidate.call(
                entry_point, inp, seconds, f"input #{index}: exceeded {seconds:.2f}s"
            )
        except sandbox.CandidateError as exc:
            if exc.kind == "MemoryError":
                return "memory", f"input #{index}: MemoryError", None
            return "failed", f"input #{index} {_short(inp)}: {_exception_line(exc)}", None
        except sandbox.CandidateGone as exc:
            if exc.status == "timeout":
                return "timeout", exc.detail, None
            return exc.status, f"input #{index}: {exc.detail}", None
        ok, atol = outputs_match(out, exp, inp, atol, entry_point)
        if not ok:
            detail = f"input #{index} {_short(inp)}: expected {_short(exp)}, got {_short(out)}"
            return "failed", detail, None
    return "passed", f"{len(inputs)} inputs", None


def run_reference(payload: dict[str, Any], sandbox: Any) -> Verdict:
    """Seconds per input of the trusted reference solution (the basis of time limits)."""
    namespace, failure = _load(payload["source"], payload["entry_point"])
    if failure is not None:
        return failure
    fn = namespace[payload["entry_point"]]
    seconds: list[float] = []
    for inp in payload["inputs"]:
        args = copy.deepcopy(inp)
        start = time.perf_counter()
        fn(*args)
        seconds.append(time.perf_counter() - start)
    return "passed", "", {"seconds": seconds}


def run_contracts(payload: dict[str, Any], sandbox: Any) -> Verdict:
    """Run the contract-guarded reference on every input; list inputs it rejects."""
    namespace, failure = _load(payload["source"], payload["entry_point"])
    if failure is not None:
        return failure
    fn = namespace[payload["entry_point"]]
    rejected: list[str] = []
    for index, inp in enumerate(payload["inputs"]):
        try:
            fn(*copy.deepcopy(inp))
        except AssertionError as exc:
            rejected.append(f"#{index} {_short(inp, 80)}: {_short(str(exc), 80)}")
    if rejected:
        return (
            "failed",
            f"{len(rejected)} inputs violate the contract: " + "; ".join(rejected[:5]),
            None,
        )
    return "passed", f"{len(payload['inputs'])} inputs satisfy the contract", None
