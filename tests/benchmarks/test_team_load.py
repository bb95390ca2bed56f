"""The multi-user load benchmark's plumbing against the fake backend (no model, no engine): N
developers, each their own language server, typing at once; rounds, report files, plot."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from benchmarks import team_load


def test_rounds_of_developers_against_the_fake_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRGAP_LSP_FAKE_BACKEND", "1")
    monkeypatch.setenv("AIRGAP_LSP_FAKE_DELAY_MS", "100")
    args = ["--quick", "--users", "1", "2", "--backends", "local", "--max-chars", "12"]
    args += ["--stagger-s", "0.2", "--completion", '{"maxPromptMs": 0}']
    plan = team_load.plan_from(team_load.parse_args([*args, "--results-dir", str(tmp_path)]))
    assert len({t.task_id for t in plan.tasks}) == 2  # every developer a task of their own
    assert team_load.options("local", 2, completion=plan.completion) == {
        "models": {"threads": max(1, team_load.cores() // 2)},
        "completion": {"maxPromptMs": 0},
    }
    rounds, paths = asyncio.run(team_load.run(plan))
    assert [(r.backend, r.users, r.result.error) for r in rounds] == [
        ("local", 1, None),
        ("local", 2, None),
    ]
    assert [len(r.result.runs) for r in rounds] == [1, 2]  # one task per developer
    data = json.loads(paths["json"].read_text())
    one, two = data["meta"]["rounds"]
    assert one["first"]["count"] == 1 and two["first"]["count"] == 2
    assert all(v >= 90 for v in two["first_ms"])  # the fake backend's 100 ms delay
    assert two["answered"] + two["cancelled"] <= two["requests"] and two["answered"] >= 2
    assert two["peak_rss_mb"] > 0
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    assert "| local | 2 |" in paths["md"].read_text()
