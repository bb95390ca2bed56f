"""Background symbol index of workspace files, queried by symbol name.

`WorkspaceIndex` walks its roots (respecting .gitignore, skipping binary files and files above
a size limit), parses each source file of a known language and keeps its `Definition`s by
name. `refresh()` re-parses only files whose size or mtime changed and forgets deleted ones;
`update_file()`/`remove_file()` handle single-file notifications; `refresh_in_background()`
runs a refresh on a daemon thread. Lookups are thread-safe and never wait for parsing.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from context.definitions import Definition, extract_definitions
from context.ignore import ALWAYS_SKIPPED_DIRS, IgnoreRules, looks_binary
from context.languages import language_for
from context.syntax import parse
from context.text import SourceText

DEFAULT_MAX_FILE_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class _Indexed:
    mtime_ns: int
    size: int
    definitions: tuple[Definition, ...]


class WorkspaceIndex:
    """Definitions of workspace files by name; built incrementally, safe to query any time."""

    def __init__(
        self, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, max_files: int = 20_000
    ) -> None:
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self._roots: dict[str, IgnoreRules] = {}
        self._files: dict[str, _Indexed] = {}
        self._by_name: dict[str, list[Definition]] = {}
        self._by_owner: dict[str, list[Definition]] = {}
        self._by_module: dict[str, set[str]] = {}
        self._by_dir: dict[str, set[str]] = {}
        self._sorted_names: list[str] | None = None
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()

    # -- roots and scanning -------------------------------------------------------------

    def add_root(self, path: str) -> None:
        """Register a workspace folder; its files are indexed by the next refresh."""
        root = os.path.abspath(path)
        with self._lock:
            self._roots.setdefault(root, IgnoreRules(root))

    def remove_root(self, path: str) -> None:
        root = os.path.abspath(path)
        with self._lock:
            self._roots.pop(root, None)
            for file in [f for f in self._files if _under(f, root)]:
                self._drop(file)

    def roots(self) -> list[str]:
        with self._lock:
            return sorted(self._roots)

    def refresh(self) -> int:
        """Bring the index up to date with the disk; returns the number of files (re)parsed."""
        with self._refresh_lock:
            with self._lock:
                roots = list(self._roots.items())
            seen: set[str] = set()
            parsed = 0
            for root, rules in roots:
                rules.invalidate()
                for path in self._walk(root, rules):
                    if len(seen) >= self.max_files:
                        break
                    seen.add(path)
                    parsed += self._index_file(path)
            with self._lock:
                for path in [p for p in self._files if p not in seen]:
                    self._drop(path)
            return parsed

    def refresh_in_background(self) -> threading.Thread:
        """Run `refresh()` on a daemon thread and return it (join it to wait)."""
        thread = threading.Thread(target=self.refresh, name="workspace-index", daemon=True)
        thread.start()
        return thread

    def update_file(self, path: str) -> None:
        """Re-index one file after a change notification (removes it if now excluded)."""
        path = os.path.abspath(path)
        rules = self._rules_for(path)
        if rules is None:
            return
        if os.path.basename(path) == ".gitignore":
            rules.invalidate(os.path.dirname(path))
            self.refresh()
            return
        if not os.path.isfile(path) or rules.ignored(path) or language_for(None, path) is None:
            self.remove_file(path)
            return
        self._index_file(path)

    def remove_file(self, path: str) -> None:
        with self._lock:
            self._drop(os.path.abspath(path))

    # -- queries --------------------------------------------------------------------------

    def lookup(self, name: str) -> tuple[Definition, ...]:
        """Definitions named exactly `name`, ordered by path then line."""
        with self._lock:
            return tuple(self._by_name.get(name, ()))

    def lookup_prefix(self, prefix: str, limit: int = 10) -> tuple[Definition, ...]:
        """Definitions whose name starts with `prefix` (names in sorted order), at most `limit`."""
        if not prefix:
            return ()
        with self._lock:
            if self._sorted_names is None:
                self._sorted_names = sorted(self._by_name)
            names = self._sorted_names
            out: list[Definition] = []
            i = bisect.bisect_left(names, prefix)
            while i < len(names) and names[i].startswith(prefix) and len(out) < limit:
                out.extend(self._by_name[names[i]][: limit - len(out)])
                i += 1
            return tuple(out)

    def members_of(self, owner: str) -> tuple[Definition, ...]:
        """Members of type `owner` defined outside its body (Go methods, Rust impls…)."""
        with self._lock:
            return tuple(self._by_owner.get(owner, ()))

    def module_files(self, name: str) -> list[str]:
        """Files that a qualifier `name` may denote: `name.py`, `name.go`, or a `name/` dir."""
        with self._lock:
            return sorted(self._by_module.get(name, ()))

    def files_in_dir(self, directory: str) -> list[str]:
        """Indexed files directly inside `directory`."""
        directory = os.path.abspath(directory)
        with self._lock:
            return sorted(self._by_dir.get(directory, ()))

    def files(self) -> list[str]:
        with self._lock:
            return sorted(self._files)

    def definitions_in(self, path: str) -> tuple[Definition, ...]:
        with self._lock:
            entry = self._files.get(os.path.abspath(path))
            return () if entry is None else entry.definitions

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    # -- internals ------------------------------------------------------------------------

    def _rules_for(self, path: str) -> IgnoreRules | None:
        with self._lock:
            for root, rules in self._roots.items():
                if _under(path, root):
                    return rules
        return None

    def _walk(self, root: str, rules: IgnoreRules) -> Iterable[str]:
        for directory, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in ALWAYS_SKIPPED_DIRS
                and not rules.ignored(os.path.join(directory, d), is_dir=True)
            )
            for name in sorted(filenames):
                path = os.path.join(directory, name)
                if language_for(None, name) is not None and not rules.ignored(path):
                    yield path

    def _index_file(self, path: str) -> int:
        try:
            stat = os.stat(path)
        except OSError:
            self.remove_file(path)
            return 0
        with self._lock:
            old = self._files.get(path)
        if old is not None and (old.mtime_ns, old.size) == (stat.st_mtime_ns, stat.st_size):
            return 0
        definitions: tuple[Definition, ...] = ()
        if stat.st_size <= self.max_file_bytes:
            definitions = self._parse_file(path)
        with self._lock:
            self._drop(path)
            self._files[path] = _Indexed(stat.st_mtime_ns, stat.st_size, definitions)
            for key in _module_keys(path):
                self._by_module.setdefault(key, set()).add(path)
            self._by_dir.setdefault(os.path.dirname(path), set()).add(path)
            for d in definitions:
                self._by_name.setdefault(d.name, []).append(d)
                self._by_name[d.name].sort(key=lambda x: (x.path, x.start_line))
                if d.owner is not None:
                    self._by_owner.setdefault(d.owner, []).append(d)
                    self._by_owner[d.owner].sort(key=lambda x: (x.path, x.start_line))
            self._sorted_names = None
        return 1

    def _parse_file(self, path: str) -> tuple[Definition, ...]:
        language = language_for(None, path)
        try:
            with open(path, "rb") as f:
                data = f.read(self.max_file_bytes + 1)
        except OSError:
            return ()
        if language is None or len(data) > self.max_file_bytes or looks_binary(data):
            return ()
        text = data.decode("utf-8")
        tree = parse(text, language)
        if tree is None:
            return ()
        return extract_definitions(SourceText(text), tree, language, path)

    def _drop(self, path: str) -> None:
        old = self._files.pop(path, None)
        if old is None:
            return
        for key in _module_keys(path):
            self._by_module.get(key, set()).discard(path)
        self._by_dir.get(os.path.dirname(path), set()).discard(path)
        for d in old.definitions:
            bucket = self._by_name.get(d.name)
            if bucket is None:
                continue
            bucket[:] = [x for x in bucket if x.path != path]
            if not bucket:
                del self._by_name[d.name]
            if d.owner is not None and d.owner in self._by_owner:
                owned = self._by_owner[d.owner]
                owned[:] = [x for x in owned if x.path != path]
                if not owned:
                    del self._by_owner[d.owner]
        self._sorted_names = None


def _module_keys(path: str) -> tuple[str, str]:
    return os.path.splitext(os.path.basename(path))[0], os.path.basename(os.path.dirname(path))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
