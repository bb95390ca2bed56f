"""Reading files of an untrusted workspace: inside its root, regular files only, never blocking.

A cloned repository is input from a stranger. Its symlinks may point at `/proc/self/fd/0` (the
server's own stdin), `/dev/zero`, a FIFO, `/proc/kmsg` or a file elsewhere on the machine, and
may form loops. `WorkspaceRoot.resolve` follows a path one component at a time (lstat and
readlink, at most 40 links, as the kernel allows) and gives up as soon as it would leave the
root's real directory, so nothing outside the root is even looked at. `read_regular` then opens
only that resolved path, with O_NOFOLLOW and O_NONBLOCK, reads only a regular file, and at most
a given number of bytes.
"""

from __future__ import annotations

import os
import stat

MAX_SYMLINKS = 40

# Opening a file of an untrusted tree: no blocking on a FIFO or device, no following a final
# symlink, no controlling terminal, nothing inherited by child processes.
OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def is_under(path: str, root: str) -> bool:
    """`path` is `root` or below it (both absolute and normalised)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class WorkspaceRoot:
    """A workspace folder as the client named it, and its real directory on disk."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.real = os.path.realpath(self.path)
        try:
            self.device: int | None = os.stat(self.real).st_dev
        except OSError:
            self.device = None

    def contains(self, path: str) -> bool:
        return is_under(os.path.abspath(path), self.path)

    def resolve(self, path: str) -> str | None:
        """The real path that `path` (under the root as named) denotes, if it stays inside.

        None when the path or any symlink on the way leads outside the real root, loops, has
        more than MAX_SYMLINKS links, or does not exist.
        """
        path = os.path.abspath(path)
        if not is_under(path, self.path):
            return None
        pending = [p for p in reversed(path[len(self.path) :].split(os.sep)) if p]
        resolved = self.real
        links = 0
        while pending:
            name = pending.pop()
            if name == ".":
                continue
            if name == "..":
                if resolved == self.real:
                    return None
                resolved = os.path.dirname(resolved)
                continue
            candidate = os.path.join(resolved, name)
            try:
                info = os.lstat(candidate)
            except (OSError, ValueError):
                return None
            if not stat.S_ISLNK(info.st_mode):
                resolved = candidate
                continue
            links += 1
            if links > MAX_SYMLINKS:
                return None
            try:
                target = os.readlink(candidate)
            except OSError:
                return None
            if os.path.isabs(target):
                target = os.path.normpath(target)
                if not is_under(target, self.real):
                    return None
                resolved = self.real
                target = target[len(self.real) :]
            pending.extend(p for p in reversed(target.split(os.sep)) if p)
        return resolved

    def read(self, path: str, max_bytes: int) -> bytes | None:
        """The bytes of a regular file inside the root, if it has at most `max_bytes`."""
        real = self.resolve(path)
        return None if real is None else read_regular(real, max_bytes)


def regular_stat(real: str) -> os.stat_result | None:
    """lstat of a resolved path when it is a regular file (never a FIFO, device or link)."""
    try:
        info = os.lstat(real)
    except (OSError, ValueError):
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def read_regular(real: str, max_bytes: int) -> bytes | None:
    """Read a resolved regular file of at most `max_bytes`; None for anything else.

    The type is checked before opening (so a FIFO or device is never opened) and again on the
    open descriptor, in case the path was swapped in between; O_NONBLOCK keeps even that case
    from blocking, and O_NOFOLLOW refuses a symlink put in its place.
    """
    if regular_stat(real) is None:
        return None
    try:
        fd = os.open(real, OPEN_FLAGS)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return None if total > max_bytes else b"".join(chunks)
    except OSError:  # BlockingIOError from /proc-style files among them
        return None
    finally:
        os.close(fd)
