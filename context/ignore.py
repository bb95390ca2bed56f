"""Which workspace files to skip: .gitignore rules (nested files too), VCS dirs, binaries.

git's precedence: a deeper .gitignore overrides a shallower one, the last matching line of a
file wins, and nothing inside an ignored directory can be re-included. Patterns are compiled
by `context.gitignore` (no backtracking regexes); .gitignore files are read through
`context.files` (inside the root, regular files, size-capped, never blocking).
"""

from __future__ import annotations

import os
import threading

from airgap_lsp.context.files import WorkspaceRoot
from airgap_lsp.context.gitignore import Pattern, compile_lines

ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules"})
MAX_GITIGNORE_BYTES = 1 << 20


class IgnoreRules:
    """Caches one compiled .gitignore per directory and the verdict on each directory."""

    def __init__(self, root: str | WorkspaceRoot) -> None:
        self.workspace = root if isinstance(root, WorkspaceRoot) else WorkspaceRoot(root)
        self.root = self.workspace.path
        self._patterns: dict[str, tuple[Pattern, ...]] = {}
        self._dirs: dict[tuple[str, ...], bool] = {}
        self._lock = threading.Lock()

    def invalidate(self, directory: str | None = None) -> None:
        with self._lock:
            if directory is None:
                self._patterns.clear()
            else:
                self._patterns.pop(os.path.abspath(directory), None)
            self._dirs.clear()

    def ignored(self, path: str, is_dir: bool = False) -> bool:
        """True when `path` (inside the root) is ignored by some .gitignore above it."""
        path = os.path.abspath(path)
        if path == self.root:
            return False
        if not self.workspace.contains(path):
            return True
        parts = tuple(path[len(self.root.rstrip(os.sep)) + 1 :].split(os.sep))
        if any(p in ALWAYS_SKIPPED_DIRS for p in (parts if is_dir else parts[:-1])):
            return True
        for depth in range(1, len(parts)):
            if self._dir_ignored(parts[:depth]):
                return True
        if is_dir:
            return self._dir_ignored(parts)
        return self._verdict(parts, False)

    def _dir_ignored(self, parts: tuple[str, ...]) -> bool:
        verdict = self._dirs.get(parts)
        if verdict is None:
            verdict = self._verdict(parts, True)
            self._dirs[parts] = verdict
        return verdict

    def _verdict(self, parts: tuple[str, ...], is_dir: bool) -> bool:
        """The decision of the deepest .gitignore line matching `parts` (False if none)."""
        for depth in range(len(parts) - 1, -1, -1):
            patterns = self._patterns_in(os.path.join(self.root, *parts[:depth]))
            sub = parts[depth:]
            for pattern in reversed(patterns):
                if pattern.matches(sub, is_dir):
                    return not pattern.negated
        return False

    def _patterns_in(self, directory: str) -> tuple[Pattern, ...]:
        patterns = self._patterns.get(directory)
        if patterns is None:
            data = self.workspace.read(os.path.join(directory, ".gitignore"), MAX_GITIGNORE_BYTES)
            patterns = ()
            if data is not None:
                # File names are decoded the same way (os.fsdecode), so the two compare.
                patterns = compile_lines(data.decode("utf-8", "surrogateescape").split("\n"))
            with self._lock:
                self._patterns[directory] = patterns
        return patterns


def looks_binary(data: bytes) -> bool:
    """NUL bytes early on, or not UTF-8: not source code we can use."""
    if b"\0" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
