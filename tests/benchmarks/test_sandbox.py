"""The sandbox: verdicts, limits, isolation, and escapes that must not work.

The escape tests turn the in-process guards off (`NO_GUARDS`): those are a first line
against accidents, and the kernel-side layers must hold without them. Each escape test
failed on the sandbox before issue 15 (see the commit message for which and how).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import benchmarks.harness.sandbox as sandbox_module
from benchmarks.harness import Isolation, Limits, run_python
from benchmarks.harness.sandbox import MIB, network_namespace_available, run_driver

FAST = Limits(wall_seconds=5.0, memory_bytes=512 * MIB)
NO_GUARDS = Isolation(python_guards=False)
CHECKS = Path(sandbox_module.__file__).with_name("_checks_child.py")


def test_verdicts() -> None:
    assert run_python("x = sum(range(10))\nassert x == 45", FAST).status == "passed"
    failed = run_python("assert 1 == 2, 'nope'", FAST)
    assert (failed.passed, failed.status) == (False, "failed") and "nope" in failed.detail
    assert run_python("raise SystemExit(3)", FAST).status == "failed"


def test_syntax_error_is_error() -> None:
    result = run_python("def f(:\n    pass", FAST)
    assert (result.passed, result.status) == (False, "error")
    assert "SyntaxError" in result.detail


def test_infinite_loop_is_killed_within_the_wall_limit() -> None:
    result = run_python("while True:\n    pass", Limits(wall_seconds=1.0, memory_bytes=512 * MIB))
    assert result.status == "timeout"
    assert 1.0 <= result.seconds < 3.0


def test_sleeping_child_is_killed_too() -> None:
    # A sleep burns no CPU, so only the wall-clock kill stops it.
    result = run_python("import time\ntime.sleep(60)", Limits(wall_seconds=1.0))
    assert result.status == "timeout" and result.seconds < 3.0


def test_cpu_limit() -> None:
    result = run_python("while True:\n    pass", Limits(wall_seconds=10.0, cpu_seconds=1))
    assert result.status == "timeout" and result.seconds < 5.0


@pytest.mark.parametrize(
    "source",
    [
        "x = bytearray(8 * 1024 ** 3)",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 ** 2))",
    ],
    ids=["one-big-allocation", "growing"],
)
def test_memory_hog_is_stopped(source: str) -> None:
    result = run_python(source, Limits(wall_seconds=10.0, memory_bytes=256 * MIB))
    assert result.status == "memory", result


class _Listener:
    """A TCP server on 127.0.0.1 counting the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> object:
    server = _Listener()
    yield server
    server.close()


def _connect_source(port: int) -> str:
    return (
        "import socket\n"
        f"s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "s.sendall(b'hello')\n"
    )


def test_listener_is_reachable_without_sandbox(listener: _Listener) -> None:
    # Guards the other network tests against passing because the server is broken.
    with socket.create_connection(("127.0.0.1", listener.port), timeout=2):
        pass
    threading.Event().wait(0.5)
    assert listener.accepted == 1


def test_network_connection_is_blocked(listener: _Listener) -> None:
    result = run_python(_connect_source(listener.port), FAST)
    assert result.status == "failed" and "network access is disabled" in result.detail
    raw = run_python("import _socket\n_socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)", FAST)
    assert raw.status == "failed" and "PermissionError" in raw.detail
    threading.Event().wait(0.3)
    assert listener.accepted == 0


@pytest.mark.skipif(not network_namespace_available(), reason="unshare -n does not work here")
def test_network_namespace_alone_blocks_loopback(listener: _Listener) -> None:
    result = run_python(_connect_source(listener.port), FAST, Isolation(python_guards=False))
    assert result.status == "failed" and "Network is unreachable" in result.detail
    threading.Event().wait(0.3)
    assert listener.accepted == 0


