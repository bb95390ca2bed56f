"""Running untrusted Python (model-written candidates) so that it can neither escape nor lie.

Three processes, started fresh for every check (`_sandbox_child.py`):

  launcher   `python -I -B _sandbox_child.py`, the job pickled on its stdin. It sets the
             resource limits (address space, CPU seconds, file size, open files, no core
             dumps) and unshares new mount, network, PID, IPC and UTS namespaces (with a user
             namespace first when not root). If that fails the sandbox refuses:
             `SandboxUnavailable` with the reason is raised here; nothing runs unprotected.
  checker    PID 1 of the new PID namespace, trusted code only (the driver in
             `_checks_child.py`, the dataset's tests and reference solutions). It builds the
             candidate's view of the file system: every mount read-only, a fresh size-capped
             tmpfs on /tmp (the candidate's cwd and HOME is /tmp/work), a private /proc, the
             project checkout, the data directory (expected outputs), the home directory and
             /run (service sockets) hidden under empty tmpfs mounts (the standard library
             stays visible). It alone holds the write end of the pipe this module reads the
             verdict from.
  candidate  forked by the checker. Before the candidate's code runs it closes every
             descriptor but a request pipe and a reply pipe (stdin/stdout are /dev/null,
             stderr a memfd the checker reads for diagnostics), changes to an unprivileged
             uid of its own (root: 3,000,000,000 + the launcher's pid; otherwise a nested
             user namespace with no capability over the checker's), sets no_new_privs and
             RLIMIT_NPROC (enforced because the uid is not root), and installs the in-process
             guards (`_sandbox_guards.py`: friendly errors, not a boundary).

Why the verdict cannot be forged. The verdict is the first line the checker writes on its
stdout. The candidate cannot write there: it never holds that descriptor (closed before
its code runs), it cannot reopen it through /proc (the checker and launcher are
non-dumpable and, as root, of another uid; /proc shows only the sandbox's PID namespace),
it cannot signal, ptrace or read the memory of the checker (init of its PID namespace,
another uid or user namespace), and no pass/fail decision is made in its process. The
checker decides from what the candidate returns, which arrives as plain data
(`_sandbox_wire.py`: JSON decoded into None, bools, numbers, strings, bytes, lists, tuples,
dicts, sets; anything else becomes an `Opaque` equal to nothing), so a returned object
with its own `__eq__`, a patched builtin, a monkeypatched harness or a message written to
any descriptor reaches the judge as data at most. The dataset's test code runs in the
checker with proxies for the candidate's functions; names that shadow builtins are not
proxied. Time limits are enforced by the checker (the candidate cannot catch them) and by
this module's wall clock. Killing the candidate does not make it pass: a process that dies
or breaks the protocol gets "error", "memory" or "timeout".

`run_python` runs a whole script as the candidate; its verdict is the script's own
("it ran to the end"): with no judge outside the script, a script written to lie can
still claim success. The HumanEval+ and infilling checks (`evaluate.py`) use the split
drivers and are not fooled that way.

Every descendant dies: they all live in the PID namespace, which `setsid()` does not leave.
The checker kills everything in it before writing the verdict, and if the launcher is
killed (wall clock) the checker dies by its parent-death signal, and with it, as init,
the whole namespace.

What the candidate can still do: read world-readable files outside the hidden
directories (e.g. /etc, /usr), use CPU and memory up to the limits, and fill its tmpfs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Status = Literal["passed", "failed", "timeout", "error", "memory"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "timeout", "error", "memory")

GIB = 1 << 30
MIB = 1 << 20

_CHILD = Path(__file__).with_name("_sandbox_child.py")
_PROJECT = Path(__file__).resolve().parents[2]
_MAX_DATA_BYTES = 1 << 30
_KILL_GRACE_SECONDS = 5.0

# Namespaces the launcher unshares (CLONE_NEWNS | NEWUTS | NEWIPC | NEWPID | NEWNET); a
# user namespace is added when not root. Module-level so a test can make unshare fail.
_UNSHARE_FLAGS = 0x00020000 | 0x04000000 | 0x08000000 | 0x20000000 | 0x40000000
# Root gives each candidate process the uid _UID_BASE + the launcher's pid.
_UID_BASE = 3_000_000_000


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up here (e.g. no network namespace); nothing was run."""


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    status: Status
    detail: str
    seconds: float


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 10.0
    memory_bytes: int = 4 * GIB  # EvalPlus's default cap, per process
    cpu_seconds: float | None = None  # None: the wall limit plus one second
    file_size_bytes: int = 16 * MIB
    open_files: int = 256
    processes: int = 32  # RLIMIT_NPROC of the candidate's uid (threads count too)
    disk_bytes: int = 64 * MIB  # the candidate's tmpfs


@dataclass(frozen=True)
class Isolation:
    # The in-process guards. The kernel-side layers (namespaces, uid, limits) are not
    # optional: tests turn the guards off to show those layers hold on their own.
    python_guards: bool = True


