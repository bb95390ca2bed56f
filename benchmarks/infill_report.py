"""Reports of the real-code infilling benchmark: aggregates, JSON, Markdown and a plot.

Owns turning per-task records into figures: for every split (held-out quarter and tuning set
apart, and all), overall, per hole kind and per language, each configuration's exact match,
edit similarity, parse rate, empty rate and first-request latency. A record is a dict with the
task's fields (`task_id`, `language`, `kind`, `split`, ...) and `configs`: configuration name
-> {exact, edit_similarity, parses, empty, latency_ms, ...}. A benchmark with a metric of its
own (`infill_tested`'s `pass`) names it in `extra`: a percentage of the outcomes where it is true,
added to every group's figures, and given to the tables, the delta table and the plot.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness.stats import markdown_table, percentile

SPLITS = ("heldout", "tuning", "all")
SPLIT_TITLES = {
    "heldout": "Held-out quarter (kept out of every tuning decision)",
    "tuning": "Tuning set",
    "all": "All tasks",
}


@dataclass(frozen=True)
class Figures:
    n: int
    exact: float  # percentages
    starts: float
    edit_similarity: float
    parses: float
    empty: float
    p50_ms: float
    p95_ms: float
    errors: int = 0

    @classmethod
    def of(cls, outcomes: Sequence[Mapping[str, Any]]) -> Figures:
        n = len(outcomes)
        if not n:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan, nan, nan)

        def pct(key: str) -> float:
            return 100 * sum(bool(o[key]) for o in outcomes) / n

        latencies = [o["latency_ms"] for o in outcomes if o.get("latency_ms") is not None]
        return cls(
            n=n,
            exact=pct("exact"),
            starts=pct("starts"),
            edit_similarity=100 * sum(o["edit_similarity"] for o in outcomes) / n,
            parses=pct("parses"),
            empty=pct("empty"),
            p50_ms=percentile(latencies, 50) if latencies else float("nan"),
            p95_ms=percentile(latencies, 95) if latencies else float("nan"),
            errors=sum(1 for o in outcomes if o.get("error")),
        )


def _in_split(records: Sequence[Mapping[str, Any]], split: str) -> list[Mapping[str, Any]]:
    return [r for r in records if split == "all" or r["split"] == split]


def aggregate(
    records: Sequence[Mapping[str, Any]], configs: Sequence[str], extra: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """split -> {"overall": {config: Figures}, "kind": {kind: {config: Figures}},
    "language": {language: {config: Figures}}} (Figures as dicts, with the `extra` metrics:
    the percentage of outcomes where each is true)."""
    out: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        chosen = _in_split(records, split)
        section: dict[str, Any] = {
            "overall": {c: _figures(chosen, c, extra) for c in configs},
        }
        for field in ("kind", "language"):
            values = list(dict.fromkeys(r[field] for r in chosen))
            section[field] = {
                v: {c: _figures([r for r in chosen if r[field] == v], c, extra) for c in configs}
                for v in values
            }
        out[split] = section
    return out


def _figures(
    records: Sequence[Mapping[str, Any]], config: str, extra: Sequence[str] = ()
) -> dict[str, Any]:
    outcomes = [r["configs"][config] for r in records if config in r["configs"]]
    figures = asdict(Figures.of(outcomes))
    for key in extra:
        n = len(outcomes)
        figures[key] = 100 * sum(bool(o.get(key)) for o in outcomes) / n if n else float("nan")
    return figures


METRICS = (
    ("exact", "exact %"),
    ("starts", "starts %"),
    ("edit_similarity", "edit sim %"),
    ("parses", "parses %"),
    ("empty", "empty %"),
    ("p50_ms", "p50 ms"),
    ("p95_ms", "p95 ms"),
)


DELTAS = (
    ("exact", "exact Δ"),
    ("starts", "starts Δ"),
    ("edit_similarity", "edit sim Δ"),
    ("parses", "parses Δ"),
    ("empty", "empty Δ"),
)


def _table(
    groups: Mapping[str, Mapping[str, Mapping[str, Any]]],
    configs: Sequence[str],
    metrics: Sequence[tuple[str, str]] = METRICS,
) -> str:
    """One row per group, each metric's column repeated per configuration."""
    headers = ["", "n"] + [f"{label} {c}" for _, label in metrics for c in configs]
    rows = []
    for name, by_config in groups.items():
        n = max((by_config[c]["n"] for c in configs if c in by_config), default=0)
        row: list[Any] = [name, n]
        for key, _ in metrics:
            row += [by_config[c][key] for c in configs]
        rows.append(row)
    return markdown_table(headers, rows)


def _delta_table(
    summary: Mapping[str, Any],
    configs: Sequence[str],
    deltas: Sequence[tuple[str, str]] = DELTAS,
    fields: Sequence[str] = ("kind", "language"),
) -> str:
    """First configuration minus the second, per split and group, in points."""
    a, b = configs[0], configs[1]
    headers = ["split", "group", "n"] + [label for _, label in deltas]
    prefixes = {"kind": "kind", "language": "lang"}
    rows: list[list[Any]] = []
    for split in SPLITS:
        section = summary[split]
        groups = {"overall": section["overall"]}
        for field in fields:
            groups.update({f"{prefixes[field]} {k}": v for k, v in section[field].items()})
        for name, figs in groups.items():
            fa, fb = figs[a], figs[b]
            rows.append([split, name, fa["n"]] + [fa[k] - fb[k] for k, _ in deltas])
    return markdown_table(headers, rows)


