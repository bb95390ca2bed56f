"""The sandbox's processes: the launcher, the checker (PID 1) and the candidate.

`sandbox.py` runs this file as `python -I -B _sandbox_child.py` with the pickled job on
stdin; it imports only the standard library (and `_sandbox_wire.py`, by path). See the
docstring of `sandbox.py` for the whole design and why the verdict cannot be forged.

  launcher   `main()`: reads the job, sets the resource limits, unshares the mount,
             network, PID, IPC and UTS namespaces (and a user namespace when not root),
             forks the checker, hands it stdout and waits. If a namespace cannot be made it
             prints `{"refused": why}` and nothing runs.
  checker    PID 1 of the new PID namespace; trusted code only. Loads the driver, builds
             the candidate's view of the file system (read-only, a fresh tmpfs /tmp, a
             private /proc, the project and home directories hidden), runs the driver, kills
             every process in the namespace, then writes the verdict on stdout.
  candidate  forked by the checker when the driver asks (`Sandbox.candidate`). Before any
             candidate code runs it keeps only two pipes, drops to an unprivileged uid
             (root) or into a nested user namespace (otherwise), sets no_new_privs and
             RLIMIT_NPROC, and installs the in-process guards; then it answers requests.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import pickle
import resource
import select
import signal
import stat
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

STATUSES = ("passed", "failed", "timeout", "error", "memory")

# <linux/sched.h>, <sys/mount.h>, <linux/prctl.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38

WORKDIR = (
    "/tmp/work"  # the candidate's cwd, HOME and TMPDIR: a fresh tmpfs, gone with the namespace
)
_STAGE = "/tmp/.stage"

_libc = ctypes.CDLL(None, use_errno=True)


class Refused(Exception):
    """The sandbox cannot be set up as promised; nothing of the candidate may run."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def _prctl(option: int, value: int) -> None:
    args = (ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    _check(_libc.prctl(ctypes.c_int(option), *args), f"prctl({option})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    def enc(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    result = _libc.mount(
        enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data) if data else None
    )
    _check(result, f"mount {fstype or ''} {source or ''} on {target}")


def _umount(target: str) -> None:
    _check(_libc.umount2(os.fsencode(target), ctypes.c_int(MNT_DETACH)), f"umount {target}")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _load_module(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from benchmarks.harness import _sandbox_wire as wire
else:  # run as a script with -I: load the sibling by path
    wire = _load_module("_sandbox_wire", str(Path(__file__).with_name("_sandbox_wire.py")))


# ---------------------------------------------------------------------------------------
# The candidate's view of the file system (set up by the checker, in its mount namespace)


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _closed_ancestors(path: str) -> list[str]:
    """Directories on the way to `path` that others may not traverse (e.g. a 0700 /root)."""
    closed = []
    parts = Path(path).parts
    for i in range(2, len(parts) + 1):
        directory = str(Path(*parts[:i]))
        try:
            if not os.stat(directory).st_mode & stat.S_IXOTH:
                closed.append(directory)
        except OSError:
            break
    return closed


def _mask(directory: str, keep: list[str]) -> None:
    """Cover `directory` with an empty tmpfs, then bind the `keep` paths back in place."""
    staged = []
    for index, path in enumerate(keep):
        stage = f"{_STAGE}/{index}"
        os.makedirs(stage)
        _mount(path, stage, None, MS_BIND | MS_REC)
        staged.append((stage, path))
    _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for stage, path in staged:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(stage, path, None, MS_BIND | MS_REC)
        _umount(stage)
        os.rmdir(stage)
    if staged:
        os.rmdir(_STAGE)


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            field = line.split()[4]
            # Octal escapes for space, tab, newline and backslash.
            for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
                field = field.replace(code, char)
            points.append(field)
    return points


_STATVFS_FLAGS = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)


def _read_only_except(writable: tuple[str, ...]) -> None:
    """Remount every mount read-only (our copies: the mount namespace is private)."""
    failed = []
    for point in sorted(set(_mount_points()), key=len):
        if any(_inside(point, w) for w in writable):
            continue
        try:
            current = os.statvfs(point).f_flag
        except OSError:
            continue  # hidden under a mask
        if current & os.ST_RDONLY:
            continue
        # Flags the mount already has must be kept (in a user namespace they are locked).
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        flags |= sum(ms for st, ms in _STATVFS_FLAGS if current & st)
        try:
            _mount(None, point, None, flags)
        except OSError as exc:
            failed.append(f"{point}: {exc.strerror}")
    if failed:
        raise Refused("cannot make the file system read-only: " + "; ".join(failed))


