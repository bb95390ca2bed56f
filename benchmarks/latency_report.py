"""Aggregation and output of the latency suite: per-configuration metrics, JSON, Markdown, PNGs.

Owns what is reported and how it is derived from the recorded requests: latency percentiles of
the first request on a new document and of requests while typing (answered ones only; a
cancelled request has no latency a user sees), the share of requests cancelled, suggestions
shown and accepted, tokens/s and draft acceptance (from `airgap/stats`, else from the
`airgap/status` notifications), typed-ahead and prefetch hit rates, and pass@1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    LatencySummary,
    RunSummary,
    markdown_table,
    percentile,
    plot_latency,
    write_json,
)
from benchmarks.harness.stats import Scalar
from benchmarks.latency_session import RequestRecord, TaskRun
from benchmarks.latency_tasks import Grade


@dataclass
class ConfigResult:
    name: str
    description: str
    runs: list[TaskRun] = field(default_factory=list)
    grades: dict[str, Grade] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    completions: list[dict[str, Any]] = field(default_factory=list)
    load_seconds: float = 0.0
    abandons: bool = False  # cancellation only drops the answer (HTTP /infill)
    model: str = ""
    error: str | None = None
    load_average: float = math.nan  # 1-minute load average when the configuration finished


PCT = ("count", "p50", "p90", "p95", "p99")
LATENCY_HEADERS: tuple[str, ...] = ("config", "first n", "first p50", "p90", "p95", "p99")
LATENCY_HEADERS += ("typing n", "typing p50", "p90", "p95", "p99")
KIND_HEADERS: tuple[str, ...] = ("config", "line n", "line p50", "p90", "p95", "p99")
KIND_HEADERS += ("body n", "body p50", "p90", "p95", "p99")
TITLES = {
    "first": "Latency of the first request on a new document",
    "typing": "Latency of requests while typing (answered)",
    "typing_line": "Latency of requests while typing, single-line tasks (answered)",
}


def _ratio(num: float | None, den: float | None) -> float:
    if num is None or not den:
        return math.nan
    return num / den


def _answered(records: Sequence[RequestRecord]) -> list[float]:
    return [
        r.latency_ms
        for r in records
        if not r.cancel_sent and not r.server_cancelled and r.error is None
    ]


def _sum(rows: Sequence[Mapping[str, Any]], key: str) -> float | None:
    values = [row.get(key) for row in rows]
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return sum(numbers) if numbers else None


def _p50(values: Sequence[float]) -> float:
    return percentile(values, 50) if values else math.nan


def first_work(first: Sequence[RequestRecord]) -> dict[str, float]:
    """What the engine did for the answered first requests that report it (p50s): prompt
    tokens evaluated (not found cached), prompt ms, tokens generated, and the share of the
    request's time spent evaluating the prompt (what a cached prompt would save)."""
    done = [
        (r.work, r.latency_ms)
        for r in first
        if r.work is not None and not r.cancel_sent and not r.server_cancelled and not r.error
    ]
    return {
        "n": len(done),
        "evaluated_p50": _p50([w.evaluated for w, _ in done]),
        "prompt_ms_p50": _p50([w.prompt_ms for w, _ in done]),
        "generated_p50": _p50([w.generated for w, _ in done]),
        "prompt_share_p50": _p50([w.prompt_ms / ms for w, ms in done if ms > 0]),
    }


