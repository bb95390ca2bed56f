"""`serve --tcp` listens on loopback only unless --allow-remote: the protocol has no
authentication, and whoever reaches the port can read the code the editor sends."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from airgap_lsp.lsp.cli import is_loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com", ""])
def test_serve_refuses_a_non_loopback_host(host: str):
    port = str(_free_port())
    try:
        done = subprocess.run(
            [sys.executable, "-m", "airgap_lsp.lsp", "serve", "--tcp", port, "--host", host],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server listened on {host!r}")
    assert done.returncode == 2
    assert f"refusing to listen on {host}" in done.stderr
    assert "--allow-remote" in done.stderr
    assert done.stdout == ""


def test_loopback_addresses():
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.example.com", ""):
        assert not is_loopback(host), host
