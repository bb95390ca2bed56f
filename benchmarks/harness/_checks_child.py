"""Checks that run inside the sandbox child: test suites, input/output oracles, references.

Loaded by `_sandbox_child.py` from a copy in the sandbox directory, so it imports only
the standard library. Every driver takes a payload dict and returns
`(status, detail, data)`.

The output oracle mirrors EvalPlus (`evalplus.eval.unsafe_execute`): exact `==` first
(so a tuple never equals a list); HumanEval/32 (`find_zero`) is judged by
`abs(poly(xs, out)) <= atol`; otherwise if `atol` is 0 and the expected output is a float
or a non-empty list/tuple of floats, `atol` becomes 1e-6 for this and every later input
of the task (EvalPlus rebinds it in its loop); a non-exact output then passes only if it
has the expected type (and length, for lists/tuples) and is `allclose` with rtol 1e-7.
Unlike numpy, `_allclose` never broadcasts: nested shapes must match.
"""

from __future__ import annotations

import copy
import math
import numbers
import signal
import time
import traceback
from collections.abc import Callable, Iterator
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
    return f"{type(exc).__name__}: {_short(str(exc), 300)}"


def _load(source: str, entry_point: str | None) -> tuple[dict[str, Any], Verdict | None]:
    """Execute candidate source into a fresh namespace; a verdict if that went wrong."""
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


def run_tests(payload: dict[str, Any]) -> Verdict:
    """Candidate source, then the task's `test` in the same namespace, then `check(entry)`."""
    namespace, failure = _load(payload["source"], payload["entry_point"])
    if failure is not None:
        return failure
    try:
        with time_limit(payload["seconds"]):
            exec(compile(payload["test"], "test.py", "exec"), namespace)
            namespace["check"](namespace[payload["entry_point"]])
    except MemoryError:
        return "memory", "MemoryError during the tests", None
    except InputTimeout:
        return "timeout", f"tests exceeded {payload['seconds']:.1f}s", None
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


def run_io(payload: dict[str, Any]) -> Verdict:
    """Reference outputs first, then the candidate on every input; stop at the first miss.

    The reference runs here rather than being shipped in: some tasks' outputs are
    hundreds of megabytes (e.g. HumanEval/15), cheaper to recompute than to pickle.
    """
    entry_point: str = payload["entry_point"]
    inputs: list[list[Any]] = payload["inputs"]
    try:
        expected = _reference_outputs(payload["reference_source"], entry_point, inputs)
    except BaseException as exc:
        return "error", f"harness: {_exception_line(exc)}", None
    namespace, failure = _load(payload["source"], entry_point)
    if failure is not None:
        return failure
    fn: Callable[..., Any] = namespace[entry_point]
    atol: float = payload["atol"]
    for index, (inp, exp, seconds) in enumerate(
        zip(inputs, expected, payload["time_limits"], strict=True)
    ):
        try:
            with time_limit(seconds):
                out = fn(*copy.deepcopy(inp))
                ok, atol = outputs_match(out, exp, inp, atol, entry_point)
        except MemoryError:
            return "memory", f"input #{index}: MemoryError", None
        except InputTimeout:
            return "timeout", f"input #{index}: exceeded {seconds:.2f}s", None
        except BaseException as exc:
            return "failed", f"input #{index} {_short(inp)}: {_exception_line(exc)}", None
        if not ok:
            detail = f"input #{index} {_short(inp)}: expected {_short(exp)}, got {_short(out)}"
            return "failed", detail, None
    return "passed", f"{len(inputs)} inputs", None


def run_reference(payload: dict[str, Any]) -> Verdict:
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


def run_contracts(payload: dict[str, Any]) -> Verdict:
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