def configurations(configs: Sequence[str], meta: Mapping[str, Any]) -> str:
    """The sentence naming each configuration with its description."""
    descriptions = meta.get("config_descriptions", {})
    named = ", ".join(f"`{c}` ({descriptions.get(c, '')})" for c in configs)
    return f"Configurations: {named}."


def markdown(
    summary: Mapping[str, Any],
    configs: Sequence[str],
    meta: Mapping[str, Any],
    title: str = "Real-code infilling",
) -> str:
    lines = [f"# {title}", ""]
    lines.append(
        f"{meta.get('tasks', '?')} tasks cut from {meta.get('packages_used', '?')} packages "
        f"(seed {meta.get('seed', '?')}, {meta.get('per_kind_per_lang', '?')} per hole kind "
        f"and language), model `{meta.get('model', '?')}`, revision "
        f"`{meta.get('revision', '?')}`, {meta.get('finished', '')}. "
        + configurations(configs, meta)
    )
    lines += [
        "",
        "Exact: equal after stripping trailing whitespace; starts: the output begins with the "
        "expected middle (and may run on past it); edit sim: 1 − Levenshtein / max "
        "length; parses: prefix + output + suffix has no more tree-sitter errors than the "
        "original (an empty output does not parse); latency: the first request on a cold "
        "cache, wall clock.",
        "",
    ]
    if len(configs) >= 2:
        lines += [f"## {configs[0]} − {configs[1]} (points)", "", _delta_table(summary, configs)]
    for split in SPLITS:
        section = summary[split]
        lines += [f"## {SPLIT_TITLES[split]}", ""]
        lines += ["Overall", "", _table({"overall": section["overall"]}, configs)]
        lines += ["By hole kind", "", _table(section["kind"], configs)]
        lines += ["By language", "", _table(section["language"], configs)]
    sources = meta.get("sources") or []
    if sources:
        lines += ["## Sources", ""]
        rows = [
            [
                s["ecosystem"],
                s["name"],
                s["version"],
                s["license"],
                s.get("license_found", ""),
                s.get("tasks", 0),
            ]
            for s in sources
        ]
        lines.append(
            markdown_table(
                ["ecosystem", "package", "version", "licence", "licence found", "tasks"], rows
            )
        )
    return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def plot(
    summary: Mapping[str, Any],
    configs: Sequence[str],
    path: Path,
    title: str,
    inner: tuple[str, str] = ("exact", "exact match"),
    fields: Sequence[str] = ("kind", "language"),
) -> Path:
    """Bars per hole kind and per language (columns, `fields`) for the held-out and tuning sets
    (rows): edit similarity as a light bar, exact match (`inner`) as a dark bar inside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width_in = 13 if len(fields) > 1 else 7.5
    fig, axes = plt.subplots(2, len(fields), figsize=(width_in, 7.5), dpi=110, squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    try:
        for row, split in enumerate(("heldout", "tuning")):
            for col, field in enumerate(fields):
                ax = axes[row][col]
                groups = summary[split][field]
                names = list(groups)
                width = 0.8 / max(1, len(configs))
                for ci, config in enumerate(configs):
                    xs = [i + (ci - (len(configs) - 1) / 2) * width for i in range(len(names))]
                    es = [groups[g][config]["edit_similarity"] for g in names]
                    em = [groups[g][config][inner[0]] for g in names]
                    color = colors[ci % len(colors)]
                    ax.bar(xs, es, width * 0.95, color=color, alpha=0.35)
                    ax.bar(xs, em, width * 0.6, color=color)
                if not names:
                    ax.text(0.5, 0.5, "no tasks", ha="center", va="center", transform=ax.transAxes)
                ax.set_xticks(range(len(names)))
                ax.set_xticklabels(
                    [f"{g}\n(n={max(groups[g][c]['n'] for c in configs)})" for g in names],
                    fontsize=8,
                )
                ax.set_ylim(0, 100)
                ax.set_ylabel("%")
                ax.set_title(f"{SPLIT_TITLES[split].split(' (')[0]}: by {field}", fontsize=10)
                ax.grid(True, axis="y", alpha=0.3)
        from matplotlib.patches import Patch

        handles = []
        for ci, config in enumerate(configs):
            color = colors[ci % len(colors)]
            handles.append(Patch(color=color, alpha=0.35, label=f"{config}: edit similarity"))
            handles.append(Patch(color=color, label=f"{config}: {inner[1]}"))
        fig.legend(handles=handles, loc="upper right", fontsize=8, ncol=len(configs))
        fig.suptitle(title, x=0.02, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def write(
    records: Sequence[Mapping[str, Any]],
    configs: Sequence[str],
    meta: Mapping[str, Any],
    results_dir: Path,
    stem: str,
    with_plot: bool = True,
    *,
    extra: Sequence[str] = (),
    render: Callable[[Mapping[str, Any], Sequence[str], Mapping[str, Any]], str] | None = None,
    plot_options: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """`<stem>.json` (meta, summary, per-task metrics), `<stem>.md` and `<stem>.png`; a
    benchmark with metrics of its own names them (`extra`), its Markdown (`render`) and its
    plot's options."""
    summary = aggregate(records, configs, extra)
    results_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": results_dir / f"{stem}.json", "md": results_dir / f"{stem}.md"}
    payload = {"meta": dict(meta), "summary": summary, "tasks": list(records)}
    paths["json"].write_text(json.dumps(_json_safe(payload), indent=1) + "\n")
    paths["md"].write_text((render or markdown)(summary, configs, meta))
    if with_plot:
        png = results_dir / f"{stem}.png"
        paths["png"] = plot(summary, configs, png, stem, **(plot_options or {}))
    return paths
