"""Offline proof: a whole session in a network namespace with no interfaces, under an audit
hook that refuses every Python-level network attempt, makes 0 attempts; the compiled llama.cpp
libraries link no curl or TLS library and import no socket function.

Skipped, loudly, only where the kernel refuses `unshare -rn` (then the audited session still
runs, outside a namespace, so the 0-attempts check is never skipped).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from tests.fuzz.runner import make_model
from tests.offline.proof import (
    llama_libraries,
    make_workspace,
    network_namespace_available,
    no_route_in_namespace,
    run_offline_session,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux namespaces and readelf")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("offline")
    for name in ("model", "workspace", "logs"):
        (base / name).mkdir()
    ok, why = network_namespace_available()
    if not ok:
        warnings.warn(f"OFFLINE PROOF WITHOUT A NETWORK NAMESPACE: {why}", stacklevel=1)
    model = make_model(base / "model")
    result = run_offline_session(
        str(model), make_workspace(base / "workspace"), base / "logs", use_namespace=ok
    )
    return result, ok, why


def test_the_namespace_has_no_route_out():
    ok, why = network_namespace_available()
    if not ok:
        pytest.skip(f"NO NETWORK NAMESPACE ON THIS KERNEL: {why}")
    assert no_route_in_namespace() == "OSError 101"  # ENETUNREACH


def test_a_whole_session_makes_no_network_attempt(session):
    result, _ok, _why = session
    assert result.connections == 0, result.attempts
    assert result.errors == [], result.errors
    assert result.exit_status == 0
    for method in (
        "initialize",
        "textDocument/inlineCompletion",
        "textDocument/completion",
        "textDocument/codeAction",
        "codeAction/resolve",
        "workspace/executeCommand",
        "shutdown",
    ):
        assert method in result.responses, sorted(result.responses)
    # Every action was listed and run: fix, docstring and tests resolve; explain and rewrite
    # run as commands.
    assert len(result.responses["codeAction/resolve"]) == 3
    assert len(result.responses["workspace/executeCommand"]) == 2
    assert result.reloaded, "the configuration change did not reload the model"


def test_the_workspace_was_indexed_during_the_session(session):
    result, _ok, _why = session
    names = {Path(p).name for p in result.indexed_files}
    assert {"helpers.py", "util.py"} <= names, result.indexed_files


def test_the_session_ran_in_a_network_namespace(session):
    _result, ok, why = session
    if not ok:
        pytest.skip(f"NO NETWORK NAMESPACE ON THIS KERNEL: {why}")
    assert session[0].namespace


def test_the_audit_hook_refuses_and_records_a_connection(tmp_path: Path):
    """The hook is not a no-op: a connection attempt under it is refused and logged."""
    import json
    import os
    import subprocess

    log = tmp_path / "audit.jsonl"
    code = (
        "import socket, sys\n"
        "from tests.offline.audited import install\n"
        f"install({str(log)!r}, None)\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 9), timeout=1)\n"
        "except PermissionError as e:\n"
        "    print('refused', e)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert out.stdout.startswith("refused"), out.stderr
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events and events[0] in ("socket.getaddrinfo", "socket.connect")


def test_llama_cpp_links_no_network_library():
    libraries = llama_libraries()
    assert "libllama.so" in libraries, sorted(libraries)
    for name, info in libraries.items():
        assert info["networkLibraries"] == [], (name, info["needed"])
        assert info["networkSymbols"] == [], (name, info["networkSymbols"])
