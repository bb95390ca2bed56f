"""Indexing a hostile workspace (tests/context/hostile.py): it finishes within its budget,
reads nothing outside the root (an audit hook watches every open), never opens a FIFO,
device or stream, never blocks the thread that asks for it, and the real server's event loop
answers a ping within 100 ms while it runs."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.context import LANGUAGES, WorkspaceIndex
from airgap_lsp.context.languages import query
from tests.context.hostile import HostileWorkspace, build_hostile_workspace, unlock
from tests.e2e.lsp_helpers import server_env
from tests.fuzz.rpc import Connection

GUARD_S = 20.0  # a hang is what these tests catch; normal runs take well under a second


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[HostileWorkspace]:
    ws = build_hostile_workspace(tmp_path)
    yield ws
    unlock(ws)


def _in_thread(fn: Callable[[], Any], timeout: float = GUARD_S) -> Any:
    """Run `fn` on a daemon thread; fail (instead of hanging) if it does not return in time."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout} s (blocked or too slow)"
    if errors:
        raise errors[0]
    return result[0]


# -- the audit hook: every open, listdir and scandir of a watched thread is recorded ----------

_watch: dict[int, list[str]] = {}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in ("open", "os.listdir", "os.scandir") or not _watch:
        return
    opened = _watch.get(threading.get_ident())
    if opened is None or not args:
        return
    path = args[0]
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, str):
        opened.append(os.path.abspath(path))


sys.addaudithook(_audit)


@contextmanager
def _watching_opens() -> Iterator[list[str]]:
    """Paths opened by threads started inside this block (and by this thread)."""
    for lang in LANGUAGES:  # grammar wheels are imported on first use: not the indexer's reads
        query(lang, lang.definition_query)
    opened: list[str] = []
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        _watch[threading.get_ident()] = opened
        try:
            original(self)
        finally:
            _watch.pop(threading.get_ident(), None)

    _watch[threading.get_ident()] = opened
    threading.Thread.run = run  # type: ignore[method-assign]
    try:
        yield opened
    finally:
        threading.Thread.run = original  # type: ignore[method-assign]
        _watch.pop(threading.get_ident(), None)


def _outside(opened: list[str], root: Path) -> list[str]:
    real = os.path.realpath(root)
    named = str(root)
    return [p for p in opened if not any(p == r or p.startswith(r + os.sep) for r in (real, named))]


# -- tests ----------------------------------------------------------------------------------


def test_hostile_workspace_indexes_within_budget_and_reads_nothing_outside(hostile):
    index = WorkspaceIndex(max_seconds=10.0)
    index.add_root(str(hostile.root))
    started = time.monotonic()
    with _watching_opens() as opened:
        _in_thread(index.refresh)
    elapsed = time.monotonic() - started
    assert elapsed < 10.0, elapsed
    report = index.last_refresh
    assert report is not None and report.stopped is None, report
    assert _outside(opened, hostile.root) == []
    assert opened, "the hook saw nothing: it is not watching the indexer"

    names = {os.path.relpath(p, hostile.root) for p in index.files()}
    assert "good.py" in names
    assert index.lookup("hostile_ok")
    assert {p.name for p in hostile.long_names} <= names  # not ignored, and checked fast
    assert not names & set(hostile.hostile), names & set(hostile.hostile)
    assert not any(n.startswith(("deep/", "tests/", "loopdir/")) for n in names), names
    for leaked in ("outside_secret", "test_outside", "unreachable", "blob"):
        assert index.lookup(leaked) == (), leaked
    # A FIFO or a link to stdin as a .gitignore is not read: it counts as no .gitignore.
    assert index.lookup("behind_fifo_ignore") and index.lookup("behind_stdin_ignore")
    # The 50 MB file is known (by size) but never opened; the binary is opened, not parsed.
    assert "big.py" in names and index.definitions_in(str(hostile.root / "big.py")) == ()
    assert not [p for p in opened if p.endswith("big.py")]
    assert not [p for p in opened if p.endswith(("fifo.py", "/.gitignore")) and "fifo" in p]


