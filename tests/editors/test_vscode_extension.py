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

    from airgap_lsp.completion.settings import Settings

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


def _declared() -> dict:
    import json

    return json.loads((VSCODE / "package.json").read_text())["contributes"]["configuration"][
        "properties"
    ]


def test_the_extension_declares_every_model_setting_discovery_reads():
    """`models.searchPaths` can be set in VS Code (with target and draft, whose default is
    `auto`), and every setting that names a model file, a program or the log file is a machine
    setting: a workspace's .vscode/settings.json cannot point the server's GGUF parser at a
    crafted file or start another program."""
    properties = _declared()
    search = properties.get("airgap.models.searchPaths")
    assert search is not None, "airgap.models.searchPaths is not declared"
    assert search["type"] == "array" and search["items"] == {"type": "string"}
    assert search["default"] == []
    for key in ("target", "draft"):
        assert properties[f"airgap.models.{key}"]["default"] == "auto"
    machine = [
        "airgap.models.target",
        "airgap.models.draft",
        "airgap.models.searchPaths",
        "airgap.server.command",
        "airgap.server.pythonPath",
        "airgap.server.extraArgs",
        "airgap.log.file",
    ]
    assert {k: properties[k].get("scope") for k in machine} == dict.fromkeys(machine, "machine")


def test_a_workspace_cannot_set_any_model_setting():
    """Every `airgap.models.*` setting is a machine setting (issue 15): a workspace's
    .vscode/settings.json can neither name the files the server loads nor size the memory and
    threads it takes ('machine-overridable' would let the workspace override them)."""
    properties = _declared()
    models = sorted(key for key in properties if key.startswith("airgap.models."))
    assert len(models) >= 6, models
    assert {k: properties[k].get("scope") for k in models} == dict.fromkeys(models, "machine")


def test_the_extension_declares_the_servers_ranges():
    """An integer the settings UI accepts is one the server accepts (gpuLayers -1 was offered
    as 'all' and refused by the server)."""
    from airgap_lsp.lsp.options import BOUNDS

    properties = _declared()
    compared = 0
    for (section, field), (low, high) in BOUNDS.items():
        declared = properties.get(f"airgap.{section}.{_camel(field)}")
        if declared is None:
            continue
        assert (declared.get("minimum"), declared.get("maximum")) == (low, high), field
        compared += 1
    assert compared >= 7