def metrics(result: ConfigResult) -> dict[str, Any]:
    """Every reported number of one configuration (NaN where it does not apply)."""
    first = [r for run in result.runs for r in run.requests if r.phase == "first"]
    typing = [r for run in result.runs for r in run.requests if r.phase == "typing"]
    first_ms, typing_ms = _answered(first), _answered(typing)
    by_kind = {
        kind: _answered(
            [
                r
                for run in result.runs
                if run.kind == kind
                for r in run.requests
                if r.phase == "typing"
            ]
        )
        for kind in ("line", "body")
    }
    stats, rows = result.stats, result.completions
    # A one-token answer reports ~0 ms of prediction; it says nothing about speed.
    timed = [
        r for r in rows if (r.get("predictMs") or 0) > 0 and (r.get("generatedTokens") or 0) > 1
    ]
    generated = stats.get("generatedTokens", _sum(timed, "generatedTokens"))
    predict_ms = stats.get("predictMs", _sum(timed, "predictMs"))
    drafted = stats.get("drafted", _sum(rows, "drafted"))
    accepted = stats.get("accepted", _sum(rows, "accepted"))
    sources = [row.get("source") for row in rows]
    served = stats.get("served", len(rows) if rows else None)
    typed_ahead = stats.get("typedAheadHits", sources.count("typed-ahead") if rows else None)
    prefetch = stats.get("prefetchHits", sources.count("prefetch") if rows else None)
    kinds = {run.task_id: run.kind for run in result.runs}
    lines = [g for t, g in result.grades.items() if kinds.get(t) == "line"]
    bodies = [g for t, g in result.grades.items() if kinds.get(t) == "body"]
    shown = [r for r in typing if r.shown]
    typed = sum(run.typed_chars for run in result.runs)
    accepted_chars = sum(run.accepted_chars for run in result.runs)
    return {
        "first": asdict(LatencySummary.of(first_ms)),
        "typing": asdict(LatencySummary.of(typing_ms)),
        "first_ms": [round(v, 1) for v in first_ms],
        "first_work": first_work(first),
        "typing_ms": [round(v, 1) for v in typing_ms],
        # The typing targets are stated for single-line tasks.
        "typing_line": asdict(LatencySummary.of(by_kind["line"])),
        "typing_body": asdict(LatencySummary.of(by_kind["body"])),
        "typing_line_ms": [round(v, 1) for v in by_kind["line"]],
        "tasks": len(result.runs),
        "keystrokes": sum(run.keystrokes for run in result.runs),
        "requests": len(typing),
        "cancelled_share": _ratio(sum(r.cancel_sent for r in typing), len(typing)),
        "server_cancelled": sum(r.server_cancelled for r in first + typing),
        "errors": sum(r.error is not None for r in first + typing),
        "shown_share": _ratio(len(shown), len(typing) - sum(r.cancel_sent for r in typing)),
        "accepted_suggestions": sum(1 for r in first + typing if r.accepted_chars),
        "accepted_char_share": _ratio(accepted_chars, typed + accepted_chars),
        "tokens_per_second": _ratio(generated, (predict_ms or 0) / 1000),
        "draft_acceptance": _ratio(accepted, drafted),
        "typed_ahead_rate": _ratio(typed_ahead, served),
        "prefetch_rate": _ratio(prefetch, served),
        "pass1_line": _ratio(sum(g.base for g in lines), len(lines)),
        "pass1_base": _ratio(sum(g.base for g in bodies), len(bodies)),
        "pass1_plus": _ratio(sum(bool(g.plus) for g in bodies), len(bodies)),
        "n_line": len(lines),
        "n_body": len(bodies),
        "load_seconds": round(result.load_seconds, 1),
    }


def summary(result: ConfigResult, m: Mapping[str, Any]) -> RunSummary:
    """The harness' summary: passed = single-line checks + body base checks."""
    passed = [g.base for g in result.grades.values()]
    extra: dict[str, Scalar] = {
        k: v for k, v in m.items() if isinstance(v, (int, float, str)) or v is None
    }
    extra["error"] = result.error
    return RunSummary.of(result.name, passed, m["typing_ms"], extra=extra)


def _pct(value: float) -> float:
    return 100 * value


