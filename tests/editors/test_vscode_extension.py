"""VS Code extension: install, compile, lint, unit tests and packaging.

Owns: running editors/vscode/ci.sh (npm ci, tsc + esbuild, eslint, node --test,
vsce package) and checking that it produced a .vsix with the bundled extension.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from editors_harness import REPO

VSCODE = REPO / "editors" / "vscode"


def _server_env() -> dict[str, str]:
    """Lets the extension's server integration test (test/server.test.ts) find airgap-lsp."""
    env = dict(os.environ)
    beside_python = Path(sys.executable).parent / "airgap-lsp"
    missing = "AIRGAP_LSP_CMD" not in env and shutil.which("airgap-lsp") is None
    if missing and beside_python.is_file():
        env["AIRGAP_LSP_CMD"] = shlex.join([str(beside_python), "serve"])
    return env


def test_vscode_extension_ci():
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm/node not installed (the extension needs Node 20 and npm)")
    env = _server_env()
    proc = subprocess.run(
        ["bash", str(VSCODE / "ci.sh")],
        cwd=VSCODE,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, output
    assert "# fail 0" in proc.stdout, output
    if "AIRGAP_LSP_CMD" in env or shutil.which("airgap-lsp"):
        # The server integration test must have run, not been skipped.
        assert "# skipped 0" in proc.stdout, output
    vsix = sorted(VSCODE.glob("*.vsix"))
    assert vsix, f"no .vsix produced\n{output}"
    with zipfile.ZipFile(vsix[-1]) as z:
        names = set(z.namelist())
    assert "extension/out/extension.js" in names, names
    assert "extension/package.json" in names, names
    assert not any("node_modules" in n for n in names), "runtime deps must be bundled"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_the_extension_declares_the_servers_defaults():
    """A VS Code user who changes nothing gets the server's defaults, not other numbers."""
    import dataclasses
    import json

    from completion.settings import Settings

    declared = json.loads((VSCODE / "package.json").read_text())["contributes"]["configuration"]
    properties = declared["properties"]
    compared = 0
    defaults = Settings()
    for section in ("models", "completion", "log"):
        group = getattr(defaults, section)
        for f in dataclasses.fields(group):
            key = f"airgap.{section}.{_camel(f.name)}"
            if key not in properties:
                continue
            value = getattr(group, f.name)
            expected = list(value) if isinstance(value, tuple) else value
            assert properties[key]["default"] == expected, key
            compared += 1
    assert compared >= 12
