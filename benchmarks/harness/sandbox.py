"""Running untrusted Python in a sandboxed child process.

Layers, outermost first:
  * a fresh `python -I -B` (isolated mode: no user site, no PYTHON* env, no script dir on
    sys.path; no .pyc writes) in a new temporary working directory, deleted afterwards;
  * a scrubbed environment, stdin from /dev/null, stdout discarded;
  * a new session (process group), killed as a whole with SIGKILL on wall-clock overrun;
  * rlimits set in `preexec_fn`: address space (RLIMIT_AS), CPU seconds (RLIMIT_CPU),
    file size (RLIMIT_FSIZE), open files, no core dumps;
  * a fresh network namespace via `unshare -n` when that works on this machine (as root
    it does here): only a loopback interface, and it is down;
  * in-process guards installed by `_sandbox_child.py` before the candidate runs:
    socket functions replaced by raisers, and an audit hook that refuses process
    creation, signals to other processes, ctypes, sockets, and any file write or file
    system change outside the temporary directory.

The child still runs as root: the in-process guards are best effort against mistakes in
generated code, not a boundary against code written to escape.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Status = Literal["passed", "failed", "timeout", "error", "memory"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "timeout", "error", "memory")

GIB = 1 << 30
MIB = 1 << 20

_CHILD = Path(__file__).with_name("_sandbox_child.py")
_MAX_RESULT_BYTES = 1 << 20
_MAX_DATA_BYTES = 1 << 30


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    status: Status
    detail: str
    seconds: float


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 10.0
    memory_bytes: int = 4 * GIB  # EvalPlus's default cap
    cpu_seconds: float | None = None  # None: the wall limit plus one second
    file_size_bytes: int = 16 * MIB
    open_files: int = 256


@dataclass(frozen=True)
class Isolation:
    network_namespace: bool = True  # used only where `unshare -n` works
    python_guards: bool = True


@functools.cache
def _unshare_network() -> str | None:
    """Path of an `unshare` that can create a network namespace here (probed once), or None."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    try:
        probe = subprocess.run(
            [unshare, "-n", "true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return unshare if probe.returncode == 0 else None


def network_namespace_available() -> bool:
    return _unshare_network() is not None


def _rlimit_setter(limits: Limits) -> Callable[[], None]:
    cpu = limits.cpu_seconds if limits.cpu_seconds is not None else limits.wall_seconds + 1
    cpu_soft = max(1, math.ceil(cpu))
    settings = [
        (resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
        # Soft limit sends SIGXCPU; the hard one a second later is SIGKILL.
        (resource.RLIMIT_CPU, cpu_soft, cpu_soft + 1),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ]

    # Runs between fork and exec: only plain C calls, no allocation-heavy Python.
    def apply() -> None:
        for which, soft, hard in settings:
            resource.setrlimit(which, (soft, hard))

    return apply


def _scrubbed_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _verdict_without_result(returncode: int, stderr_tail: str) -> tuple[Status, str]:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if -returncode == signal.SIGXCPU:
            return "timeout", f"killed by {name} (CPU time limit)"
        if "MemoryError" in stderr_tail or "Cannot allocate memory" in stderr_tail:
            return "memory", f"killed by {name}: {stderr_tail[-500:]}"
        return "error", f"killed by {name}: {stderr_tail[-500:]}"
    if "MemoryError" in stderr_tail or "Cannot allocate memory" in stderr_tail:
        return "memory", stderr_tail[-500:]
    return "error", f"child exited with code {returncode} without a result: {stderr_tail[-500:]}"


def _read_tail(path: Path, limit: int = 4000) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_driver(
    driver: Path | None,
    function: str,
    payload: Any,
    limits: Limits | None = None,
    isolation: Isolation | None = None,
    *,
    want_data: bool = False,
) -> tuple[SandboxResult, Any]:
    """Call `function(payload)` from the module file `driver` inside the sandbox.

    The function runs in the child and returns `(status, detail, data)`. `data` is sent
    back pickled and is unpickled here only when `want_data` is set: pass that only for
    trusted code (e.g. reference solutions), since unpickling can execute code.
    `driver=None` runs `payload` as a plain script (see `run_python`).
    """
    limits = limits or Limits()
    isolation = isolation or Isolation()
    workdir = tempfile.mkdtemp(prefix="airgap-sandbox-")
    work = Path(workdir)
    try:
        shutil.copyfile(_CHILD, work / _CHILD.name)
        driver_name = None
        if driver is not None:
            driver_name = "driver_" + driver.name
            shutil.copyfile(driver, work / driver_name)
        job = {
            "driver": driver_name,
            "function": function,
            "payload": payload,
            "guards": isolation.python_guards,
        }
        with (work / "job.pkl").open("wb") as handle:
            pickle.dump(job, handle, protocol=pickle.HIGHEST_PROTOCOL)

        argv = [sys.executable, "-I", "-B", _CHILD.name]
        unshare = _unshare_network() if isolation.network_namespace else None
        if unshare is not None:
            argv = [unshare, "-n", *argv]
        stderr_path = work / "stderr.txt"
        start = time.monotonic()
        with stderr_path.open("wb") as stderr_file:
            proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env=_scrubbed_env(workdir),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr_file,
                start_new_session=True,
                preexec_fn=_rlimit_setter(limits),
                close_fds=True,
            )
            timed_out = False
            try:
                proc.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc.pid)
                proc.wait()
            finally:
                # Grandchildren (if any escaped the guards) die with the group.
                _kill_group(proc.pid)
        seconds = time.monotonic() - start

        if timed_out:
            status: Status = "timeout"
            detail = f"wall-clock limit of {limits.wall_seconds:.1f}s exceeded"
        else:
            result_path = work / "result.json"
            raw = b""
            if result_path.exists() and result_path.stat().st_size <= _MAX_RESULT_BYTES:
                raw = result_path.read_bytes()
            try:
                verdict = json.loads(raw) if raw else None
            except ValueError:
                verdict = None
            if isinstance(verdict, dict) and verdict.get("status") in STATUSES:
                status = verdict["status"]
                detail = str(verdict.get("detail", ""))
            else:
                status, detail = _verdict_without_result(proc.returncode, _read_tail(stderr_path))

        data: Any = None
        data_path = work / "data.pkl"
        if want_data and status == "passed" and data_path.exists():
            if data_path.stat().st_size > _MAX_DATA_BYTES:
                status, detail = "error", "driver data too large"
            else:
                with data_path.open("rb") as handle:
                    data = pickle.load(handle)
        return SandboxResult(status == "passed", status, detail, seconds), data
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_python(
    source: str, limits: Limits | None = None, isolation: Isolation | None = None
) -> SandboxResult:
    """Run `source` as a script in the sandbox.

    "passed" if it runs to the end, "failed" if it raises (including SystemExit),
    "error" if it does not compile, "memory" on MemoryError, "timeout" if killed for time.
    """
    result, _ = run_driver(None, "", source, limits, isolation)
    return result
