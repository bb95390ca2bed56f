"""`airgap-lsp complete PATH LINE COL` counts lines as the editor and the server do: only `\\n`,
`\\r\\n` and `\\r` end a line (lsp/positions.py), so a form feed or U+2028 stays inside its line.

Runs the command with the fake backend (no model): it answers a blank line before the cursor
with `return 42 ...` and anything else with ` # airgap`, which shows where the cursor landed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.lsp_helpers import server_env


def _complete(path: Path, line: int, col: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "airgap_lsp.lsp",
            "complete",
            str(path),
            str(line),
            str(col),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=server_env(AIRGAP_LSP_FAKE_BACKEND="1"),
    )


def test_a_form_feed_does_not_start_a_line(tmp_path: Path):
    path = tmp_path / "f.py"
    # One LSP line ("x = 1\f    " and its "\n"), then the empty last line.
    path.write_bytes(b"x = 1\f    \n")
    done = _complete(path, 2, 5)
    assert done.returncode == 0, done.stderr
    # The cursor is on the empty second line (str.splitlines put it after "x = 1\f    ").
    assert json.loads(done.stdout)["suggestion"].startswith("return 42"), done.stdout


def test_lines_past_the_end_are_counted_with_lsp_line_ends(tmp_path: Path):
    path = tmp_path / "u.py"
    path.write_text("a = 1\u2028b = 2\x85c = 3\n", encoding="utf-8")  # one line, then ""
    assert _complete(path, 2, 1).returncode == 0
    done = _complete(path, 3, 1)
    assert done.returncode == 2
    assert "line 3 is outside 1..2" in done.stderr