def test_writes_outside_the_temp_dir_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    attempts = [
        f"open({str(target)!r}, 'w').write('x')",
        f"import os\nos.close(os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT))",
        f"import os\nos.mkdir({str(tmp_path / 'dir')!r})",
        f"import os\nos.symlink('/etc/passwd', {str(tmp_path / 'link')!r})",
        "import os\nos.symlink('/tmp', 'inside-link')\nopen('inside-link/escaped.txt', 'w')",
        "import os\nos.chdir('/')\nopen('escaped.txt', 'w')",
        "import shutil\nshutil.rmtree('/tmp')",
        f"from pathlib import Path\nPath({str(target)!r}).write_text('x')",
    ]
    for source in attempts:
        result = run_python(source, FAST)
        assert result.status == "failed" and "PermissionError" in result.detail, source
    assert list(tmp_path.iterdir()) == []
    assert not Path("/escaped.txt").exists()


def test_writes_inside_the_temp_dir_work_and_vanish(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    source = (
        "import os\n"
        "open('data.txt', 'w').write('x' * 1000)\n"
        "os.mkdir('sub')\n"
        "os.rename('data.txt', 'sub/data.txt')\n"
        "assert open('sub/data.txt').read() == 'x' * 1000\n"
        "assert os.environ.get('HOME') == os.getcwd()\n"
    )
    assert run_python(source, FAST).status == "passed"
    assert list(tmp_path.iterdir()) == []  # the sandbox directory was deleted


def test_file_size_limit() -> None:
    result = run_python("open('big', 'wb').write(b'x' * (64 * 1024 * 1024))", FAST)
    assert result.status in {"failed", "memory"} and "File too large" in result.detail


def test_processes_and_env_are_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_python("import os\nos.fork()", FAST).status == "failed"
    assert run_python("import subprocess\nsubprocess.run(['true'])", FAST).status == "failed"
    assert run_python(f"import os\nos.kill({os.getpid()}, 9)", FAST).status == "failed"
    monkeypatch.setenv("AIRGAP_SECRET_TOKEN", "hunter2")
    source = "import os\nassert 'AIRGAP_SECRET_TOKEN' not in os.environ, dict(os.environ)"
    assert run_python(source, FAST).status == "passed"


def test_output_and_exit_tricks_do_not_fake_a_pass() -> None:
    noisy = run_python("print('x' * 10_000_000)\nimport sys\nprint('y', file=sys.stderr)", FAST)
    assert noisy.status == "passed"
    quit_early = run_python("import os\nos._exit(0)", FAST)
    assert quit_early.status == "error"


# --- escapes -----------------------------------------------------------------------------


def _token() -> str:
    return "sbx" + secrets.token_hex(6)  # a process name (comm is at most 15 bytes)


def _name_self(token: str) -> str:
    """Source that names the current process `token` (inherited by its forks)."""
    return f"import ctypes\nctypes.CDLL(None).prctl(15, {token.encode()!r}, 0, 0, 0)\n"


def _processes_named(token: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == token:
                    found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture
def token() -> Iterator[str]:
    name = _token()
    yield name
    for pid in _processes_named(name):  # a failed test must not leave processes behind
        with contextlib.suppress(OSError):
            os.kill(pid, 9)


def _tests_verdict(
    source: str, isolation: Isolation | None = None, seconds: float = 3.0, limits: Limits = FAST
) -> Any:
    payload = {
        "source": source,
        "test": "def check(candidate):\n    assert abs(candidate(1, 2) - 3) < 1e-9\n",
        "entry_point": "add",
        "seconds": seconds,
    }
    result, _ = run_driver(CHECKS, "run_tests", payload, limits, isolation)
    return result


def _io_verdict(source: str, isolation: Isolation | None = None) -> Any:
    payload = {
        "source": source,
        "entry_point": "add",
        "inputs": [[1, 2], [5, 7]],
        "reference_source": "def add(a, b):\n    return a + b\n",
        "time_limits": [1.0, 1.0],
        "atol": 0,
    }
    result, _ = run_driver(CHECKS, "run_io", payload, FAST, isolation)
    return result


_FAKE_PASS = """
import json, os
fake = json.dumps({"status": "passed", "detail": ""}).encode()
fakes = [fake, fake + b"\\n", b'{"passed": true}\\n', b'["ok", 3]', b'["returned"]']
def spray(fd):
    for data in fakes:
        try:
            os.write(fd, data)
        except OSError:
            pass
for fd in range(1024):
    spray(fd)
for name in ("result.json", "verdict.json"):
    try:
        with open(name, "wb") as handle:
            handle.write(fake)
    except OSError:
        pass
# The sandbox's checker is PID 1 of the candidate's PID namespace; only there (never on
# the host) try its descriptors and a kill.
try:
    checker = open("/proc/1/comm").read().startswith("python")
except OSError:
    checker = False
if checker:
    for fd in range(8):
        try:
            spray(os.open(f"/proc/1/fd/{fd}", os.O_WRONLY))
        except OSError:
            pass
    try:
        os.kill(1, 9)
    except OSError:
        pass
os._exit(0)
"""


@pytest.mark.parametrize("isolation", [Isolation(), NO_GUARDS], ids=["guards", "no-guards"])
@pytest.mark.parametrize("where", ["top-level", "in-call"])
def test_fake_pass_written_to_every_descriptor_is_not_a_pass(
    isolation: Isolation, where: str
) -> None:
    # The wrong answer: None. Before exiting, the candidate writes passing verdicts in
    # every format it might guess to every descriptor it has, and to files in its cwd.
    if where == "top-level":
        source = _FAKE_PASS + "\ndef add(a, b):\n    return None\n"
    else:
        body = "\n".join("    " + line for line in _FAKE_PASS.strip().splitlines())
        source = f"def add(a, b):\n{body}\n"
    for verdict in (_tests_verdict(source, isolation), _io_verdict(source, isolation)):
        assert not verdict.passed, verdict
        assert verdict.status in {"error", "failed"}, verdict


def test_an_object_equal_to_everything_is_not_a_pass() -> None:
    source = (
        "class Anything:\n"
        "    def __eq__(self, other): return True\n"
        "    def __sub__(self, other): return 0\n"
        "    def __abs__(self): return 0\n"
        "def add(a, b):\n"
        "    return Anything()\n"
    )
    tests, io = _tests_verdict(source), _io_verdict(source)
    assert tests.status == "failed", tests
    assert io.status == "failed" and "Anything" in io.detail, io


def test_patched_builtins_do_not_reach_the_tests() -> None:
    # The test asserts `abs(candidate(1, 2) - 3) < 1e-9`; the candidate answers 0.
    source = "import builtins\nbuiltins.abs = lambda x: 0\ndef add(a, b):\n    return 0\n"
    assert _tests_verdict(source, NO_GUARDS).status == "failed"
    shadow = "def abs(x):\n    return 0\ndef add(a, b):\n    return 0\n"
    assert _tests_verdict(shadow, NO_GUARDS).status == "failed"


def test_candidate_loops_time_out_in_the_tests_and_at_load() -> None:
    in_call = _tests_verdict("def add(a, b):\n    while True:\n        pass\n", seconds=1.0)
    assert in_call.status == "timeout" and "tests exceeded" in in_call.detail, in_call
    at_load = _tests_verdict(
        "while True:\n    pass\n", limits=Limits(wall_seconds=1.5, memory_bytes=512 * MIB)
    )
    assert at_load.status == "timeout" and at_load.seconds < 3.0, at_load


def test_right_answers_still_pass_through_the_pipe() -> None:
    # Guards the escape tests above against passing because nothing can pass.
    assert _tests_verdict("def add(a, b):\n    return a + b\n").status == "passed"
    assert _io_verdict("def add(a, b):\n    return a + b\n").status == "passed"


@pytest.mark.parametrize("ending", ["returns", "times-out"])
def test_setsid_descendant_dies_with_the_sandbox(token: str, tmp_path: Path, ending: str) -> None:
    marker = tmp_path / "escaped"
    source = _name_self(token) + (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(1.5)\n"
        f"        open({str(marker)!r}, 'w').write('still alive')\n"
        "    os._exit(0)\n"
    )
    if ending == "times-out":
        source += "time.sleep(30)\n"
    result = run_python(source, Limits(wall_seconds=1.0), NO_GUARDS)
    assert result.status == ("passed" if ending == "returns" else "timeout"), result
    deadline = time.monotonic() + 1.0
    while _processes_named(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_named(token) == []
    time.sleep(2.0)  # past the sleeper's wake-up
    assert not marker.exists()


def _fork_count(limits: Limits) -> int:
    source = (
        "import os, time\n"
        "made = 0\n"
        "for _ in range(40):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "    made += 1\n"
        "raise RuntimeError(f'forked {made} processes')\n"
    )
    result = run_python(source, limits, NO_GUARDS)
    assert result.status == "failed" and "forked" in result.detail, result
    return int(result.detail.rsplit("forked ", 1)[1].split()[0])


def test_process_count_is_limited() -> None:
    # 40 forks of sleeping children; the default limit is 32 processes for the uid.
    assert _fork_count(FAST) < 32


def test_fork_bomb_is_contained(token: str) -> None:
    limits = Limits(wall_seconds=2.0, memory_bytes=512 * MIB, processes=6)
    # Bounded probe first: with no limit in force the bomb below must not run.
    assert _fork_count(limits) <= 5
    bomb = _name_self(token) + (
        "import os, time\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        time.sleep(0.01)\n"
    )
    counts: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            counts.append(len(_processes_named(token)))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run_python(bomb, limits, NO_GUARDS)
    finally:
        done.set()
        watcher.join()
    assert result.status == "timeout" and result.seconds < 4.0, result
    assert max(counts) <= 6, max(counts)
    time.sleep(0.3)
    assert _processes_named(token) == []


def _connects(source_address: str) -> str:
    return (
        "import socket\n"
        f"s = socket.create_connection({source_address}, timeout=2)\n"
        "s.sendall(b'hello')\n"
    )


def test_no_network_even_without_guards(listener: _Listener, tmp_path: Path) -> None:
    attempts = {
        "loopback": _connects(f"('127.0.0.1', {listener.port})"),
        "outside": _connects("('192.0.2.1', 80)"),  # TEST-NET-1: no route outside a netns
    }
    for name, source in attempts.items():
        result = run_python(source, FAST, NO_GUARDS)
        assert result.status == "failed" and "Network is unreachable" in result.detail, name
    # A Unix socket on the host's file system: a network namespace does not cover it.
    path = tmp_path / "host.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    os.chmod(tmp_path, 0o777)
    os.chmod(path, 0o777)
    server.settimeout(0.5)
    try:
        source = (
            "import socket\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            f"s.connect({str(path)!r})\n"
        )
        result = run_python(source, FAST, NO_GUARDS)
        assert result.status == "failed", result
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()
    threading.Event().wait(0.3)
    assert listener.accepted == 0


def test_without_a_network_namespace_it_refuses(
    monkeypatch: pytest.MonkeyPatch, listener: _Listener
) -> None:
    # Simulate a machine where unshare fails: CLONE_PARENT is not a flag unshare takes.
    flags = getattr(sandbox_module, "_UNSHARE_FLAGS", 0)
    monkeypatch.setattr(sandbox_module, "_UNSHARE_FLAGS", flags | 0x00008000, raising=False)
    # The same situation for the sandbox before issue 15 (it probed `unshare -n` once).
    monkeypatch.setattr(sandbox_module, "_unshare_network", lambda: None, raising=False)
    with pytest.raises(Exception, match="network namespace") as refused:
        run_python(_connect_source(listener.port), FAST)
    assert type(refused.value).__name__ == "SandboxUnavailable"
    threading.Event().wait(0.3)
    assert listener.accepted == 0


def test_candidate_is_unprivileged_and_the_host_is_read_only() -> None:
    source = "import os\n"
    if os.geteuid() == 0:
        # First: where this fails (a root candidate) the writes below must not be tried.
        source += "assert os.getuid() != 0 and os.geteuid() != 0, os.getuid()\n"
    source += (
        "wrote = []\n"
        "for path in ('/etc/airgap-escape', '/var/tmp/airgap-escape', '/dev/shm/airgap-escape',\n"
        "             '/usr/airgap-escape'):\n"
        "    try:\n"
        "        with open(path, 'w') as handle:\n"
        "            handle.write('x')\n"
        "        wrote.append(path)\n"
        "        os.remove(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "assert wrote == [], wrote\n"
    )
    result = run_python(source, FAST, NO_GUARDS)
    assert result.status == "passed", result


def test_project_and_data_are_hidden() -> None:
    from benchmarks.harness.datasets import data_dir

    readme = Path(sandbox_module.__file__).resolve().parents[2] / "README.md"
    data = sorted(p for p in data_dir().iterdir() if p.is_file())
    assert readme.is_file() and data  # guards the test against vacuous paths
    for path in (readme, data[0]):
        result = run_python(f"open({str(path)!r}, 'rb').read(1)", FAST, NO_GUARDS)
        assert result.status == "failed", (path, result)
        assert "FileNotFoundError" in result.detail or "PermissionError" in result.detail
    # /run holds the host's service sockets (D-Bus, /run/user/UID...).
    assert os.listdir("/run")
    result = run_python("import os\nassert os.listdir('/run') == []", FAST, NO_GUARDS)
    assert result.status == "passed", result


def test_sandbox_sees_only_its_own_processes() -> None:
    source = (
        "import os\n"
        "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
        "assert len(pids) <= 3, pids\n"
    )
    assert run_python(source, FAST, NO_GUARDS).status == "passed"


def test_big_values_cross_the_pipe_exactly() -> None:
    # Big ints (hex on the wire), floats, strings with lone surrogates, nested containers.
    value = (
        "[3 ** 100000, -(2 ** 70000), 0.1, float('inf'), -0.0, '\\ud800x', b'\\x00\\xff',"
        " (1, [2, {3: (4,)}]), {frozenset({1}), 2}, 1 + 2j, True, None]"
    )
    payload = {
        "source": f"def add(a, b):\n    return {value}\n",
        "entry_point": "add",
        "inputs": [[1, 2]],
        "reference_source": f"def add(a, b):\n    return {value}\n",
        "time_limits": [5.0],
        "atol": 0,
    }
    result, _ = run_driver(CHECKS, "run_io", payload, FAST)
    assert result.status == "passed", result
    payload["source"] = "def add(a, b):\n    return [3 ** 100000 + 1]\n"
    payload["reference_source"] = "def add(a, b):\n    return [3 ** 100000]\n"
    result, _ = run_driver(CHECKS, "run_io", payload, FAST)
    assert result.status == "failed", result


def test_wire_decodes_plain_data_only() -> None:
    # The decoder builds only plain types: an object tag it does not know is refused.
    from benchmarks.harness import _sandbox_wire as wire

    with pytest.raises(wire.ProtocolError):
        wire.decode(json.dumps(["ok", {"#": "pickle", "v": []}]).encode())
    with pytest.raises(wire.ProtocolError):
        wire.decode(json.dumps({"status": "passed"}).encode())
    assert wire.decode(wire.encode(["ok", wire.to_wire({(1, 2): [b"x"]})])) == [
        "ok",
        {(1, 2): [b"x"]},
    ]
