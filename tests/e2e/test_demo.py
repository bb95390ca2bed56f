"""`airgap-lsp demo` end to end on the fake backend: the three asks it shows (cold, while
typing, and at a place where the cursor rested first) each print their line."""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.lsp_helpers import server_env


def test_the_demo_shows_a_cold_a_typed_and_a_pre_warmed_suggestion(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "airgap_lsp.lsp", "demo"],
        cwd=tmp_path,
        env=server_env(AIRGAP_LSP_FAKE_BACKEND="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "first request:" in out.stdout
    assert "after typing" in out.stdout
    warm = [ln for ln in out.stdout.splitlines() if "pre-warmed" in ln]
    assert warm and "no suggestion" not in warm[0], out.stdout
