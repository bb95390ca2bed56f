"""The installed distribution claims one top-level name, `airgap_lsp`.

`lsp/`, `completion/` and `context/` stay at the top of the repository but are installed as
`airgap_lsp.lsp`, `airgap_lsp.completion` and `airgap_lsp.context`. The wheel is built and
installed into a clean virtual environment that already holds a user's own package called
`context`; the command line must work there (help and a completion on the fake backend) and
the user's `context` must be untouched.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lsp", "completion", "context")


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kw)


def test_no_module_imports_the_old_top_level_names():
    """Every import of the project's code names the distribution namespace."""
    offenders = []
    for folder in ("lsp", "completion", "context", "airgap_lsp", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if folder != "airgap_lsp" and path.is_symlink():
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {n}"
                    for n in names
                    if n.split(".")[0] in PACKAGES
                ]
    assert offenders == []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # A copy of what the wheel is built from: setuptools builds in the source tree (build/).
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in (*PACKAGES, "airgap_lsp"):
        shutil.copytree(
            ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)])
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = out.glob("airgap_lsp-*.whl")
    return path


def test_the_wheel_holds_only_the_airgap_lsp_namespace(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {
        "airgap_lsp",
        f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info",
    }
    for package in PACKAGES:
        assert f"airgap_lsp/{package}/__init__.py" in names
    assert "airgap_lsp/lsp/cli.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "airgap-lsp = airgap_lsp.lsp.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_wheel_in_a_clean_venv_beside_a_users_context_package(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    # The user's own package, installed before airgap-lsp.
    (site / "context").mkdir(parents=True)
    (site / "context" / "__init__.py").write_text("OWNER = 'the user'\n")
    # airgap-lsp's dependencies come from the development environment, which is appended after
    # the clean venv's own site-packages (a plain path: its .pth files, among them the editable
    # install of this checkout, are not processed).
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "--python"]
    installed = _run([*pip, str(python), "install", "--no-deps", "--no-index", str(wheel)])
    assert installed.returncode == 0, installed.stderr[-3000:]

    # Away from the checkout, so that nothing resolves to its folders.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"AIRGAP_LSP_FAKE_BACKEND": "1", "HOME": str(tmp_path), "PYTHONNOUSERSITE": "1"}
    where = _run(
        [
            str(python),
            "-c",
            "import airgap_lsp.lsp.cli as c, context; print(c.__file__, context.OWNER)",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.split() == [str(site / "airgap_lsp" / "lsp" / "cli.py"), "the", "user"]

    command = venv / "bin" / "airgap-lsp"
    helped = _run([str(command), "--help"], cwd=tmp_path, env=env)
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout

    source = tmp_path / "add.py"
    source.write_text("def add(a, b):\n\n")
    done = _run(
        [str(command), "complete", str(source), "2", "1", "--json"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["suggestion"].startswith("return 42"), done.stdout
    # The user's package is still theirs.
    assert (site / "context" / "__init__.py").read_text() == "OWNER = 'the user'\n"
