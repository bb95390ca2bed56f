"""Model load time: a plain `llama_cpp.Llama()` load of the target against the server's own
`load_backend`, with a cold calibration cache and a warm one, side by side in one process.

Order: plain, ours (cold cache), the background calibration that follows the first
suggestion (it fills the cache), ours (warm cache), plain again; each load is freed before the
next. The plain load gets the same total context the engine allocates for the target
(contextSize × cachedDocuments), so both allocate the same KV cache. Phases of our loads come
from the progress reports `load_backend` makes. The machine's load average is recorded before
and after: on a busy machine every number is larger, the ratios less so.

    python -m benchmarks.load_time [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from airgap_lsp.completion import calibration
from airgap_lsp.completion.backend import load_backend
from airgap_lsp.completion.engine_process import SupervisedEngine
from airgap_lsp.completion.model_plan import plan_models
from airgap_lsp.completion.settings import Settings


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def plain_load(path: Path, n_ctx: int) -> float:
    import llama_cpp

    t0 = time.perf_counter()
    llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=False)
    seconds = time.perf_counter() - t0
    llama.close()
    del llama
    gc.collect()
    return seconds


def our_load(settings: Settings) -> tuple[float, list[tuple[str, float]], Any]:
    marks: list[tuple[str, float]] = []
    t0 = time.perf_counter()

    def report(message: str, _percent: int) -> None:
        marks.append((message, time.perf_counter() - t0))

    loaded = load_backend(settings, report)
    seconds = time.perf_counter() - t0
    return seconds, marks, loaded


def phases(marks: list[tuple[str, float]], total: float) -> list[tuple[str, float]]:
    """Seconds from each progress report to the next (the last one to the end)."""
    out = []
    for i, (message, at) in enumerate(marks):
        end = marks[i + 1][1] if i + 1 < len(marks) else total
        out.append((message, round(end - at, 3)))
    return out


def run(out_dir: Path) -> dict[str, Any]:
    settings = Settings()  # what a user who changes nothing gets
    m = settings.models
    plan = plan_models(m)
    n_ctx = m.context_size * max(1, m.cached_documents)
    result: dict[str, Any] = {
        "target": str(plan.target),
        "draft_planned": str(plan.draft) if plan.draft else None,
        "n_ctx": n_ctx,
        "machine": {
            "cpu": next(
                (
                    p.split("=", 1)[1]
                    for p in calibration.cpu_identity().split("; ")
                    if p.startswith("model name=")
                ),
                platform.processor(),
            ),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "build": calibration.build_identity().split(";")[0],
        },
        "loadavg_before": loadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[calibration.CACHE_ENV] = str(Path(tmp) / "calibration.json")
        result["plain_1_s"] = round(plain_load(plan.target, n_ctx), 3)

        cold_s, cold_marks, loaded = our_load(settings)
        engine = loaded.backend.engine  # type: ignore[attr-defined]
        result["cold"] = {
            "seconds": round(cold_s, 3),
            "phases": phases(cold_marks, cold_s),
            "draft_loaded": engine.draft is not None,
        }
        refresh = loaded.calibration
        assert refresh is not None
        t0 = time.perf_counter()
        assert refresh.run()
        result["background_calibration_s"] = round(time.perf_counter() - t0, 3)
        result["calibration"] = {
            k: v for k, v in engine.calibration.items() if isinstance(v, (int, float, dict))
        }
        loaded.backend.close()
        del engine, refresh, loaded
        gc.collect()

        warm_s, warm_marks, loaded = our_load(settings)
        engine = loaded.backend.engine  # type: ignore[attr-defined]
        result["warm"] = {
            "seconds": round(warm_s, 3),
            "phases": phases(warm_marks, warm_s),
            "draft_loaded": engine.draft is not None,
            "evaluated_tokens_at_load": (
                engine.evaluated_at_load
                if isinstance(engine, SupervisedEngine)
                else engine.target_llama.evaluated_tokens
            ),
            "engine_process": isinstance(engine, SupervisedEngine),
        }
        loaded.backend.close()
        del engine, loaded
        gc.collect()

        result["plain_2_s"] = round(plain_load(plan.target, n_ctx), 3)
    plain = min(result["plain_1_s"], result["plain_2_s"])
    result["ratio_warm"] = round(result["warm"]["seconds"] / plain, 2)
    result["ratio_cold"] = round(result["cold"]["seconds"] / plain, 2)
    result["loadavg_after"] = loadavg()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "load_time.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "load_time.md").write_text(markdown(result))
    return result


def markdown(r: dict[str, Any]) -> str:
    plain = min(r["plain_1_s"], r["plain_2_s"])
    lines = [
        "# Model load time: plain `Llama()` against `load_backend`",
        "",
        f"Target `{Path(r['target']).name}`, n_ctx {r['n_ctx']} "
        f"(contextSize × cachedDocuments), {r['machine']['cpu']}, {r['machine']['cores']} cores, "
        f"{r['machine']['build']}. One process, one run each, in this order: plain, ours with "
        "a cold calibration cache, the background calibration, ours with a warm cache, plain.",
        f"Load average before {r['loadavg_before']}, after {r['loadavg_after']}.",
        "",
        "| load | seconds | × plain | draft model loaded |",
        "| --- | ---: | ---: | --- |",
        f"| plain `llama_cpp.Llama()` (1st / 2nd) | {r['plain_1_s']:.2f} / {r['plain_2_s']:.2f} "
        "| 1.00 | - |",
        f"| ours, cold calibration cache | {r['cold']['seconds']:.2f} | {r['ratio_cold']:.2f} "
        f"| {'yes' if r['cold']['draft_loaded'] else 'no'} |",
        f"| ours, warm calibration cache | {r['warm']['seconds']:.2f} | {r['ratio_warm']:.2f} "
        f"| {'yes' if r['warm']['draft_loaded'] else 'no'} |",
        "",
        f"Background calibration after the first suggestion (off the load path): "
        f"{r['background_calibration_s']:.2f} s. Tokens evaluated during the warm load: "
        f"{r['warm']['evaluated_tokens_at_load']}.",
        "",
        "Phases (seconds from each progress report to the next):",
        "",
        "| phase | cold | warm |",
        "| --- | ---: | ---: |",
    ]
    cold = dict(r["cold"]["phases"])
    warm = dict(r["warm"]["phases"])
    for name in list(dict.fromkeys([*cold, *warm])):
        c = f"{cold[name]:.2f}" if name in cold else "-"
        w = f"{warm[name]:.2f}" if name in warm else "-"
        lines.append(f"| {name} | {c} | {w} |")
    lines.append("")
    lines.append(f"Plain load taken as the faster of the two: {plain:.2f} s.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    result = run(args.out)
    print(markdown(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