def test_single_file_updates_refuse_hostile_paths_without_blocking(hostile):
    index = WorkspaceIndex()
    index.add_root(str(hostile.root))
    with _watching_opens() as opened:
        for name in [*hostile.hostile, "fifo_ignore/.gitignore", "big.py", "blob.py"]:
            _in_thread(lambda name=name: index.update_file(str(hostile.root / name)))
    assert _outside(opened, hostile.root) == []
    assert index.lookup("outside_secret") == ()
    names = {os.path.relpath(p, hostile.root) for p in index.files()}
    assert not names & set(hostile.hostile), names


def test_symlinks_inside_the_root_count_once_and_cannot_unignore(tmp_path):
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "private").mkdir()
    (root / "src" / "core.py").write_text("def shared_core():\n    pass\n")
    (root / "private" / "keys.py").write_text("def private_key():\n    pass\n")
    (root / ".gitignore").write_text("private/\n")
    os.symlink("src/core.py", root / "alias.py")
    os.symlink("private/keys.py", root / "keys.py")
    os.symlink(str(root / "src"), root / "src_link")  # a directory link: not walked
    index = WorkspaceIndex()
    index.add_root(str(root))
    index.refresh()
    assert [d.path for d in index.lookup("shared_core")] == [str(root / "alias.py")]
    assert index.lookup("private_key") == ()