def _rlimits(limits: Limits) -> list[tuple[str, tuple[int, int]]]:
    cpu = limits.cpu_seconds if limits.cpu_seconds is not None else limits.wall_seconds + 1
    cpu_soft = max(1, math.ceil(cpu))
    return [
        ("RLIMIT_AS", (limits.memory_bytes, limits.memory_bytes)),
        # Soft limit sends SIGXCPU; the hard one a second later is SIGKILL.
        ("RLIMIT_CPU", (cpu_soft, cpu_soft + 1)),
        ("RLIMIT_FSIZE", (limits.file_size_bytes, limits.file_size_bytes)),
        ("RLIMIT_NOFILE", (limits.open_files, limits.open_files)),
        ("RLIMIT_CORE", (0, 0)),
    ]


def _hidden_directories() -> list[str]:
    """What the candidate must not see: the checkout, the datasets, the home directory, and
    /run (Unix sockets of the host's services: a read-only mount does not stop a connect)."""
    from .datasets import data_dir

    hidden = {str(_PROJECT), str(data_dir().resolve()), "/run"}
    with contextlib.suppress(KeyError, ImportError):
        import pwd

        hidden.add(pwd.getpwuid(os.getuid()).pw_dir)
    return sorted(h for h in hidden if h not in ("", "/"))


def _child_env() -> dict[str, str]:
    work = "/tmp/work"  # exists only inside the sandbox's mount namespace
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": work,
        "TMPDIR": work,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


def _exit_verdict(returncode: int, stderr_tail: str) -> tuple[Status, str]:
    """The launcher or checker died without a verdict (a bug or a limit hit in trusted code)."""
    if "MemoryError" in stderr_tail or "Cannot allocate memory" in stderr_tail:
        return "memory", stderr_tail[-500:]
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return "error", f"sandbox killed by {name}: {stderr_tail[-500:]}"
    return "error", f"sandbox exited with code {returncode} without a verdict: {stderr_tail[-500:]}"


def _tail(handle: Any, limit: int = 4000) -> str:
    try:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - limit))
        text: str = handle.read().decode("utf-8", "replace")
        return text
    except (OSError, ValueError):
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
    """Call `function(payload, sandbox)` from the module file `driver` in the checker.

    The function runs in the sandbox's trusted checker process and returns
    `(status, detail, data)`; it starts the candidate's code with `sandbox.candidate(...)`
    (see `_checks_child.py`). `data` comes back pickled from the checker (never from the
    candidate) and is unpickled only when `want_data` is set. `driver=None` runs
    `payload` as a plain script (see `run_python`).

    Raises `SandboxUnavailable` when the sandbox cannot be set up on this machine.
    """
    if sys.platform != "linux":
        raise SandboxUnavailable("the sandbox needs Linux namespaces")
    limits = limits or Limits()
    isolation = isolation or Isolation()
    job = {
        "driver": None if driver is None else str(Path(driver).resolve()),
        "function": function,
        "payload": payload,
        "guards": isolation.python_guards,
        "rlimits": _rlimits(limits),
        "processes": limits.processes,
        "disk_bytes": limits.disk_bytes,
        "wall_seconds": limits.wall_seconds,
        "unshare_flags": _UNSHARE_FLAGS,
        "uid_base": _UID_BASE,
        "hide": _hidden_directories(),
    }
    raw_job = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    start = time.monotonic()
    with tempfile.TemporaryFile() as stderr_file:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", str(_CHILD)],
            cwd="/",
            env=_child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            start_new_session=True,
            close_fds=True,
        )
        timed_out = False
        try:
            try:
                out, _ = proc.communicate(raw_job, timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
                proc.kill()  # the checker follows by its parent-death signal, and its namespace
                out, _ = proc.communicate(timeout=_KILL_GRACE_SECONDS)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        seconds = time.monotonic() - start
        head, _, rest = out.partition(b"\n")
        try:
            verdict = json.loads(head) if head else None
        except ValueError:
            verdict = None
        if isinstance(verdict, dict) and "refused" in verdict:
            raise SandboxUnavailable(str(verdict["refused"]))
        data: Any = None
        if timed_out:
            status: Status = "timeout"
            detail = f"wall-clock limit of {limits.wall_seconds:.1f}s exceeded"
        elif isinstance(verdict, dict) and verdict.get("status") in STATUSES:
            status = verdict["status"]
            detail = str(verdict.get("detail", ""))
            if want_data and verdict.get("data") and status == "passed":
                if len(rest) > _MAX_DATA_BYTES:
                    status, detail = "error", "driver data too large"
                else:
                    data = pickle.loads(rest)  # written by the trusted checker
        else:
            status, detail = _exit_verdict(proc.returncode, _tail(stderr_file))
    return SandboxResult(status == "passed", status, detail, seconds), data


def run_python(
    source: str, limits: Limits | None = None, isolation: Isolation | None = None
) -> SandboxResult:
    """Run `source` as a script in the sandbox.

    "passed" if it runs to the end, "failed" if it raises (including SystemExit),
    "error" if it does not compile or its process dies without answering, "memory" on
    MemoryError, "timeout" if killed for time. The script is its own judge (see above).
    """
    result, _ = run_driver(None, "", source, limits, isolation)
    return result


@functools.cache
def sandbox_unavailable_reason() -> str | None:
    """Why the sandbox cannot run here (probed once), or None if it can."""
    try:
        run_python("pass", Limits(wall_seconds=30.0, memory_bytes=GIB))
    except SandboxUnavailable as exc:
        return str(exc)
    return None


def network_namespace_available() -> bool:
    """Whether the sandbox (which always has its own network namespace) can run here."""
    return sandbox_unavailable_reason() is None
