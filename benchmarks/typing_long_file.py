"""Typing in the middle of a long file: request latency with and without the steady context.

The HumanEval files of the latency suite are short, so every prompt there holds the whole
file. Real files do not fit: this run opens a long file of this repository (default
`completion/engine.py`, ≈ 500 lines), puts the cursor before a method in its middle and types a
new two-line method, asking for a completion every second keystroke with the real default
models, as the server does (code context from tree-sitter, prompt time budget, drafting
`auto`). It runs twice in one process, each time with a fresh backend: with the context of the
document kept while typing (`steadyContext`, the default) and chosen anew on every request.
Reports per configuration the latency of the first request and of the typing requests
(p50/p90/p95/max), the prompt tokens evaluated per request and the prompt's size; writes
`benchmarks/results/typing_long_file.{json,md,png}`.

    python -m benchmarks.typing_long_file [--file completion/engine.py]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from airgap_lsp.completion.backend import load_backend
from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.completer import CompletionRequest
from airgap_lsp.completion.settings import Settings
from benchmarks.harness import Progress, markdown_table
from benchmarks.harness.plot import plot_latency
from benchmarks.harness.stats import percentile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TYPED = "    def _helper(self, value: int) -> int:\n        return value * 2\n"
ANCHOR = "    def _step(self)"


def run(steady: bool, source: str, cut: int, progress: Progress) -> dict[str, Any]:
    settings = Settings()
    settings = dataclasses.replace(
        settings, completion=dataclasses.replace(settings.completion, steady_context=steady)
    )
    provider = ContextProvider()
    backend = load_backend(settings, None, provider).backend
    # The first decode of a freshly loaded model pays for paging in weights: not measured.
    warm = "def add(a, b):\n    return "
    backend.complete(CompletionRequest("warm", warm, len(warm), "warm.py"), lambda: False)
    uri = "file:///w/engine.py"
    latencies: list[float] = []
    evaluated: list[int] = []
    seen: list[int] = []
    for i in range(0, len(TYPED) + 1, 2):
        text = source[:cut] + TYPED[:i] + source[cut:]
        if i == 0:
            provider.open(uri, "/w/engine.py", "python", text)
        else:
            provider.change(uri, (), text=text)
        request = CompletionRequest(uri, text, cut + i, "engine.py", language="python")
        t0 = time.perf_counter()
        suggestion = backend.complete(request, lambda: False)
        latencies.append((time.perf_counter() - t0) * 1000)
        if suggestion is not None:
            evaluated.append(suggestion.prompt_tokens - suggestion.reused_tokens)
            seen.append(suggestion.prompt_tokens)
        progress.advance(status=f"steady={steady} {i}/{len(TYPED)}")
    typing = latencies[1:]
    return {
        "config": "steady context" if steady else "context chosen per request",
        "first_ms": round(latencies[0]),
        "typing_n": len(typing),
        "typing_p50_ms": round(percentile(typing, 50)),
        "typing_p90_ms": round(percentile(typing, 90)),
        "typing_p95_ms": round(percentile(typing, 95)),
        "typing_max_ms": round(max(typing)),
        "evaluated_p50": statistics.median(evaluated[1:]) if len(evaluated) > 1 else None,
        "evaluated_max": max(evaluated[1:]) if len(evaluated) > 1 else None,
        # How much of the file the model sees: the prompt shrinks to fit the prompt time budget.
        "prompt_tokens_p50": statistics.median(seen) if seen else None,
        "typing_ms": [round(v, 1) for v in typing],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--file", type=Path, default=ROOT / "completion" / "engine.py")
    args = ap.parse_args(argv)
    source = args.file.read_text()
    cut = source.index(ANCHOR) if ANCHOR in source else len(source) // 2
    rows = []
    with Progress(2 * (len(TYPED) // 2 + 1), label="typing") as progress:
        for steady in (True, False):
            rows.append(run(steady, source, cut, progress))
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"file": str(args.file.relative_to(ROOT)), "lines": source.count("\n"), "typed": TYPED}
    (RESULTS / "typing_long_file.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2)
    )
    headers = [k for k in rows[0] if k != "typing_ms"]
    table = markdown_table(headers, [[r[k] for k in headers] for r in rows])
    md = (
        "# Typing in the middle of a long file\n\n"
        f"`{meta['file']}` ({meta['lines']} lines), a two-line method typed before "
        f"`{ANCHOR.strip()}`, a request every second keystroke, default models and settings, "
        "one run.\n\n"
        f"{table}\n\n![latency](typing_long_file.png)\n"
    )
    (RESULTS / "typing_long_file.md").write_text(md)
    plot_latency(
        {r["config"]: r["typing_ms"] for r in rows},
        RESULTS / "typing_long_file.png",
        title="Typing in a long file: latency per request",
    )
    print(md, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
