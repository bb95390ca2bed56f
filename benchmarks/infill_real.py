"""Real-code infilling benchmark: holes cut from well-known packages, airgap vs a naive FIM.

Tasks (`infill_tasks`) are cut with a fixed seed from the source files of pinned PyPI, npm
and Debian packages (`infill_manifest.json`, fetched by `prepare`, see `infill_sources`):
single lines, multi-line holes (a third ending with a block opener whose body is below),
random spans across lines, and holes at the end of an opener line. A quarter of them is held
out of every tuning decision and reported apart.

Both configurations run in ONE process on ONE loaded model, interleaved task by task:

- `airgap`: the server's `Completer` with default settings, built by `load_backend` as the
  server builds it (default target and draft, code context from tree-sitter, budgets), the
  document opened in a fresh `ContextProvider` as `didOpen` would;
- `naive`: `infill_naive` on the same target model (plain FIM prompt, greedy, end token or
  128 tokens, output as is).

Every request is a first request: each gets a fresh cache key and the engine's cached
sequences are dropped before it. Metrics (`infill_metrics`): exact match, edit similarity,
parses with the suffix, empty rate, latency. Writes `benchmarks/results/<out>.{json,md,png}`
(metrics only) and the documents' outputs, with the expected middles, to
`~/.cache/airgap-lsp/infill-sources/runs/<out>.jsonl` (they hold the packages' code).

    python -m benchmarks.infill_real prepare          # fetch/install the sources (idempotent)
    python -m benchmarks.infill_real --tasks-only     # build and summarise the task set
    python -m benchmarks.infill_real [--limit N] [--split tuning|heldout|all]
        [--configs airgap,naive] [--out NAME] [--seed S] [--per-kind-per-lang N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness.progress import Progress
from benchmarks.harness.revision import git_revision
from benchmarks.infill_metrics import grade
from benchmarks.infill_report import write
from benchmarks.infill_sources import PreparedPackage, cache_dir, prepare, read_files
from benchmarks.infill_tasks import Task, build_tasks, select, summarize

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = ("airgap", "naive")
DESCRIPTIONS = {
    "airgap": "Completer, default settings, built by load_backend",
    "naive": "plain FIM prompt, greedy, end token or 128 tokens, no shaping",
}


@dataclass(frozen=True)
class Outcome:
    output: str | None
    latency_ms: float
    stop_reason: str = ""
    prompt_tokens: int = 0
    generated_tokens: int = 0
    error: str = ""
    detail: str = ""  # airgap: the completer's own log line for the request (stop reason)


Runner = Callable[[Task, str], Outcome]


class _LastLine(logging.Handler):
    """Keeps the last INFO line of a logger: the completer logs each request's prompt size,
    timings and stop reason, which the public API does not return for an empty answer."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.line = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.line = record.getMessage()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_sources() -> tuple[list[PreparedPackage], list[Any]]:
    prepared = prepare(say=lambda m: _say(f"prepare: {m}"))
    files = [f for p in prepared for f in read_files(p)]
    return prepared, files


def _uri(config: str, index: int, task: Task) -> str:
    return f"file:///infill/{config}-{index}/{task.package}/{task.path}"