def tables(results: Sequence[ConfigResult], all_metrics: Sequence[Mapping[str, Any]]) -> str:
    latency_rows: list[list[Scalar]] = []
    kind_rows: list[list[Scalar]] = []
    quality_rows: list[list[Scalar]] = []
    for result, m in zip(results, all_metrics, strict=True):
        f, t = m["first"], m["typing"]
        latency_rows.append([result.name, *(f[k] for k in PCT), *(t[k] for k in PCT)])
        line, body = m["typing_line"], m["typing_body"]
        kind_rows.append([result.name, *(line[k] for k in PCT), *(body[k] for k in PCT)])
        quality_rows.append(
            [
                result.name,
                m["requests"],
                _pct(m["cancelled_share"]),
                _pct(m["shown_share"]),
                m["accepted_suggestions"],
                _pct(m["accepted_char_share"]),
                m["tokens_per_second"],
                _pct(m["draft_acceptance"]),
                _pct(m["typed_ahead_rate"]),
                _pct(m["prefetch_rate"]),
                _pct(m["pass1_line"]),
                _pct(m["pass1_base"]),
                _pct(m["pass1_plus"]),
            ]
        )
    latency = markdown_table(
        LATENCY_HEADERS,
        latency_rows,
    )
    by_kind = markdown_table(
        KIND_HEADERS,
        kind_rows,
    )
    quality = markdown_table(
        [
            "config",
            "typing requests",
            "cancelled %",
            "shown %",
            "accepted",
            "chars accepted %",
            "tok/s",
            "draft acc. %",
            "typed-ahead %",
            "prefetch %",
            "pass@1 line %",
            "pass@1 base %",
            "pass@1 plus %",
        ],
        quality_rows,
    )
    return (
        "## Latency (ms, answered requests only)\n\n"
        + latency
        + "\n## Typing latency by task kind (ms, answered requests only)\n\n"
        + by_kind
        + "\n## Typing, throughput, quality\n\n"
        + quality
        + work_table(results, all_metrics)
        + memory_table(results)
    )


def work_table(results: Sequence[ConfigResult], all_metrics: Sequence[Mapping[str, Any]]) -> str:
    """The engine's work behind the first requests, as each server reports it (our
    `airgap/status` timings, llama-server's `timings`): where the first-request time goes."""
    rows: list[list[Scalar]] = [
        [
            r.name,
            w["n"],
            w["evaluated_p50"],
            round(w["prompt_ms_p50"], 1),
            w["generated_p50"],
            _pct(w["prompt_share_p50"]),
        ]
        for r, m in zip(results, all_metrics, strict=True)
        if (w := m["first_work"])["n"]
    ]
    if not rows:
        return ""
    headers = [
        "config",
        "first requests reported",
        "prompt tokens evaluated p50",
        "prompt ms p50",
        "generated p50",
        "prompt share of the time p50 %",
    ]
    return (
        "\n## First requests: the engine's work (as each server reports it)\n\n"
        "Prompt tokens evaluated are those not found cached (llama-server's `prompt_n`; ours: "
        "prompt tokens less reused ones). An answer served from memory, or by a run that "
        "started before the request (the pre-warm at a resting cursor), reports no work of "
        "its own.\n\n" + markdown_table(headers, rows)
    )


MB = 1 << 20


def memory_table(results: Sequence[ConfigResult]) -> str:
    """The KV memory of cached documents at the end of each configuration's run (our server's
    `airgap/stats`; nothing for a server that does not report it)."""
    rows: list[list[Scalar]] = [
        [
            r.name,
            r.stats["cachedSequences"],
            r.stats["cachedTokens"],
            round(r.stats["kvHeldBytes"] / MB, 1),
            round(r.stats["kvAllocatedBytes"] / MB, 1),
        ]
        for r in results
        if "kvAllocatedBytes" in r.stats
    ]
    if not rows:
        return ""
    headers = ["config", "cached documents", "cached tokens", "KV held MB", "KV set aside MB"]
    return (
        "\n## KV memory of cached documents (end of the run, `airgap/stats`)\n\n"
        + markdown_table(headers, rows)
    )


_ORDERS = {"file": "the first of each set in file order", "spread": "spread over each set"}


