"""Summaries of benchmark runs: latency percentiles, pass rates, and their JSON/Markdown files.

Percentiles use linear interpolation between closest ranks (Hyndman & Fan type 7, the
default of numpy.percentile and of R): for sorted samples x[0..n-1] and q in [0, 100],
h = (n - 1) * q / 100 and p = x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
So p50 of [1, 2, 3, 4] is 2.5, and p0 / p100 are the minimum / maximum.
Latencies are unit-agnostic; benchmarks record milliseconds by convention.

`plot_latency` and `Progress` live in `plot.py` and `progress.py` and are re-exported here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .plot import plot_latency
from .progress import Progress

Scalar = int | float | str | bool | None


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0 <= q <= 100) by linear interpolation; see the module docstring."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside [0, 100]")
    ordered = sorted(samples)
    h = (len(ordered) - 1) * q / 100
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


@dataclass(frozen=True)
class LatencySummary:
    count: int
    mean: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> LatencySummary:
        if not samples:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan, nan, nan)
        return cls(
            count=len(samples),
            mean=sum(samples) / len(samples),
            min=min(samples),
            p50=percentile(samples, 50),
            p90=percentile(samples, 90),
            p95=percentile(samples, 95),
            p99=percentile(samples, 99),
            max=max(samples),
        )


@dataclass(frozen=True)
class RunSummary:
    """One configuration's outcome: pass counts, latency summary, and free-form extras."""

    name: str
    total: int
    passed: int
    latency: LatencySummary
    unit: str = "ms"
    extra: Mapping[str, Scalar] = field(default_factory=dict)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else float("nan")

    @classmethod
    def of(
        cls,
        name: str,
        passed: Sequence[bool],
        latencies: Sequence[float],
        unit: str = "ms",
        extra: Mapping[str, Scalar] | None = None,
    ) -> RunSummary:
        return cls(
            name=name,
            total=len(passed),
            passed=sum(1 for p in passed if p),
            latency=LatencySummary.of(latencies),
            unit=unit,
            extra=dict(extra or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["extra"] = dict(self.extra)
        data["pass_rate"] = self.pass_rate
        return data


def _json_safe(value: Any) -> Any:
    # JSON has no NaN/Infinity; null keeps files loadable by strict parsers.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(
    summaries: Sequence[RunSummary], path: Path, meta: Mapping[str, Any] | None = None
) -> Path:
    payload = {"meta": dict(meta or {}), "runs": [s.to_dict() for s in summaries]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(payload), indent=2, sort_keys=False) + "\n")
    return path


def _cell(value: Scalar) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.1f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"
    return str(value).replace("|", "\\|")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Scalar]]) -> str:
    numeric = [
        all(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in rows)
        for i in range(len(headers))
    ]
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---:" if n and rows else "---" for n in numeric) + " |",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def summary_table(summaries: Sequence[RunSummary]) -> str:
    unit = summaries[0].unit if summaries else "ms"
    headers = ["config", "passed", "total", "pass %"] + [
        f"{p} ({unit})" for p in ("p50", "p90", "p95", "p99", "max")
    ]
    rows: list[list[Scalar]] = [
        [
            s.name,
            s.passed,
            s.total,
            100 * s.pass_rate,
            s.latency.p50,
            s.latency.p90,
            s.latency.p95,
            s.latency.p99,
            s.latency.max,
        ]
        for s in summaries
    ]
    return markdown_table(headers, rows)


def write_markdown(summaries: Sequence[RunSummary], path: Path, title: str = "Results") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n\n{summary_table(summaries)}")
    return path


def write_results(
    summaries: Sequence[RunSummary],
    results_dir: Path,
    stem: str,
    title: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """`<results_dir>/<stem>.json` and `<results_dir>/<stem>.md`."""
    json_path = write_json(summaries, results_dir / f"{stem}.json", meta)
    md_path = write_markdown(summaries, results_dir / f"{stem}.md", title or stem)
    return json_path, md_path


__all__ = [
    "LatencySummary",
    "Progress",
    "RunSummary",
    "markdown_table",
    "percentile",
    "plot_latency",
    "summary_table",
    "write_json",
    "write_markdown",
    "write_results",
]
