"""The sandbox: verdicts, time and memory limits, network and file-system isolation."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from benchmarks.harness import Isolation, Limits, run_python
from benchmarks.harness.sandbox import MIB, network_namespace_available

FAST = Limits(wall_seconds=5.0, memory_bytes=512 * MIB)


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
