"""Background symbol index of workspace files, queried by symbol name.

`WorkspaceIndex` walks its roots (respecting .gitignore, skipping binary files and files above
a size limit), parses each source file of a known language and keeps its `Definition`s by
name. `refresh()` re-parses only files whose size or mtime changed and forgets deleted ones;
`update_file()`/`remove_file()` handle single-file notifications. `schedule_refresh()` and
`schedule_update()` hand that work to the index's own thread and return at once, so a caller on
an event loop never touches the disk; `wait_idle()` waits for that thread.

A workspace is untrusted: the walk never follows a directory symlink or leaves the root's
device, files are read through `context.files` (resolved inside the root, regular files only,
non-blocking, size-capped), and a refresh stops after `max_files` files or `max_seconds`.
Lookups are thread-safe and never wait for parsing or for the disk.
"""

from __future__ import annotations

import bisect
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from airgap_lsp.context.definitions import Definition, extract_definitions
from airgap_lsp.context.files import WorkspaceRoot, is_under, read_regular, regular_stat
from airgap_lsp.context.ignore import ALWAYS_SKIPPED_DIRS, IgnoreRules, looks_binary
from airgap_lsp.context.languages import language_for
from airgap_lsp.context.syntax import parse
from airgap_lsp.context.text import SourceText

log = logging.getLogger(__name__)

DEFAULT_MAX_FILE_BYTES = 512 * 1024
DEFAULT_MAX_SECONDS = 60.0

_DIR_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


