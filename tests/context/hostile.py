"""A hostile workspace, built in a temporary directory: what a cloned repository can contain.

`build_hostile_workspace(tmp_path)` makes `tmp_path/ws` (the workspace root) next to
`tmp_path/outside` (a directory the indexer must never read) and fills the root with:

* source-named symlinks to `/proc/self/fd/0` (the reader's own stdin), `/dev/zero`,
  `/dev/null`, `/proc/kmsg`, `/proc/self/root/etc/passwd`, and to a file outside the root,
  by absolute and by relative path, and through an in-root directory link that leaves;
* a FIFO named `fifo.py`, a FIFO as a nested `.gitignore`, a `.gitignore` linked to stdin;
* symlink loops (`self.py -> self.py`, `loop_a.py <-> loop_b.py`, `loopdir -> .`);
* a `tests` directory link pointing outside;
* the root `.gitignore` `a*a*a*a*a*a*a*a*a*a*b` and files with 40-character names of `a`s
  (a backtracking matcher needs seconds per name);
* an unreadable directory (mode 000; as root this does not stop reads, so also a directory
  whose path is longer than PATH_MAX, which no one can open by path);
* a 50 MB sparse `big.py`, a binary `blob.py` with NUL bytes;
* and one ordinary file, `good.py`, defining `hostile_ok`, which must be indexed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PATHOLOGICAL_GITIGNORE = "a*a*a*a*a*a*a*a*a*a*b\n"
LONG_NAME_COUNT = 24
BIG_FILE_BYTES = 50 * 1024 * 1024


@dataclass
class HostileWorkspace:
    root: Path
    outside: Path
    good: Path
    long_names: list[Path] = field(default_factory=list)
    # Names (relative to the root) that must never be indexed.
    hostile: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _link(root: Path, name: str, target: str, ws: HostileWorkspace) -> None:
    os.symlink(target, root / name)
    ws.hostile.append(name)


def long_names(count: int = LONG_NAME_COUNT) -> list[str]:
    """Distinct 40-character `.py` names of `a`s with one `c` (never matching the pattern)."""
    return ["a" * i + "c" + "a" * (35 - i) + ".py" for i in range(count)]


def build_hostile_workspace(tmp_path: Path) -> HostileWorkspace:
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.py").write_text("def outside_secret():\n    return 'leaked'\n")
    (outside / "test_secret.py").write_text("def test_outside():\n    pass\n")
    good = root / "good.py"
    good.write_text("def hostile_ok():\n    return 1\n")
    ws = HostileWorkspace(root=root, outside=outside, good=good)

    # Devices, streams and files elsewhere on the machine.
    _link(root, "stdin.py", "/proc/self/fd/0", ws)
    _link(root, "zero.py", "/dev/zero", ws)
    _link(root, "null.py", "/dev/null", ws)
    _link(root, "kmsg.py", "/proc/kmsg", ws)
    _link(root, "passwd.py", "/proc/self/root/etc/passwd", ws)
    _link(root, "outside_abs.py", str(outside / "secret.py"), ws)
    _link(root, "outside_rel.py", "../outside/secret.py", ws)
    _link(root, "tests", "../outside", ws)
    _link(root, "via_tests.py", "tests/secret.py", ws)
    os.mkfifo(root / "fifo.py")
    ws.hostile.append("fifo.py")

    # Loops.
    _link(root, "self.py", "self.py", ws)
    _link(root, "loop_a.py", "loop_b.py", ws)
    _link(root, "loop_b.py", "loop_a.py", ws)
    _link(root, "loopdir", ".", ws)

    # .gitignore files that would block or leak a reader.
    (root / "fifo_ignore").mkdir()
    os.mkfifo(root / "fifo_ignore" / ".gitignore")
    (root / "fifo_ignore" / "inside.py").write_text("def behind_fifo_ignore():\n    pass\n")
    (root / "stdin_ignore").mkdir()
    os.symlink("/proc/self/fd/0", root / "stdin_ignore" / ".gitignore")
    (root / "stdin_ignore" / "inside.py").write_text("def behind_stdin_ignore():\n    pass\n")

    # The backtracking blow-up: one pattern, long names that almost match it.
    (root / ".gitignore").write_text(PATHOLOGICAL_GITIGNORE)
    for name in long_names():
        path = root / name
        path.write_text(f"def {name[:-3]}_fn():\n    pass\n")
        ws.long_names.append(path)

    # Directories that cannot be read.
    locked = root / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text("def locked_away():\n    pass\n")
    locked.chmod(0)
    if os.geteuid() == 0:
        ws.notes.append("running as root: mode 000 does not stop reads of locked/")
    _too_long_path(root / "deep")

    # Big and binary files.
    with open(root / "big.py", "wb") as f:
        f.truncate(BIG_FILE_BYTES)
    (root / "blob.py").write_bytes(b"def blob():\n    pass\n\x00\x01\x02\xff")
    return ws


def _too_long_path(top: Path, segment: int = 200, total: int = 4300) -> None:
    """A chain of directories whose full path exceeds PATH_MAX (4096 on Linux)."""
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(total // segment + 1):
            name = f"{i:03d}" + "d" * (segment - 3)
            os.mkdir(name, dir_fd=fd)
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        leaf = os.open("unreachable.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"def unreachable():\n    pass\n")
        os.close(leaf)
    finally:
        os.close(fd)


def unlock(ws: HostileWorkspace) -> None:
    """Give the locked directory its mode back so the temporary tree can be removed."""
    os.chmod(ws.root / "locked", 0o755)