def make_runners(
    configs: Sequence[str], hook: Callable[[Any], None] | None = None, settings: Any = None
) -> tuple[dict[str, Runner], dict[str, Any]]:
    """Load the default models once and return a runner per configuration; `hook` sees the
    engine before anything runs (the tuning loop's memo)."""
    from airgap_lsp.completion.backend import load_backend
    from airgap_lsp.completion.code_context import ContextProvider
    from airgap_lsp.completion.completer import Completer, CompletionRequest
    from airgap_lsp.completion.settings import Settings
    from benchmarks.infill_naive import NaiveFim

    t0 = time.monotonic()
    loaded = load_backend(
        settings or Settings(), lambda m, p: _say(f"load: {m} ({p} %)"), ContextProvider()
    )
    backend = loaded.backend
    if not isinstance(backend, Completer):
        raise SystemExit("the benchmark needs the real models (unset AIRGAP_LSP_FAKE_BACKEND)")
    engine = backend.engine
    if hook is not None:
        hook(engine)
    naive = NaiveFim(engine)
    last_line = _LastLine()
    completer_log = logging.getLogger("airgap_lsp.completion.completer")
    completer_log.addHandler(last_line)
    completer_log.setLevel(logging.INFO)

    def run_airgap(task: Task, uri: str) -> Outcome:
        provider = ContextProvider()  # no other task's file as context
        backend.context = provider
        provider.open(uri, uri.removeprefix("file://"), task.language, task.text)
        engine.reset()
        last_line.line = ""
        request = CompletionRequest(
            key=uri,
            text=task.text,
            offset=task.offset,
            path=task.path.rsplit("/", 1)[-1],
            language=task.language,
        )
        t = time.perf_counter()
        try:
            suggestion = backend.complete(request, lambda: False)
        finally:
            latency = (time.perf_counter() - t) * 1000
            provider.close(uri)
            backend.forget(uri)
        if suggestion is None:
            return Outcome(None, latency, detail=last_line.line)
        return Outcome(
            suggestion.text,
            latency,
            suggestion.stop_reason,
            suggestion.prompt_tokens,
            suggestion.generated_tokens,
            detail=last_line.line,
        )

    def run_naive(task: Task, uri: str) -> Outcome:
        engine.reset()
        t = time.perf_counter()
        out = naive.complete(uri, task.prefix, task.suffix)
        latency = (time.perf_counter() - t) * 1000
        return Outcome(out.text, latency, out.stop_reason, out.prompt_tokens, out.generated_tokens)

    runners: dict[str, Runner] = {"airgap": run_airgap, "naive": run_naive}
    # The first decodes of a freshly loaded model page the weights in: not measured.
    text = "def add(a, b):\n    \n"
    warm = Task(
        task_id="warm",
        language="python",
        kind="line",
        package="warm",
        version="0",
        ecosystem="none",
        path="warm.py",
        file_sha256="",
        text=text,
        offset=text.index("\n    ") + 5,
        expected="return a + b",
        window_start=0,
        hole_line=1,
    )
    for name in configs:
        runners[name](warm, f"file:///infill/warm-{name}/warm.py")
    info = {
        "model": backend.description,
        "load_seconds": round(time.monotonic() - t0, 1),
        "load_warnings": loaded.warnings,
        "calibration": {
            k: v for k, v in engine.calibration.items() if isinstance(v, (int, float, dict))
        },
    }
    return {name: runners[name] for name in configs}, info


def run_task(task: Task, index: int, configs: Sequence[str], runners: dict[str, Runner]):
    """Each configuration on one task (their order alternates from task to task); the record
    for the report and the texts for the outputs file."""
    order = list(configs) if index % 2 == 0 else list(reversed(configs))
    record: dict[str, Any] = {
        k: v for k, v in task.to_dict(with_text=False).items() if k not in ("offset",)
    }
    record["expected_chars"] = len(task.expected)
    record["configs"] = {}
    texts: dict[str, Any] = {"task_id": task.task_id, "expected": task.expected, "outputs": {}}
    for name in order:
        try:
            outcome = runners[name](task, _uri(name, index, task))
        except Exception as exc:  # one failing request must not end the run
            outcome = Outcome(None, float("nan"), error=f"{type(exc).__name__}: {exc}"[:300])
        g = grade(outcome.output, task.prefix, task.expected, task.suffix, task.language, task.path)
        record["configs"][name] = {
            "exact": g.exact,
            "starts": g.starts,
            "edit_similarity": round(g.edit_similarity, 4),
            "parses": g.parses,
            "empty": g.empty,
            "latency_ms": round(outcome.latency_ms, 1),
            "stop_reason": outcome.stop_reason,
            "prompt_tokens": outcome.prompt_tokens,
            "generated_tokens": outcome.generated_tokens,
            "output_chars": len(outcome.output or ""),
            "error": outcome.error,
            "detail": outcome.detail,
        }
        texts["outputs"][name] = outcome.output
    record["configs"] = {name: record["configs"][name] for name in configs}
    return record, texts


