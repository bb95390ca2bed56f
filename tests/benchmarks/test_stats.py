"""Percentiles, summaries, the JSON/Markdown writers, the latency plot and the progress line."""

from __future__ import annotations

import io
import json
import math
import random
from pathlib import Path

import pytest

from benchmarks.harness import (
    LatencySummary,
    Progress,
    RunSummary,
    markdown_table,
    percentile,
    plot_latency,
    write_results,
)


def test_percentile_linear_interpolation() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 0) == 1
    assert percentile([4, 1, 3, 2], 100) == 4
    assert percentile([7], 99) == 7
    samples = list(range(1, 101))  # 1..100
    assert percentile(samples, 90) == pytest.approx(90.1)
    assert percentile(samples, 95) == pytest.approx(95.05)
    assert percentile(samples, 99) == pytest.approx(99.01)
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_latency_summary() -> None:
    summary = LatencySummary.of([10.0, 20.0, 30.0, 40.0, 50.0])
    assert (summary.count, summary.mean, summary.min, summary.max) == (5, 30.0, 10.0, 50.0)
    assert (summary.p50, summary.p90) == (30.0, 46.0)
    assert math.isnan(LatencySummary.of([]).p50)


def test_writers(tmp_path: Path) -> None:
    runs = [
        RunSummary.of("greedy", [True, False, True, True], [100.0, 120.0, 130.0, 400.0]),
        RunSummary.of("no-context", [], [], extra={"note": "empty"}),
    ]
    assert runs[0].pass_rate == 0.75
    json_path, md_path = write_results(runs, tmp_path / "results", "demo", meta={"model": "m"})
    data = json.loads(json_path.read_text())
    assert data["meta"] == {"model": "m"}
    assert data["runs"][0]["passed"] == 3 and data["runs"][0]["pass_rate"] == 0.75
    assert data["runs"][0]["latency"]["p50"] == 125.0
    assert data["runs"][1]["latency"]["p50"] is None  # NaN is not JSON
    md = md_path.read_text()
    assert md.startswith("# demo\n")
    assert "| config | passed | total | pass % | p50 (ms) |" in md
    assert "| greedy | 3 | 4 | 75.0 | 125.0 |" in md
    assert "| no-context | 0 | 0 | - | - |" in md


def test_markdown_table_escapes_and_aligns() -> None:
    table = markdown_table(["name", "n"], [["a|b", 1], ["c", 2]])
    assert table.splitlines() == ["| name | n |", "| --- | ---: |", "| a\\|b | 1 |", "| c | 2 |"]


def test_plot_latency_writes_png(tmp_path: Path) -> None:
    rng = random.Random(0)
    distributions = {
        "small model": [rng.lognormvariate(4.5, 0.4) for _ in range(300)],
        "large model": [rng.lognormvariate(5.5, 0.5) for _ in range(300)],
        "empty": [],
    }
    path = plot_latency(distributions, tmp_path / "plots" / "latency.png", title="Completion")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_progress_to_a_log() -> None:
    stream = io.StringIO()
    with Progress(3, "eval", stream, log_interval=0.0) as progress:
        progress.advance(status="HumanEval/0 passed")
        progress.advance()
        progress.advance(status="done")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("eval [########................] 1/3 elapsed 00:00 ETA ")
    assert lines[0].endswith("HumanEval/0 passed")
    assert lines[-1].startswith("eval [########################] 3/3") and "ETA 00:00" in lines[-1]