def _prepare_filesystem(job: dict[str, Any], owner: tuple[int, int] | None) -> None:
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates to the host
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={job['disk_bytes']},mode=0755")
    # The candidate imports the standard library from here; everything else may go.
    stdlib = os.path.realpath(os.path.dirname(os.__file__))
    keep = [os.path.realpath(sys.base_prefix)]
    hide = sorted({*job["hide"], *_closed_ancestors(stdlib)}, key=len)
    for directory in hide:
        # Skip what a mask above already hid, and what lies inside a kept path.
        if os.path.isdir(directory) and not any(_inside(directory, k) for k in keep):
            _mask(directory, [k for k in keep if _inside(k, directory)])
    _read_only_except(("/tmp", "/proc"))
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.mkdir(WORKDIR, 0o700)
    if owner is not None:
        os.chown(WORKDIR, *owner)


# ---------------------------------------------------------------------------------------
# The candidate process


def _keep_only(fds: set[int], stderr_fd: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(stderr_fd, 2)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in fds:
            with contextlib.suppress(OSError):  # the listing's own descriptor is gone
                os.close(fd)


def _drop_privileges(job: dict[str, Any]) -> None:
    if job["root"]:
        uid, gid = job["uid"], job["gid"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
            raise Refused("could not switch to the sandbox user")
    else:
        # A nested user namespace: no capability over the checker's namespace any more.
        # Non-dumpable (inherited from the checker), /proc/self would belong to root.
        _prctl(PR_SET_DUMPABLE, 1)
        _unshare(CLONE_NEWUSER)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", "0 0 1")
        _write("/proc/self/gid_map", "0 0 1")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid binaries gain nothing
    # As root RLIMIT_NPROC is not enforced; here the process runs under its own uid.
    resource.setrlimit(resource.RLIMIT_NPROC, (job["processes"], job["processes"]))


def _become_candidate(job: dict[str, Any], requests: int, replies: int, stderr_fd: int) -> NoReturn:
    """Runs in the forked child; never returns. Trusted until `wire.serve` runs the code."""
    try:
        _keep_only({requests, replies}, stderr_fd)
        os.chdir(WORKDIR)
        _drop_privileges(job)
        stdlib = os.path.dirname(os.__file__)
        if not os.access(stdlib, os.R_OK | os.X_OK):
            raise Refused(f"the sandbox user cannot read the standard library at {stdlib}")
        # Past the file-size limit a write should fail, not kill the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        sys.set_int_max_str_digits(0)  # big integers must cross the pipe
        if job["guards"]:
            assert _guards is not None
            _guards.block_sockets()
            _guards.install_audit_guard(WORKDIR)
    except BaseException as exc:
        reason = exc.args[0] if isinstance(exc, Refused) else f"candidate set-up failed: {exc!r}"
        try:
            wire.send(replies, ["refused", str(reason)])
        finally:
            os._exit(3)
    wire.send(replies, ["ready"])
    wire.serve(requests, replies)
    os._exit(0)


_guards: ModuleType | None = None  # `_sandbox_guards.py`, loaded by the checker


class Sandbox:
    """What a driver gets: the time left and a way to start the candidate's code."""

    CandidateError = wire.CandidateError
    CandidateGone = wire.CandidateGone
    Opaque = wire.Opaque

    def __init__(self, job: dict[str, Any], deadline: float) -> None:
        self._job = job
        self.deadline = deadline

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def candidate(self, source: str, module: str = "__candidate__") -> wire.Candidate:
        """Start a candidate process and run `source` in it as module `module`.

        Raises `CandidateError` if the code raised (or did not compile), `CandidateGone` if
        the process died, timed out or broke the protocol, `Refused` if it could not be set up.
        """
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        stderr_fd = os.memfd_create("candidate-stderr")
        pid = os.fork()
        if pid == 0:
            _become_candidate(self._job, requests_r, replies_w, stderr_fd)
        os.close(requests_r)
        os.close(replies_w)
        candidate = wire.Candidate(pid, requests_w, replies_r, stderr_fd, self.deadline)
        ready = candidate.handshake()
        if ready is not None:
            raise Refused(ready)
        candidate.load(source, module, self.remaining())
        return candidate


def run_script(source: str, sandbox: Sandbox) -> tuple[str, str, None]:
    """Built-in driver: run `source` as a script in the candidate process.

    Its verdict is the script's own: the script is the whole program, there is no judge
    apart from it (see sandbox.py).
    """
    try:
        sandbox.candidate(source, "__main__")
    except wire.CandidateError as exc:
        if exc.phase == "compile":
            return "error", exc.trace, None
        if exc.kind == "MemoryError":
            return "memory", "MemoryError", None
        return "failed", exc.trace, None
    except wire.CandidateGone as exc:
        return exc.status, exc.detail, None
    return "passed", "", None


# ---------------------------------------------------------------------------------------
# Launcher and checker


def _apply_limits(job: dict[str, Any]) -> None:
    for which, value in job["rlimits"]:
        resource.setrlimit(getattr(resource, which), value)


def _verdict(status: str, detail: str, data: Any = None) -> bytes:
    head = {"status": status, "detail": detail[-4000:], "data": data is not None}
    out = json.dumps(head).encode() + b"\n"
    if data is not None:
        out += pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _checker(job: dict[str, Any], lifeline: int, started: float) -> NoReturn:
    """PID 1 of the sandbox's PID namespace: its exit kills everything left inside."""
    global _guards
    out = b""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if select.select([lifeline], [], [], 0)[0]:
            os._exit(1)  # the launcher died before the death signal was armed
        os.close(lifeline)
        _prctl(PR_SET_DUMPABLE, 0)  # no ptrace, no /proc/1/mem, no /proc/1/fd for anyone
        sys.set_int_max_str_digits(0)
        _guards = _load_module(
            "_sandbox_guards", str(Path(__file__).with_name("_sandbox_guards.py"))
        )
        func: Callable[..., tuple[str, str, Any]]
        if job["driver"] is None:
            func = run_script
        else:
            func = getattr(_load_module("_sandbox_driver", job["driver"]), job["function"])
        owner = (job["uid"], job["gid"]) if job["root"] else None
        _prepare_filesystem(job, owner)
        sandbox = Sandbox(job, started + job["wall_seconds"])
        data: Any = None
        try:
            status, detail, data = func(job["payload"], sandbox)
        except MemoryError:
            status, detail, data = "memory", "MemoryError in the checker", None
        except wire.CandidateGone as exc:
            status, detail, data = exc.status, exc.detail, None
        except Refused:
            raise
        except BaseException:
            status, detail, data = "error", traceback.format_exc(limit=-5), None
        if status not in STATUSES:
            status, detail, data = "error", f"driver returned unknown status {status!r}", None
        out = _verdict(status, detail, data)
    except Refused as exc:
        out = json.dumps({"refused": str(exc)}).encode() + b"\n"
    except OSError as exc:
        out = json.dumps({"refused": f"sandbox set-up failed: {exc}"}).encode() + b"\n"
    finally:
        # Everything else in the namespace dies before the verdict leaves: a process that
        # called setsid() is still in this PID namespace.
        with contextlib.suppress(OSError):  # ESRCH: nothing left to kill
            os.kill(-1, signal.SIGKILL)
    try:
        _write_all(1, out)
    finally:
        os._exit(0)


def main() -> None:
    started = time.monotonic()
    job = pickle.load(sys.stdin.buffer)
    _apply_limits(job)
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    job["root"] = root
    if root:
        # A uid of its own: RLIMIT_NPROC counts per uid, and no file on the host is its.
        job["uid"] = job["gid"] = job["uid_base"] + os.getpid()
    flags = job["unshare_flags"] | (0 if root else CLONE_NEWUSER)
    try:
        _unshare(flags)
        if not root:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {uid} 1")
            _write("/proc/self/gid_map", f"0 {gid} 1")
    except OSError as exc:
        kinds = "user, " if not root else ""
        reason = (
            f"cannot create the sandbox's namespaces ({kinds}mount, network, PID): {exc.strerror}"
            "; refusing to run untrusted code without a network namespace"
        )
        sys.stdout.write(json.dumps({"refused": reason}) + "\n")
        sys.stdout.flush()
        return
    lifeline_r, lifeline_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(lifeline_w)
        _checker(job, lifeline_r, started)
    os.close(lifeline_r)
    # The verdict pipe now lives only in the checker.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    _prctl(PR_SET_DUMPABLE, 0)
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


if __name__ == "__main__":
    main()