def source_records(prepared: Sequence[PreparedPackage], tasks: Sequence[Task]) -> list[dict]:
    out = []
    for p in prepared:
        used = {t.path: t.file_sha256 for t in tasks if t.package == p.package.name}
        rec = p.record(used=len(p.files) - sum(p.skipped.values()))
        rec["tasks"] = sum(1 for t in tasks if t.package == p.package.name)
        rec["files_in_tasks"] = dict(sorted(used.items()))  # path -> sha256
        out.append(rec)
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.infill_real",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", nargs="?", choices=["run", "prepare"], default="run")
    p.add_argument("--limit", type=int, default=None, help="run N tasks spread over the split")
    p.add_argument("--split", choices=["tuning", "heldout", "all"], default="all")
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated")
    p.add_argument("--out", default="infill_real", help="result file names")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-kind-per-lang", type=int, default=20)
    p.add_argument("--tasks-only", action="store_true", help="build and summarise the tasks")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown or not args.configs:
        p.error(f"--configs: choose from {', '.join(CONFIGS)} (got {unknown or 'none'})")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    prepared, files = load_sources()
    if args.command == "prepare":
        for rec in source_records(prepared, []):
            _say(
                f"{rec['ecosystem']:6} {rec['name']}@{rec['version']} ({rec['license_found']}): "
                f"{rec['usable_files']} usable of {rec['candidate_files']} files, "
                f"skipped {rec['skipped']}"
            )
        return 0
    all_tasks = build_tasks(files, args.seed, args.per_kind_per_lang)
    tasks = select(all_tasks, args.split, args.limit)
    if args.tasks_only:
        print(json.dumps({"all": summarize(all_tasks), "selected": summarize(tasks)}, indent=1))
        return 0
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    runners, info = make_runners(args.configs)
    outputs_path = cache_dir() / "runs" / f"{args.out}.jsonl"
    outputs_path.parent.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []

    def meta() -> dict[str, Any]:
        return {
            "revision": git_revision(),
            "seed": args.seed,
            "per_kind_per_lang": args.per_kind_per_lang,
            "split": args.split,
            "limit": args.limit,
            "configs": args.configs,
            "config_descriptions": {c: DESCRIPTIONS[c] for c in args.configs},
            "tasks": len(records),
            "tasks_selected": len(tasks),
            "task_set": summarize(all_tasks),
            "packages_used": len({r["package"] for r in records}),
            "outputs_file": str(outputs_path),
            "load_average": list(os.getloadavg()),
            "started": started,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "sources": source_records(prepared, tasks),
            **info,
        }

    paths: dict[str, Path] = {}
    with outputs_path.open("w") as out, Progress(len(tasks), label="infill") as progress:
        for index, task in enumerate(tasks):
            record, texts = run_task(task, index, args.configs, runners)
            records.append(record)
            out.write(json.dumps(texts) + "\n")
            out.flush()
            marks = " ".join(
                f"{c}={'✓' if v['exact'] else round(v['edit_similarity'], 2)}"
                for c, v in record["configs"].items()
            )
            progress.advance(status=f"{task.language} {task.kind} {marks}")
            if (index + 1) % 25 == 0:  # a stopped run keeps what it measured
                write(records, args.configs, meta(), args.results_dir, args.out, with_plot=False)
    paths = write(records, args.configs, meta(), args.results_dir, args.out)
    print(paths["md"].read_text())
    for key, path in paths.items():
        print(f"{key}: {path}")
    print(f"outputs: {outputs_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
