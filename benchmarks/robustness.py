"""Robustness report: fuzz the real server for N minutes, then the offline proof.

Run: python -m benchmarks.robustness --minutes N [--seed S] [--out benchmarks/results/robustness]

Fuzzing (tests/fuzz): sessions of random documents, edits, URIs, requests, cancels, closes and
configuration changes against `airgap-lsp serve` over stdio with a tiny generated model, each
checked by the oracles of tests/fuzz/session.py. Offline proof (tests/offline/proof.py): a
whole session in a network namespace with no interfaces under an audit hook (network attempts
counted in "connections"), and the compiled llama.cpp libraries' links. Writes
OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.fuzz.runner import FuzzReport, make_model, make_workspace, run_fuzz
from tests.offline import proof


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(minutes: float, seed: int, steps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="airgap-robustness-") as tmp:
        base = Path(tmp)
        for name in ("model", "workspace", "logs", "offline", "offline-workspace"):
            (base / name).mkdir()
        model = make_model(base / "model")
        seconds = minutes * 60
        t0 = time.monotonic()
        report: FuzzReport = run_fuzz(
            seconds,
            seed,
            model,
            make_workspace(base / "workspace"),
            base / "logs",
            steps=steps,
            hard_seconds=seconds + 120,
        )
        print(report.describe(), file=sys.stderr)
        namespace, why = proof.network_namespace_available()
        offline = proof.run_offline_session(
            str(model),
            proof.make_workspace(base / "offline-workspace"),
            base / "offline",
            use_namespace=namespace,
        )
        libraries = proof.llama_libraries()
        summary = report.summary()
        summary.update(
            {
                "seed": seed,
                "minutes": minutes,
                "stepsPerSession": steps,
                "wallSeconds": round(time.monotonic() - t0, 1),
                "commit": _commit(),
                "connections": offline.connections,
                "offline": {**offline.to_json(), "namespaceRefused": why},
                "llamaLibraries": libraries,
                "llamaLinksNetwork": any(
                    info["networkLibraries"] or info["networkSymbols"]
                    for info in libraries.values()
                ),
            }
        )
        return summary


def markdown(s: dict[str, Any]) -> str:
    lines = [
        "# Robustness: fuzzing and the offline proof",
        "",
        f"`python -m benchmarks.robustness --minutes {s['minutes']:g} --seed {s['seed']}` "
        f"at {s['commit']}.",
        "",
        "| | |",
        "|---|---|",
        f"| fuzzing sessions | {s['sessions']} |",
        f"| messages (both directions) | {s['messages']} |",
        f"| requests | {s['requests']} |",
        f"| failures | **{s['failures']}** |",
        f"| input kinds exercised | {s['kinds']} |",
        f"| position encodings | {s['position_encodings']} |",
        f"| oracle checks | {s['checks']} |",
        f"| offline session: network attempts | **{s['connections']}** |",
        f"| offline session in a network namespace | {s['offline']['networkNamespace']} |",
        f"| workspace files opened by the indexer offline | {s['offline']['indexedFiles']} |",
        f"| libllama links curl/TLS or imports socket calls | {s['llamaLinksNetwork']} |",
        "",
        "## By category",
        "",
        "| category | messages | failures |",
        "|---|---:|---:|",
    ]
    for name, row in s["by_category"].items():
        lines.append(f"| {name} | {row['messages']} | {row['failures']} |")
    if s["failure_examples"]:
        lines += ["", "## Failures (first of each kind; replay with the seed)", ""]
        for key, example in s["failure_examples"].items():
            detail = example["detail"].splitlines()[0][:300]
            lines.append(f"- `{key}` (seed {example['seed']}): {detail}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=60, help="steps per session")
    parser.add_argument("--out", default="benchmarks/results/robustness")
    args = parser.parse_args(argv)
    summary = run(args.minutes, args.seed, args.steps)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(summary), encoding="utf-8")
    print(
        f"{summary['sessions']} sessions, {summary['messages']} messages, "
        f"{summary['failures']} failures, {summary['kinds']} kinds, "
        f"connections {summary['connections']} -> {out}.json"
    )
    return 0 if summary["failures"] == 0 and summary["connections"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
