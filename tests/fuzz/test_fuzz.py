"""Time-boxed fuzzing of the real server over stdio (fixed seed, tiny generated model).

Sessions start for 35 s; the last one then waits for its answers and shuts down, and nothing
waits past 60 s. Any failure of any oracle (see tests/fuzz/session.py) fails the test, with
the seed that replays it and a trace of what was sent. The long run is
`python -m benchmarks.robustness --minutes N`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.runner import make_model, make_workspace, run_fuzz

SEED = 1300
SECONDS = 35.0
HARD_SECONDS = 60.0


def test_fuzzing_the_server_finds_nothing(tmp_path: Path):
    for name in ("model", "workspace", "logs"):
        (tmp_path / name).mkdir()
    model = make_model(tmp_path / "model")
    workspace = make_workspace(tmp_path / "workspace")
    report = run_fuzz(SECONDS, SEED, model, workspace, tmp_path / "logs", hard_seconds=HARD_SECONDS)
    print(report.describe())
    assert report.sessions >= 1 and report.messages > 100, report.describe()
    # The engine's process was killed mid-session (as a segfault or the OOM killer would):
    # the one-answer-per-request oracle covered its deaths too.
    assert any(k.startswith("kill_engine") for k in report.kinds()), report.kinds()
    if report.failures:
        pytest.fail(report.describe(), pytrace=False)
