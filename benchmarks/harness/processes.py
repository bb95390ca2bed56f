"""The child processes of given processes, read from /proc (Linux): a language server's
engine process, for the benchmarks' memory figures and the fuzzer's engine kills."""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from pathlib import Path


def child_processes(parents: Collection[int]) -> list[tuple[int, bytes]]:
    """(pid, command line with NUL separators) of every process whose parent is in `parents`."""
    found = []
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) in parents:
                    found.append((int(entry.name), (entry / "cmdline").read_bytes()))
    return found
