"""In-process guards for the sandbox's candidate process: a first line, not the boundary.

Loaded by path by `_sandbox_child.py` and installed in the candidate process after it has
dropped its privileges and before the candidate's code runs: socket functions replaced by
raisers, and an audit hook that refuses process creation, signals to other processes,
ctypes, sockets, and any file write or file system change outside the working directory.

Code in the same interpreter can defeat an audit hook (e.g. via `_posixsubprocess`), so
these stop accidents in generated code and give clear messages; the kernel-side layers in
`sandbox.py` (namespaces, uid, rlimits, read-only file system) are what code written to
escape runs into. Standard library only.
"""

from __future__ import annotations

import os
import sys
from typing import Any

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


def block_sockets() -> None:
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


def install_audit_guard(root: str) -> None:
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