def test_time_and_file_budgets_stop_a_refresh(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    for i in range(30):
        (root / f"m{i:02d}.py").write_text(f"def f{i}():\n    pass\n")
    index = WorkspaceIndex(max_files=10)
    index.add_root(str(root))
    index.refresh()
    assert len(index) == 10 and index.last_refresh is not None
    assert index.last_refresh.stopped == "files"
    timed = WorkspaceIndex(max_seconds=0.0)
    timed.add_root(str(root))
    timed.refresh()
    assert timed.last_refresh is not None and timed.last_refresh.stopped == "time"
    assert len(timed) < 30


def test_saving_never_waits_for_the_index(hostile, monkeypatch):
    """The save handler's call returns at once even while a refresh is stuck."""
    provider = ContextProvider()
    release = threading.Event()
    entered = threading.Event()
    real_refresh = provider.index.refresh

    def stuck_refresh() -> int:
        entered.set()
        release.wait(GUARD_S)
        return real_refresh()

    monkeypatch.setattr(provider.index, "refresh", stuck_refresh)
    provider.add_roots([str(hostile.root)])
    assert entered.wait(GUARD_S)
    try:
        started = time.monotonic()
        for name in (".gitignore", "good.py", "fifo.py", "stdin.py"):
            # On a guard thread: a save handler that does the work itself fails, not hangs.
            _in_thread(lambda name=name: provider.saved(str(hostile.root / name)), 1.0)
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
    assert provider.index.wait_idle(GUARD_S)
    assert provider.index.lookup("hostile_ok")


def test_index_updates_keep_lookups_ordered(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    for i in (5, 1, 9, 3):
        (root / f"m{i}.py").write_text("def run():\n    pass\n\n\ndef run():\n    pass\n")
    (root / "other.py").write_text("def runner():\n    pass\n\ndef rust():\n    pass\n")
    index = WorkspaceIndex()
    index.add_root(str(root))
    index.refresh()
    keys = [(d.path, d.start_line) for d in index.lookup("run")]
    assert keys == sorted(keys) and len(keys) == 8
    assert [d.name for d in index.lookup_prefix("ru", limit=20)] == ["run"] * 8 + [
        "runner",
        "rust",
    ]
    (root / "m1.py").write_text("def walk():\n    pass\n")
    index.update_file(str(root / "m1.py"))
    index.remove_file(str(root / "other.py"))
    keys = [(d.path, d.start_line) for d in index.lookup("run")]
    assert keys == sorted(keys) and len(keys) == 6
    assert [d.name for d in index.lookup_prefix("r", limit=20)] == ["run"] * 6
    assert [d.name for d in index.lookup_prefix("w")] == ["walk"]


# -- the real server on a hostile workspace: its event loop keeps answering -------------------

PING_LIMIT_S = 0.1


def _index_logs(log_file: Path) -> list[str]:
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if "workspace index:" in line]


def test_the_server_answers_within_100_ms_while_indexing_a_hostile_workspace(hostile, tmp_path):
    """`airgap-lsp serve` (fake backend) with the hostile folder as its workspace: a ping
    (`airgap/stats`) is answered within 100 ms throughout the first indexing and the re-indexing
    that saving a .gitignore starts, and both finish."""
    log_file = tmp_path / "server.log"
    argv = [
        sys.executable,
        *("-m", "airgap_lsp.lsp", "serve", "--log-level", "info", "--log-file", str(log_file)),
    ]
    # The server of this checkout, whatever the working directory or the installed package.
    checkout = str(Path(__file__).resolve().parents[2])
    pythonpath = os.pathsep.join(p for p in (checkout, os.environ.get("PYTHONPATH")) if p)
    env = server_env(AIRGAP_LSP_FAKE_BACKEND="1", PYTHONPATH=pythonpath)
    conn = Connection(argv, env, cwd=str(tmp_path))
    root_uri = hostile.root.as_uri()
    slowest = 0.0
    pings = 0

    def ping() -> None:
        nonlocal slowest, pings
        started = time.monotonic()
        response = conn.call("airgap/stats", {}, GUARD_S)
        waited = time.monotonic() - started
        assert response is not None and "result" in response, f"ping unanswered ({response})"
        slowest = max(slowest, waited)
        pings += 1
        assert waited < PING_LIMIT_S, f"ping {pings} answered after {waited * 1000:.0f} ms"

    def ping_until(done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + GUARD_S
        while not done():
            assert time.monotonic() < deadline, f"not done in {GUARD_S} s: {_index_logs(log_file)}"
            ping()
            time.sleep(0.01)

    try:
        init = conn.call(
            "initialize",
            {
                "processId": None,
                "rootUri": root_uri,
                "workspaceFolders": [{"uri": root_uri, "name": "hostile"}],
                "capabilities": {},
            },
            GUARD_S,
        )
        assert init is not None and "result" in init, init
        conn.notify("initialized", {})
        ping_until(lambda: len(_index_logs(log_file)) >= 1)
        item = {"uri": hostile.good.as_uri(), "languageId": "python", "version": 1}
        conn.notify("textDocument/didOpen", {"textDocument": {**item, "text": "x = 1\n"}})
        for name in (".gitignore", "fifo.py", "stdin.py", "good.py"):
            uri = (hostile.root / name).as_uri()
            conn.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        ping_until(lambda: len(_index_logs(log_file)) >= 2)
        for _ in range(10):
            ping()
        print(f"{pings} pings, the slowest answered in {slowest * 1000:.1f} ms")
        response = conn.call("shutdown", None, GUARD_S)
        assert response is not None and "error" not in response, response
        conn.notify("exit", None)
        assert conn.wait_exit(15) == 0
    finally:
        conn.kill()
    assert "stopped:" not in "\n".join(_index_logs(log_file))  # finished within its budgets


def test_many_definitions_of_one_name_are_indexed_in_linear_time(tmp_path):
    """A generated file with thousands of same-named methods: each insert keeps its lists
    sorted by bisection (the index re-sorted the whole list under its lock on every insert:
    quadratic, 2.9 s for 4,000 methods)."""
    root = tmp_path / "ws"
    root.mkdir()
    count = 8000
    (root / "many.py").write_text("class K:\n" + "    def run(self):\n        pass\n" * count)
    index = WorkspaceIndex()
    index.add_root(str(root))
    started = time.monotonic()
    _in_thread(index.refresh)
    elapsed = time.monotonic() - started
    assert len(index.lookup("run")) == count
    assert elapsed < 3.0, f"{elapsed:.1f} s to index {count} definitions of one name"
