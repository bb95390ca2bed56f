"""What the process boundary costs a request, measured directly: the same generations on the
real default target, once through the engine in its child process and once in this process,
alternating (so load from elsewhere hits both alike), for the three request kinds a user
makes: a keystroke's (prompt cached, a few tokens), a first request (a fresh 700-token prompt)
and a body (64 tokens). Reports the wall time per call for each and the difference, with the
overhead per call and per decoded token that explains it.

    python -m benchmarks.boundary_cost [--reps 12] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from airgap_lsp.completion.backend import load_backend
from airgap_lsp.completion.engine import DecodeOptions
from airgap_lsp.completion.engine_process import SupervisedEngine
from airgap_lsp.completion.settings import Settings
from benchmarks.harness import markdown_table
from benchmarks.harness.progress import Progress
from benchmarks.harness.revision import git_revision
from benchmarks.harness.stats import percentile

SOURCE = Path(__file__).resolve().parents[1] / "completion" / "engine.py"
KINDS = {
    # name: (prompt characters, fresh prompt each time, max tokens)
    "keystroke": (1500, False, 4),
    "first request": (2600, True, 16),
    "body": (600, False, 64),
}


def _load(in_process: bool) -> Any:
    os.environ["AIRGAP_LSP_ENGINE_PROCESS"] = "0" if in_process else "1"
    try:
        return load_backend(Settings(models=Settings().models)).backend.engine
    finally:
        del os.environ["AIRGAP_LSP_ENGINE_PROCESS"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    child = _load(False)
    local = _load(True)
    assert isinstance(child, SupervisedEngine) and not isinstance(local, SupervisedEngine)
    text = SOURCE.read_text(encoding="utf-8")
    rows: dict[str, dict[str, list[float]]] = {k: {"child": [], "in_process": []} for k in KINDS}
    tokens_out: dict[str, list[int]] = {k: [] for k in KINDS}
    with Progress(args.reps * len(KINDS), "calls") as progress:
        for rep in range(args.reps):
            for kind, (chars, fresh, max_tokens) in KINDS.items():
                head = f"# {rep} {time.time_ns()}\n" if fresh else "# cached\n"
                prompt = child.target.tokenize(head + text[:chars])
                options = DecodeOptions(max_tokens=max_tokens, drafting="none")
                order = [("child", child), ("in_process", local)]
                if rep % 2:
                    order.reverse()
                for name, engine in order:
                    t0 = time.perf_counter()
                    result = engine.generate(f"{kind}.py", prompt, options)
                    rows[kind][name].append((time.perf_counter() - t0) * 1000)
                    if name == "child":
                        tokens_out[kind].append(len(result.tokens))
                progress.advance(status=kind)
    child.close()
    summary = []
    for kind, by in rows.items():
        # The first repetition of a cached kind evaluates its prompt: left out of the medians.
        c = by["child"][1:] if not KINDS[kind][1] else by["child"]
        i = by["in_process"][1:] if not KINDS[kind][1] else by["in_process"]
        summary.append(
            {
                "kind": kind,
                "n": len(c),
                "tokens": round(sum(tokens_out[kind]) / len(tokens_out[kind]), 1),
                "child_p50_ms": round(percentile(c, 50), 1),
                "in_process_p50_ms": round(percentile(i, 50), 1),
                "difference_p50_ms": round(percentile(c, 50) - percentile(i, 50), 1),
                "ratio_p50": round(percentile(c, 50) / percentile(i, 50), 3),
                "child_ms": [round(x, 1) for x in by["child"]],
                "in_process_ms": [round(x, 1) for x in by["in_process"]],
            }
        )
    result = {
        "benchmark": "boundary_cost",
        "revision": git_revision(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "kinds": summary,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "boundary_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown_table(
        ["request", "n", "tokens", "child p50 ms", "in process p50 ms", "difference ms", "ratio"],
        [
            [
                s["kind"],
                s["n"],
                s["tokens"],
                s["child_p50_ms"],
                s["in_process_p50_ms"],
                s["difference_p50_ms"],
                f"{s['ratio_p50']:.3f}",
            ]
            for s in summary
        ],
    )
    lines = [table.rstrip("\n")]
    (args.out / "boundary_cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
