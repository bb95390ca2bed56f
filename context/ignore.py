"""Which workspace files to skip: .gitignore rules (nested files too), VCS dirs, binaries."""

from __future__ import annotations

import os

import pathspec

ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules"})


class IgnoreRules:
    """Caches one compiled .gitignore per directory; git's last-match-wins across levels."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._specs: dict[str, pathspec.GitIgnoreSpec | None] = {}

    def invalidate(self, directory: str | None = None) -> None:
        if directory is None:
            self._specs.clear()
        else:
            self._specs.pop(os.path.abspath(directory), None)

    def _spec(self, directory: str) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._specs:
            spec = None
            try:
                with open(os.path.join(directory, ".gitignore"), encoding="utf-8") as f:
                    spec = pathspec.GitIgnoreSpec.from_lines(f.read().splitlines())
            except (OSError, UnicodeDecodeError):
                pass
            self._specs[directory] = spec
        return self._specs[directory]

    def ignored(self, path: str, is_dir: bool = False) -> bool:
        """True when `path` (inside the root) is ignored by some .gitignore above it."""
        path = os.path.abspath(path)
        rel = os.path.relpath(path, self.root)
        if rel.startswith(".."):
            return True
        parts = rel.split(os.sep)
        if any(p in ALWAYS_SKIPPED_DIRS for p in (parts if is_dir else parts[:-1])):
            return True
        ignored = False
        directory = self.root
        for depth in range(len(parts)):
            spec = self._spec(directory)
            if spec is not None:
                sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
                result = spec.check_file(sub)
                if result.include is not None:
                    ignored = bool(result.include)
            directory = os.path.join(directory, parts[depth])
        return ignored


def looks_binary(data: bytes) -> bool:
    """NUL bytes early on, or not UTF-8: not source code we can use."""
    if b"\0" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