@dataclass(frozen=True, slots=True)
class _Indexed:
    real: str
    mtime_ns: int
    size: int
    definitions: tuple[Definition, ...]


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What the last refresh did; `stopped` names the budget that cut it short, if any."""

    files: int
    parsed: int
    seconds: float
    stopped: str | None


def _order(d: Definition) -> tuple[str, int]:
    return d.path, d.start_line


class _Budget:
    def __init__(self, max_files: int, max_seconds: float) -> None:
        self.max_files = max_files
        self.deadline = time.monotonic() + max_seconds
        self.stopped: str | None = None

    def spent(self, files: int) -> bool:
        if self.stopped is None:
            if files >= self.max_files:
                self.stopped = "files"
            elif time.monotonic() > self.deadline:
                self.stopped = "time"
        return self.stopped is not None


class WorkspaceIndex:
    """Definitions of workspace files by name; built incrementally, safe to query any time."""

    def __init__(
        self,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_files: int = 20_000,
        max_seconds: float = DEFAULT_MAX_SECONDS,
    ) -> None:
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.max_seconds = max_seconds
        self.last_refresh: RefreshReport | None = None
        self._roots: dict[str, IgnoreRules] = {}
        self._files: dict[str, _Indexed] = {}
        self._by_name: dict[str, list[Definition]] = {}
        self._by_owner: dict[str, list[Definition]] = {}
        self._by_module: dict[str, set[str]] = {}
        self._by_dir: dict[str, set[str]] = {}
        self._sorted_names: list[str] = []
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        # Work handed to the index's thread: a whole refresh, or single files (in order).
        self._work = threading.Condition()
        self._want_refresh = False
        self._pending: dict[str, None] = {}
        self._busy = False
        self._thread: threading.Thread | None = None

    # -- roots and scanning -------------------------------------------------------------

    def add_root(self, path: str) -> None:
        """Register a workspace folder; its files are indexed by the next refresh."""
        root = os.path.abspath(path)
        with self._lock:
            if root not in self._roots:
                self._roots[root] = IgnoreRules(WorkspaceRoot(root))

    def remove_root(self, path: str) -> None:
        root = os.path.abspath(path)
        with self._lock:
            self._roots.pop(root, None)
            for file in [f for f in self._files if is_under(f, root)]:
                self._drop(file)

    def roots(self) -> list[str]:
        with self._lock:
            return sorted(self._roots)

    def refresh(self) -> int:
        """Bring the index up to date with the disk; returns the number of files (re)parsed."""
        with self._refresh_lock:
            started = time.monotonic()
            with self._lock:
                roots = list(self._roots.values())
            budget = _Budget(self.max_files, self.max_seconds)
            seen: set[str] = set()
            reals: set[str] = set()
            parsed = 0
            for rules in roots:
                rules.invalidate()
                for path, real, info in self._walk(rules, budget, seen):
                    if real in reals:  # a symlink to a file indexed under its own name
                        continue
                    seen.add(path)
                    reals.add(real)
                    parsed += self._index_file(path, real, info)
            with self._lock:
                # After a timeout the unseen files were not looked at: keep them until a
                # refresh that finishes says otherwise.
                if budget.stopped != "time":
                    for path in [p for p in self._files if p not in seen]:
                        self._drop(path)
            report = RefreshReport(len(seen), parsed, time.monotonic() - started, budget.stopped)
            self.last_refresh = report
            log.info(
                "workspace index: %d files, %d parsed in %.2f s%s",
                report.files,
                report.parsed,
                report.seconds,
                f" (stopped: {report.stopped} budget)" if report.stopped else "",
            )
            return parsed

    def refresh_in_background(self) -> threading.Thread:
        """Run `refresh()` on a new daemon thread and return it (join it to wait)."""
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
        found = self._candidate(rules, path)
        if found is None or language_for(None, path) is None or rules.ignored(path):
            self.remove_file(path)
            return
        with self._lock:
            if path not in self._files and len(self._files) >= self.max_files:
                return
        self._index_file(path, *found)

    def remove_file(self, path: str) -> None:
        with self._lock:
            self._drop(os.path.abspath(path))

    # -- work on the index's own thread ---------------------------------------------------

    def schedule_refresh(self) -> None:
        """Refresh on the index's thread; returns at once (pending file updates are merged)."""
        with self._work:
            self._want_refresh = True
            self._pending.clear()
            self._start_thread()
            self._work.notify_all()

    def schedule_update(self, path: str) -> None:
        """`update_file(path)` on the index's thread; returns at once. A .gitignore refreshes."""
        path = os.path.abspath(path)
        if os.path.basename(path) == ".gitignore":
            self.schedule_refresh()
            return
        with self._work:
            if not self._want_refresh:
                self._pending[path] = None
            self._start_thread()
            self._work.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until scheduled work is done; False if `timeout` seconds passed first."""
        with self._work:
            return self._work.wait_for(
                lambda: not (self._busy or self._want_refresh or self._pending), timeout
            )

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="workspace-index", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while True:
            with self._work:
                self._busy = False
                self._work.notify_all()
                while not (self._want_refresh or self._pending):
                    self._work.wait()
                self._busy = True
                refresh, self._want_refresh = self._want_refresh, False
                paths = list(self._pending)
                self._pending.clear()
            try:
                if refresh:
                    self.refresh()
                for path in paths:
                    self.update_file(path)
            except Exception:  # the index must outlive any one bad file
                log.exception("workspace index: update failed")

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
                if is_under(path, root):
                    return rules
        return None

    def _candidate(self, rules: IgnoreRules, path: str) -> tuple[str, os.stat_result] | None:
        """The real path and lstat of a regular file that `path` denotes inside its root.

        A symlink counts only if its target is inside the root and not ignored itself (a link
        must not smuggle an ignored file into prompts).
        """
        workspace = rules.workspace
        real = workspace.resolve(path)
        if real is None:
            return None
        info = regular_stat(real)
        if info is None:
            return None
        named = workspace.path + real[len(workspace.real.rstrip(os.sep)) :]
        if real != workspace.real + path[len(workspace.path) :] and rules.ignored(named):
            return None
        return real, info

    def _walk(
        self, rules: IgnoreRules, budget: _Budget, seen: set[str]
    ) -> Iterator[tuple[str, str, os.stat_result]]:
        """(path as named, real path, lstat) of each candidate file, in sorted order.

        Directories are opened by their real path with O_NOFOLLOW and listed through the
        descriptor; directory symlinks, other devices and unreadable directories are skipped.
        """
        workspace = rules.workspace
        stack = [(workspace.path, workspace.real)]
        while stack:
            if budget.spent(len(seen)):
                return
            directory, real_dir = stack.pop()
            try:
                fd = os.open(real_dir, _DIR_FLAGS)
            except OSError:
                continue
            subdirs: list[tuple[str, str]] = []
            files: list[tuple[str, str, os.stat_result]] = []
            try:
                with os.scandir(fd) as it:
                    entries = sorted(it, key=lambda e: e.name)
                for entry in entries:
                    path = os.path.join(directory, entry.name)
                    real = os.path.join(real_dir, entry.name)
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(info.st_mode):
                        if (
                            entry.name not in ALWAYS_SKIPPED_DIRS
                            and workspace.device in (None, info.st_dev)
                            and not rules.ignored(path, is_dir=True)
                        ):
                            subdirs.append((path, real))
                        continue
                    if language_for(None, entry.name) is None or rules.ignored(path):
                        continue
                    if stat.S_ISREG(info.st_mode):
                        files.append((path, real, info))
                    elif stat.S_ISLNK(info.st_mode):
                        found = self._candidate(rules, path)
                        if found is not None:
                            files.append((path, *found))
            except OSError:
                pass
            finally:
                os.close(fd)
            for item in files:
                if budget.spent(len(seen)):
                    return
                yield item
            stack.extend(reversed(subdirs))

    def _index_file(self, path: str, real: str, info: os.stat_result) -> int:
        with self._lock:
            old = self._files.get(path)
        if old is not None and (old.real, old.mtime_ns, old.size) == (
            real,
            info.st_mtime_ns,
            info.st_size,
        ):
            return 0
        definitions: tuple[Definition, ...] = ()
        if info.st_size <= self.max_file_bytes:
            definitions = self._parse_file(path, real)
        with self._lock:
            self._drop(path)
            self._files[path] = _Indexed(real, info.st_mtime_ns, info.st_size, definitions)
            for key in _module_keys(path):
                self._by_module.setdefault(key, set()).add(path)
            self._by_dir.setdefault(os.path.dirname(path), set()).add(path)
            for d in definitions:
                bucket = self._by_name.get(d.name)
                if bucket is None:
                    bucket = self._by_name[d.name] = []
                    bisect.insort(self._sorted_names, d.name)
                bisect.insort(bucket, d, key=_order)
                if d.owner is not None:
                    bisect.insort(self._by_owner.setdefault(d.owner, []), d, key=_order)
        return 1

    def _parse_file(self, path: str, real: str) -> tuple[Definition, ...]:
        language = language_for(None, path)
        if language is None:
            return ()
        data = read_regular(real, self.max_file_bytes)
        if data is None or looks_binary(data):
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
        for name in {d.name for d in old.definitions}:
            bucket = self._by_name.get(name)
            if bucket is None:
                continue
            bucket[:] = [x for x in bucket if x.path != path]
            if not bucket:
                del self._by_name[name]
                i = bisect.bisect_left(self._sorted_names, name)
                if i < len(self._sorted_names) and self._sorted_names[i] == name:
                    del self._sorted_names[i]
        for owner in {d.owner for d in old.definitions if d.owner is not None}:
            owned = self._by_owner.get(owner)
            if owned is None:
                continue
            owned[:] = [x for x in owned if x.path != path]
            if not owned:
                del self._by_owner[owner]


def _module_keys(path: str) -> tuple[str, str]:
    return os.path.splitext(os.path.basename(path))[0], os.path.basename(os.path.dirname(path))
