"""Bootstrap of the sandbox child process: guards, then one driver call, then a JSON verdict.

This file is copied into the sandbox's temporary directory and run as
`python -I -B _sandbox_child.py` with that directory as the working directory; it
imports only the standard library. It reads `job.pkl` (written by the trusted parent),
loads the driver module named there, installs the in-process guards, calls the
driver function on the job's payload and writes `result.json` (status + detail) and,
if the driver returned data, `data.pkl`. Resource limits and the network namespace
are applied by the parent before this file runs.

The guards are best effort: code in this process can defeat an audit hook it shares
the interpreter with (e.g. via `_posixsubprocess`), so they stop accidents, not attacks.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

STATUSES = ("passed", "failed", "timeout", "error", "memory")

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_DENIED_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.spawn",
        "os.posix_spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "pty.spawn",
        "ctypes.dlopen",
        "ctypes.dlsym",
        "socket.__new__",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.gethostname",
        "webbrowser.open",
    }
)

# Events that change the file system at the path(s) in their leading arguments.
_PATH_EVENTS = frozenset(
    {
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "os.chflags",
        "os.lchflags",
        "os.mkfifo",
        "os.mknod",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.move",
    }
)


def _deny(*_args: object, **_kwargs: object) -> Any:
    raise PermissionError("sandbox: network access is disabled")


def _block_sockets() -> None:
    import _socket
    import socket

    for name in (
        "socket",
        "create_connection",
        "create_server",
        "socketpair",
        "fromfd",
        "getaddrinfo",
        "gethostbyname",
        "gethostbyname_ex",
        "gethostbyaddr",
    ):
        setattr(socket, name, _deny)
    _socket.socket = _deny  # type: ignore[misc,assignment]


def _install_audit_guard(root: str) -> None:
    allowed_exact = {os.devnull}
    root = os.path.realpath(root)
    active = False

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor
        if not isinstance(path, (str, bytes, os.PathLike)):
            return True
        real = os.path.realpath(os.fsdecode(path))
        return real in allowed_exact or real == root or real.startswith(root + os.sep)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal active
        if active:
            return
        if event in _DENIED_EVENTS:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
                isinstance(mode, str) and any(c in mode for c in "wax+")
            )
            if not writes:
                return
            paths: tuple[Any, ...] = (path,)
        elif event in _PATH_EVENTS:
            paths = args[:2] if event in {"os.rename", "os.link", "os.symlink"} else args[:1]
            if event.startswith("shutil.copy") or event == "shutil.move":
                paths = args[1:2]
        else:
            return
        active = True
        try:
            blocked = [p for p in paths if not inside(p)]
        finally:
            active = False
        if blocked:
            raise PermissionError(f"sandbox: {event} outside the sandbox directory: {blocked[0]!r}")

    sys.addaudithook(hook)


def _load_driver(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("_sandbox_driver", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load driver {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["_sandbox_driver"] = module
    spec.loader.exec_module(module)
    return module


def run_script(source: str) -> tuple[str, str, None]:
    """Built-in driver: run `source` as a script."""
    try:
        code = compile(source, "candidate.py", "exec")
    except (SyntaxError, ValueError):
        return "error", traceback.format_exc(limit=0), None
    try:
        exec(code, {"__name__": "__main__"})
    except MemoryError:
        return "memory", "MemoryError", None
    except BaseException:
        return "failed", traceback.format_exc(limit=-3), None
    return "passed", "", None


def main() -> None:
    workdir = os.getcwd()
    with open("job.pkl", "rb") as handle:
        job = pickle.load(handle)
    result_fd = os.open("result.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

    func: Callable[[Any], tuple[str, str, Any]]
    if job["driver"] is None:
        func = run_script
    else:
        func = getattr(_load_driver(job["driver"]), job["function"])

    # Past the file-size limit a write should fail, not kill the whole child.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # Left open on purpose: they serve the candidate until os._exit.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    sys.stdin = io.TextIOWrapper(io.BytesIO())
    if job["guards"]:
        _block_sockets()
        _install_audit_guard(workdir)

    data: Any = None
    try:
        status, detail, data = func(job["payload"])
    except MemoryError:
        status, detail = "memory", "MemoryError"
    except BaseException:
        status, detail = "error", traceback.format_exc(limit=-5)
    if status not in STATUSES:
        status, detail = "error", f"driver returned unknown status {status!r}"

    if data is not None:
        try:
            with open(os.path.join(workdir, "data.pkl"), "wb") as handle:
                pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:
            status, detail = "error", f"could not write the driver's data: {exc!r}"
    os.write(result_fd, json.dumps({"status": status, "detail": detail[-4000:]}).encode())
    os.close(result_fd)
    # Skip interpreter shutdown: candidate threads or atexit hooks must not delay or fake it.
    os._exit(0)


if __name__ == "__main__":
    main()