def notes(results: Sequence[ConfigResult], meta: Mapping[str, Any]) -> str:
    lines = [
        f"- {meta['n_line']} single-line infilling tasks, {meta['n_body']} HumanEval+ bodies "
        f"({_ORDERS.get(meta.get('order', ''), 'spread over each set')}); "
        f"typing {meta['chars_per_second']} chars/s (log-normal jitter {meta['jitter']}; "
        f"a ~{meta['pause_s']} s pause after {100 * meta['pause_prob']:.0f}% of words; "
        f"seed {meta['seed']}), debounce {meta['debounce_ms']} ms.",
        "- first = the request right after didOpen at the task's cursor (also graded for "
        "pass@1); typing = requests sent while the user types (debounced, cancelled by the "
        "next keystroke).",
        *(
            [
                "- (realistic) = the same configuration, first requests only, asked as a user "
                f"does: the file is read {meta['read_s'][0]:g}-{meta['read_s'][1]:g} s after "
                "opening, the cursor moves to the task's place and rests there "
                f"{meta['rest_s'][0]:g}-{meta['rest_s'][1]:g} s (seeded per task), then the "
                "client asks. While it rests, airgap-lsp's clients send `airgap/cursor`; for "
                "llama-server the transport sends llama.vim's own warm-up (its ring-buffer "
                "request with `n_predict: 0`)."
            ]
            if "realistic" in meta.get("scenarios", ())
            else []
        ),
        *(
            [
                "- (same file) = the same configuration and protocol, but the tasks cut from one "
                "HumanEval problem open that problem's file (one path) instead of a file named "
                "after the task: a user reopening a file. llama-server's prompt names no file, "
                "so for it the two are the same."
            ]
            if "same-file" in meta.get("scenarios", ())
            else []
        ),
        f"- Server code at {meta.get('revision') or 'unknown revision'}; finished "
        f"{meta.get('finished', '')}.",
        "- Shared 2-core machine: latencies include load from other processes (1-minute load "
        "average at the end of each configuration: "
        + ", ".join(f"{r.name} {r.load_average:.1f}" for r in results)
        + ").",
    ]
    for result in results:
        if result.abandons:
            lines.append(
                f"- {result.name}: cancellation abandons the HTTP request: the answer is "
                "dropped and the connection closed (llama-server then stops the task, as when "
                "llama.vim kills its curl job)."
            )
        if result.error:
            lines.append(f"- {result.name}: failed: {result.error}")
    return "\n".join(lines) + "\n"


def write(
    results: Sequence[ConfigResult], results_dir: Path, stem: str, meta: Mapping[str, Any]
) -> dict[str, Path]:
    """`<stem>.json`, `<stem>.md` and the plots `<stem>_first.png`, `<stem>_typing.png`,
    `<stem>_typing_line.png`."""
    all_metrics = [metrics(r) for r in results]
    summaries = [summary(r, m) for r, m in zip(results, all_metrics, strict=True)]
    detail = {
        r.name: {
            "description": r.description,
            "model": r.model,
            "error": r.error,
            "abandons": r.abandons,
            "stats": r.stats,
            "load_average": r.load_average,
            "metrics": m,
            "completions": r.completions,
            "tasks": [
                {
                    "task_id": run.task_id,
                    "kind": run.kind,
                    "first_suggestion": run.first_suggestion,
                    "pass_base": r.grades[run.task_id].base if run.task_id in r.grades else None,
                    "pass_plus": r.grades[run.task_id].plus if run.task_id in r.grades else None,
                    "keystrokes": run.keystrokes,
                    "requests": len(run.requests),
                    "accepted_chars": run.accepted_chars,
                    "seconds": round(run.seconds, 2),
                    "request_log": [
                        [
                            q.phase,
                            round(q.latency_ms, 1),
                            q.cancel_sent,
                            q.server_cancelled,
                            q.shown,
                            q.accepted_chars,
                        ]
                        for q in run.requests
                    ],
                }
                for run in r.runs
            ],
        }
        for r, m in zip(results, all_metrics, strict=True)
    }
    paths = {
        "json": write_json(summaries, results_dir / f"{stem}.json", {**meta, "configs": detail})
    }
    md = results_dir / f"{stem}.md"
    md.write_text(f"# Latency suite\n\n{notes(results, meta)}\n{tables(results, all_metrics)}")
    paths["md"] = md
    for phase in ("first", "typing", "typing_line"):
        paths[f"png_{phase}"] = plot_latency(
            {r.name: m[f"{phase}_ms"] for r, m in zip(results, all_metrics, strict=True)},
            results_dir / f"{stem}_{phase}.png",
            title=TITLES[phase],
        )
    return paths
