"""Latency distribution plot: one ECDF line per configuration, p50 and p95 marked.

matplotlib is imported on first use (Agg backend, no display) so that importing the
harness stays cheap and works where matplotlib is not installed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def plot_latency(
    distributions: Mapping[str, Sequence[float]],
    path: Path,
    *,
    title: str = "Latency distribution",
    unit: str = "ms",
    log_x: bool | None = None,
) -> Path:
    """Write a PNG of the empirical CDF of each configuration's latencies.

    `log_x=None` picks a log axis when the samples span more than two decades.
    """
    import matplotlib

    from .stats import percentile  # deferred: stats re-exports this module

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {name: sorted(values) for name, values in distributions.items() if values}
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
    try:
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for index, (name, ordered) in enumerate(series.items()):
            color = colors[index % len(colors)]
            n = len(ordered)
            ys = [(i + 1) / n for i in range(n)]
            p50, p95 = percentile(ordered, 50), percentile(ordered, 95)
            label = f"{name} (n={n}, p50={p50:.3g}, p95={p95:.3g} {unit})"
            ax.step(ordered, ys, where="post", color=color, label=label, linewidth=1.6)
            ax.plot([p50], [0.5], marker="o", color=color, markersize=6)
            ax.plot([p95], [0.95], marker="^", color=color, markersize=7)
        for level, name in ((0.5, "p50"), (0.95, "p95")):
            ax.axhline(level, color="0.6", linestyle=":", linewidth=0.8)
            ax.annotate(
                name,
                xy=(0, level),
                xycoords=("axes fraction", "data"),
                xytext=(3, 2),
                textcoords="offset points",
                fontsize=8,
                color="0.4",
            )
        if series:
            low = min(ordered[0] for ordered in series.values())
            high = max(ordered[-1] for ordered in series.values())
            use_log = log_x if log_x is not None else (low > 0 and high / low > 100)
            if use_log and low > 0:
                ax.set_xscale("log")
            ax.legend(loc="lower right", fontsize=8)
        else:
            ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(f"latency ({unit})")
        ax.set_ylabel("fraction of requests ≤ latency")
        ax.set_ylim(0, 1.02)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
