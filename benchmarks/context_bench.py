"""Does the code context help? Cross-file tasks with and without it, and shaping on HumanEval+.

Part 1, cross-file (`benchmarks/crossfile/tasks.jsonl`, 43 small projects in 6 languages): the
target file is open in the editor, the other files are on disk in the workspace. The same
model completes the cursor line twice, once with the tree-sitter context (definitions found in
the workspace index, imports, scopes) and once with the raw text around the cursor only.
Reported: exact match of the line, and for Python tasks whether the project's test passes
(run in the sandbox).

Part 2, HumanEval+ function bodies: pass@1 (base and plus tests) with syntax-aware shaping of
the output on and off. Greedy decoding gives the same raw output for both, so each body is
generated once and shaped afterwards exactly as the server does.

Part 3: the context-collection time of every request.

    python -m benchmarks.context_bench [--humaneval 40] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.completer import Completer, CompletionRequest
from airgap_lsp.completion.engine import Engine
from airgap_lsp.completion.models import resolve
from airgap_lsp.completion.runtime import Model
from airgap_lsp.completion.settings import CompletionSettings
from airgap_lsp.context import CompletionMode, shape_completion
from benchmarks.harness import (
    LatencySummary,
    Progress,
    check_base,
    check_plus,
    load_humaneval_plus,
    markdown_table,
    run_python,
)

TASKS = Path(__file__).parent / "crossfile" / "tasks.jsonl"


def python_test_source(task: dict, completion: str) -> str:
    """A sandbox script that lays the project out in its temp dir and runs the task's test."""
    files = dict(task["files"])
    files[task["target_path"]] = task["cursor_prefix_file_text"] + completion + task["suffix"]
    files["test_task.py"] = task["python_test"]
    return f"""
import os, sys
files = {files!r}
for rel, text in files.items():
    os.makedirs(os.path.dirname(rel) or ".", exist_ok=True)
    with open(rel, "w") as f:
        f.write(text)
sys.path.insert(0, os.getcwd())
import test_task
for name in dir(test_task):
    if name.startswith("test_"):
        getattr(test_task, name)()
"""


def crossfile(engine: Engine, tasks: list[dict]) -> tuple[list[dict], list[float]]:
    rows = []
    collect_ms: list[float] = []
    with Progress(len(tasks) * 2, label="cross-file") as bar:
        for task in tasks:
            with tempfile.TemporaryDirectory(prefix="airgap-xfile-") as root:
                for rel, text in task["files"].items():
                    if rel == task["target_path"]:
                        text = task["cursor_prefix_file_text"] + task["suffix"]
                    path = Path(root, rel)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text)
                provider = ContextProvider()
                provider.roots.append(root)
                provider.index.add_root(root)
                provider.index.refresh()
                uri = Path(root, task["target_path"]).as_uri()
                text = task["cursor_prefix_file_text"] + task["suffix"]
                provider.open(uri, task["target_path"], task["language"], text)
                request = CompletionRequest(
                    key=uri,
                    text=text,
                    offset=len(task["cursor_prefix_file_text"]),
                    path=task["target_path"],
                    language=task["language"],
                    multiline=False,
                    drafting="none",
                )
                row = {"id": task["id"], "language": task["language"]}
                for with_context in (True, False):
                    engine.reset()
                    completer = Completer(
                        engine,
                        CompletionSettings(
                            use_context=with_context, max_prompt_ms=0, max_predict_ms=0
                        ),
                        provider,
                    )
                    if with_context:
                        t0 = time.perf_counter()
                        provider.collect(
                            uri,
                            text,
                            request.offset,
                            task["target_path"],
                            task["language"],
                            completer.count_tokens,
                            1792,
                            1,
                        )
                        collect_ms.append((time.perf_counter() - t0) * 1000)
                    s = completer.complete(request, lambda: False)
                    line = (s.text if s else "").split("\n", 1)[0].rstrip()
                    tag = "ctx" if with_context else "raw"
                    row[f"{tag}_exact"] = line == task["expected"].rstrip()
                    row[f"{tag}_line"] = line
                    if task.get("python_test"):
                        res = run_python(python_test_source(task, line))
                        row[f"{tag}_test"] = res.passed
                    bar.advance(status=f"{task['id']} {tag} {row[f'{tag}_exact']}")
                rows.append(row)
    return rows, collect_ms


def humaneval_shaping(engine: Engine, n: int) -> dict[str, object]:
    tasks = load_humaneval_plus(limit=n)
    completer = Completer(
        engine, CompletionSettings(shaping=False, max_prompt_ms=0, max_predict_ms=0), None
    )
    counts = {"raw_base": 0, "raw_plus": 0, "shaped_base": 0, "shaped_plus": 0}
    changed = 0
    with Progress(len(tasks), label="humaneval shaping") as bar:
        for task in tasks:
            doc = task.completion_document()
            engine.reset()
            s = completer.complete(
                CompletionRequest(
                    key=task.task_id,
                    text=doc.text,
                    offset=doc.offset,
                    path="solution.py",
                    language="python",
                    multiline=True,
                    drafting="none",
                ),
                lambda: False,
            )
            raw = s.text if s else ""
            shaped = shape_completion(
                doc.text, doc.offset, raw, "python", mode=CompletionMode.MULTI_LINE
            )
            changed += int(shaped != raw)
            for tag, body in (("raw", raw), ("shaped", shaped)):
                program = doc.apply(body)
                counts[f"{tag}_base"] += int(check_base(task, program).passed)
                counts[f"{tag}_plus"] += int(check_plus(task, program).passed)
            bar.advance(status=task.task_id)
    return {"tasks": len(tasks), "changed_by_shaping": changed, **counts}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--humaneval", type=int, default=40)
    ap.add_argument("--limit", type=int, default=0, help="cross-file tasks (0 = all)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    tasks = [json.loads(line) for line in TASKS.read_text().splitlines() if line.strip()]
    if args.limit:
        tasks = tasks[: args.limit]
    target = Model(resolve("qwen2.5-coder-1.5b"))
    engine = Engine(target, None, n_ctx=4096, n_seq=1)
    rows, collect_ms = crossfile(engine, tasks)
    shaping = humaneval_shaping(engine, args.humaneval) if args.humaneval else {}

    def share(key: str, subset: list[dict]) -> float:
        vals = [r[key] for r in subset if key in r]
        return round(100 * sum(vals) / len(vals), 1) if vals else 0.0

    by_lang = sorted({r["language"] for r in rows})
    table = [
        [
            lang,
            sum(r["language"] == lang for r in rows),
            share("raw_exact", [r for r in rows if r["language"] == lang]),
            share("ctx_exact", [r for r in rows if r["language"] == lang]),
        ]
        for lang in by_lang
    ]
    table.append(["all", len(rows), share("raw_exact", rows), share("ctx_exact", rows)])
    py = [r for r in rows if "raw_test" in r]
    timing = LatencySummary.of(collect_ms)
    result = {
        "meta": {
            "model": target.path.name,
            "tasks": len(rows),
            "seconds": round(time.monotonic() - t0, 1),
        },
        "crossfile": {
            "exact_without_context": share("raw_exact", rows),
            "exact_with_context": share("ctx_exact", rows),
            "python_tests_without_context": share("raw_test", py),
            "python_tests_with_context": share("ctx_test", py),
            "rows": rows,
        },
        "humaneval_shaping": shaping,
        "context_collection_ms": dataclasses.asdict(timing),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "context.json").write_text(json.dumps(result, indent=2, default=str))
    md = [
        "# Code context benchmark",
        "",
        f"Model {target.path.name}; greedy; {len(rows)} cross-file tasks; run took "
        f"{result['meta']['seconds']} s.",
        "",
        "## Cross-file: exact match of the completed line (%)",
        "",
        markdown_table(["language", "tasks", "without context", "with context"], table),
        f"Python tasks whose test passes: {share('raw_test', py)}% without context, "
        f"{share('ctx_test', py)}% with ({len(py)} tasks).",
        "",
        "## HumanEval+ function bodies: pass@1 with shaping off and on",
        "",
    ]
    if shaping:
        n = int(shaping["tasks"])  # type: ignore[call-overload]
        md.append(
            markdown_table(
                ["shaping", "base pass@1 %", "plus pass@1 %"],
                [
                    [
                        "off",
                        round(100 * shaping["raw_base"] / n, 1),  # type: ignore[operator]
                        round(100 * shaping["raw_plus"] / n, 1),
                    ],  # type: ignore[operator]
                    [
                        "on",
                        round(100 * shaping["shaped_base"] / n, 1),  # type: ignore[operator]
                        round(100 * shaping["shaped_plus"] / n, 1),
                    ],  # type: ignore[operator]
                ],
            )
        )
        md.append(f"{n} tasks; shaping changed {shaping['changed_by_shaping']} completions.")
    md += [
        "",
        "## Context collection time per request (ms)",
        "",
        f"p50 {timing.p50:.1f}, p90 {timing.p90:.1f}, p95 {timing.p95:.1f}, max {timing.max:.1f} "
        f"over {timing.count} requests (each includes tokenizing the pieces to fit the budget).",
    ]
    (args.out / "context.md").write_text("\n".join(md) + "\n")
    print("\n".join(md), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
