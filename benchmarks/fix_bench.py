"""Fix-with-AI benchmark: HumanEval+ solutions with one injected bug, fixed by the local model.

Owns the bug set and the measurement. Each task's canonical solution gets one deterministic
single bug (a wrong comparison/arithmetic operator, an off-by-one constant or a wrong variable)
that makes the task's own tests fail; the buggy program goes through the same logic the
"Fix with AI" code action uses (`completion.actions.plan_fix` -> `run_plan` -> `outcome_of`)
with a diagnostic on the buggy function, and the patched program is graded with HumanEval+
(`benchmarks.harness.evaluate.check_plus`: base + plus inputs against the reference).
Every task runs once per drafting mode (plain decoding vs speculation), from a cold cache,
the mode order rotating per task. Results: benchmarks/results/fix_bench.{json,md,png} and
fix_bench_tasks.jsonl; the bug set is cached in benchmarks/results/fix_tasks.jsonl.

    .venv/bin/python -m benchmarks.fix_bench --limit 20 --modes none,ngram,auto
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from airgap_lsp.completion.actions import (
    ActionError,
    Parsed,
    apply_edits,
    outcome_of,
    plan_fix,
    run_plan,
)
from airgap_lsp.completion.engine import DecodeOptions
from benchmarks.harness.datasets import HumanEvalTask, load_humaneval_plus
from benchmarks.harness.evaluate import check_base, check_plus
from benchmarks.harness.plot import plot_latency
from benchmarks.harness.stats import Progress, RunSummary, markdown_table, write_results

RESULTS = Path(__file__).resolve().parent / "results"
BUGS_FILE = RESULTS / "fix_tasks.jsonl"
MESSAGE = "Tests fail: `{name}` returns wrong results for some inputs."

_SWAP_CMP = {
    ast.Lt: "<=",
    ast.LtE: "<",
    ast.Gt: ">=",
    ast.GtE: ">",
    ast.Eq: "!=",
    ast.NotEq: "==",
}
_CMP_TEXT = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_SWAP_BIN = {ast.Add: ("+", "-"), ast.Sub: ("-", "+")}


@dataclass(frozen=True)
class Bug:
    task_id: str
    kind: str  # operator | off_by_one | variable
    line: int  # 1-based line of the bug in `source`
    before: str
    after: str
    function: str  # the function that holds the bug (the diagnostic points at it)
    source: str  # the buggy program


# -- bug injection ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mutation:
    kind: str
    line: int
    col: int
    end_col: int
    replacement: str


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def _mutations(source: str, body_from_line: int) -> list[_Mutation]:
    """Candidate single-token mutations on lines >= body_from_line (the canonical body)."""
    tree = ast.parse(source)
    lines = source.split("\n")
    out: list[_Mutation] = []
    for fn in _functions(tree):
        local = sorted(
            {a.arg for a in fn.args.args}
            | {
                n.id
                for n in ast.walk(fn)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
        )
        for node in ast.walk(fn):
            line = getattr(node, "lineno", 0)
            if line < body_from_line or getattr(node, "end_lineno", line) != line:
                continue
            text = lines[line - 1]
            if isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAP_CMP:
                a, b = node.left.end_col_offset or 0, node.comparators[0].col_offset
                op = _CMP_TEXT[type(node.ops[0])]
                at = text.find(op, a, b)
                if at >= 0 and node.left.end_lineno == line:
                    out.append(
                        _Mutation("operator", line, at, at + len(op), _SWAP_CMP[type(node.ops[0])])
                    )
            elif isinstance(node, ast.BinOp) and type(node.op) in _SWAP_BIN:
                old, new = _SWAP_BIN[type(node.op)]
                a, b = node.left.end_col_offset or 0, node.right.col_offset
                at = text.find(old, a, b)
                if at >= 0 and node.left.end_lineno == line:
                    out.append(_Mutation("operator", line, at, at + 1, new))
            elif (
                isinstance(node, ast.Constant)
                and type(node.value) is int
                and 0 <= node.value <= 100
                and node.col_offset is not None
            ):
                new_value = node.value + 1 if node.value % 2 == 0 else node.value - 1
                out.append(
                    _Mutation(
                        "off_by_one",
                        line,
                        node.col_offset,
                        node.end_col_offset or 0,
                        str(new_value),
                    )
                )
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in local:
                others = [n for n in local if n != node.id]
                if others:
                    pick = others[_stable(f"{node.id}:{line}") % len(others)]
                    out.append(
                        _Mutation("variable", line, node.col_offset, node.end_col_offset or 0, pick)
                    )
    return out


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _apply(source: str, m: _Mutation) -> str:
    lines = source.split("\n")
    text = lines[m.line - 1]
    lines[m.line - 1] = text[: m.col] + m.replacement + text[m.end_col :]
    return "\n".join(lines)


def _function_at(source: str, line: int) -> str:
    best = ""
    best_start = -1
    for fn in _functions(ast.parse(source)):
        if fn.lineno <= line <= (fn.end_lineno or fn.lineno) and fn.lineno > best_start:
            best, best_start = fn.name, fn.lineno
    return best


def make_bug(index: int, task: HumanEvalTask, attempts: int = 8) -> Bug | None:
    """The task's bug: kinds rotate with the task index; within a kind the candidates are
    tried in a hash order; the first that compiles and fails the task's tests is kept."""
    source = task.canonical_source
    body_from = task.prompt.count("\n") + 1
    candidates = _mutations(source, body_from)
    kinds = ["operator", "off_by_one", "variable"]
    kinds = kinds[index % 3 :] + kinds[: index % 3]
    ordered = sorted(
        candidates,
        key=lambda m: (kinds.index(m.kind), _stable(f"{task.task_id}:{m.line}:{m.col}")),
    )
    for m in ordered[:attempts]:
        buggy = _apply(source, m)
        try:
            compile(buggy, "task.py", "exec")
        except SyntaxError:
            continue
        if check_base(task, buggy).passed:
            continue  # an equivalent mutant: the tests cannot tell
        lines = source.split("\n")
        return Bug(
            task_id=task.task_id,
            kind=m.kind,
            line=m.line,
            before=lines[m.line - 1].strip(),
            after=buggy.split("\n")[m.line - 1].strip(),
            function=_function_at(source, m.line),
            source=buggy,
        )
    return None


def load_bugs(tasks: list[HumanEvalTask], limit: int, progress: Progress | None) -> list[Bug]:
    """The first `limit` bugs, built once and cached in BUGS_FILE (deterministic)."""
    cached: dict[str, Bug | None] = {}
    if BUGS_FILE.exists():
        for line in BUGS_FILE.read_text().splitlines():
            row = json.loads(line)
            cached[row["task_id"]] = Bug(**row["bug"]) if row["bug"] else None
    bugs: list[Bug] = []
    changed = False
    for index, task in enumerate(tasks):
        if len(bugs) >= limit:
            break
        if task.task_id not in cached:
            cached[task.task_id] = make_bug(index, task)
            changed = True
            if progress is not None:
                progress.advance(status=f"bug for {task.task_id}")
        bug = cached[task.task_id]
        if bug is not None:
            bugs.append(bug)
    if changed:
        RESULTS.mkdir(parents=True, exist_ok=True)
        with BUGS_FILE.open("w") as f:
            for task_id, bug in cached.items():
                f.write(
                    json.dumps({"task_id": task_id, "bug": asdict(bug) if bug else None}) + "\n"
                )
    return bugs


# -- running ----------------------------------------------------------------------------------


def diagnostic_span(source: str, function: str) -> tuple[int, int]:
    """The offsets of the function's name on its `def` line: where a failing test points."""
    for fn in _functions(ast.parse(source)):
        if fn.name == function:
            lines = source.split("\n")
            start = sum(len(line) + 1 for line in lines[: fn.lineno - 1])
            col = lines[fn.lineno - 1].index(function)
            return start + col, start + col + len(function)
    raise ValueError(function)


def run_one(engine: Any, task: HumanEvalTask, bug: Bug, mode: str) -> dict[str, Any]:
    parsed = Parsed.of(bug.source, "task.py", "python")
    start, end = diagnostic_span(bug.source, bug.function)
    plan = plan_fix(parsed, start, end, MESSAGE.format(name=bug.function))
    engine.reset()  # cold cache: every mode pays the same prompt
    run = run_plan(engine, plan, lambda: False, key="fix-bench", drafting=mode)
    record: dict[str, Any] = {
        "task_id": bug.task_id,
        "kind": bug.kind,
        "mode": mode,
        "total_ms": run.total_ms,
        "prompt_ms": run.prompt_ms,
        "predict_ms": run.predict_ms,
        "prompt_tokens": run.prompt_tokens,
        "generated": run.generated,
        "drafted": run.drafted,
        "accepted": run.accepted,
        "stop_reason": run.stop_reason,
    }
    try:
        outcome = outcome_of(plan, run)
    except ActionError as exc:
        record.update(applied=False, passed=False, error=str(exc), reply=run.reply)
        return record
    fixed = apply_edits(bug.source, outcome.edits)
    result = check_plus(task, fixed)
    record.update(
        applied=True,
        passed=result.passed,
        status=result.status,
        exact=fixed.strip() == task.canonical_source.strip(),
        changed_lines=sum(e.new_text.count("\n") + 1 for e in outcome.edits),
    )
    return record


def summarize(records: list[dict[str, Any]], modes: list[str]) -> list[RunSummary]:
    out = []
    for mode in modes:
        rs = [r for r in records if r["mode"] == mode]
        gen = sum(r["generated"] for r in rs)
        predict = sum(r["predict_ms"] for r in rs)
        drafted = sum(r["drafted"] for r in rs)
        out.append(
            RunSummary.of(
                f"fix drafting={mode}",
                [r["passed"] for r in rs],
                [r["total_ms"] for r in rs],
                extra={
                    "applied": sum(r["applied"] for r in rs),
                    "exact_canonical": sum(bool(r.get("exact")) for r in rs),
                    "mean_prompt_ms": sum(r["prompt_ms"] for r in rs) / max(1, len(rs)),
                    "mean_predict_ms": predict / max(1, len(rs)),
                    "mean_generated": gen / max(1, len(rs)),
                    "decode_tokens_per_s": gen / (predict / 1000) if predict else 0.0,
                    "draft_acceptance": sum(r["accepted"] for r in rs) / drafted if drafted else 0,
                },
            )
        )
    return out


def markdown(summaries: list[RunSummary], bugs: list[Bug], meta: dict[str, Any]) -> str:
    kinds = {k: sum(b.kind == k for b in bugs) for k in ("operator", "off_by_one", "variable")}
    rows = [
        [
            s.name,
            s.total,
            s.passed,
            100 * s.pass_rate,
            s.extra["applied"],
            s.latency.mean,
            s.latency.p50,
            s.latency.p90,
            s.extra["mean_prompt_ms"],
            s.extra["mean_predict_ms"],
            s.extra["mean_generated"],
            s.extra["decode_tokens_per_s"],
            100 * float(s.extra["draft_acceptance"] or 0),
        ]
        for s in summaries
    ]
    table = markdown_table(
        [
            "config",
            "tasks",
            "fixed (plus tests pass)",
            "fixed %",
            "edit applied",
            "mean ms",
            "p50 ms",
            "p90 ms",
            "prompt ms",
            "decode ms",
            "tokens",
            "decode tok/s",
            "draft accept %",
        ],
        rows,
    )
    return (
        "# Fix with AI on injected HumanEval+ bugs\n\n"
        f"Model: {meta['model']}. Tasks: {len(bugs)} ({kinds}). "
        "Latency is one whole action (prompt + decode), cold cache, per drafting mode.\n\n" + table
    )


def plot(records: list[dict[str, Any]], modes: list[str], path: Path) -> Path:
    """Whole-action latency per drafting mode (ECDF), fixed share in the legend."""
    distributions = {}
    for mode in modes:
        rows = [r for r in records if r["mode"] == mode]
        fixed = sum(bool(r["passed"]) for r in rows)
        distributions[f"drafting={mode} ({fixed}/{len(rows)} fixed)"] = [
            r["total_ms"] for r in rows
        ]
    return plot_latency(distributions, path, title="Fix with AI: latency of one action")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N bugs (default: all)")
    ap.add_argument("--modes", default="none,auto", help="drafting modes, comma-separated")
    ap.add_argument("--stem", default="fix_bench", help="results file stem")
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]

    tasks = load_humaneval_plus()
    limit = args.limit or len(tasks)
    with Progress(min(limit, len(tasks)), "bugs") as progress:
        bugs = load_bugs(tasks, limit, progress)
    by_id = {t.task_id: t for t in tasks}

    from airgap_lsp.completion.backend import load_backend
    from airgap_lsp.completion.settings import Settings

    loaded = load_backend(Settings())
    engine = getattr(loaded.backend, "engine", None)
    if engine is None:
        print("fix_bench needs the real model (unset AIRGAP_LSP_FAKE_BACKEND)", file=sys.stderr)
        return 2
    # Page the weights in and let the cost model see a few steps before anything is timed.
    for mode in modes:
        warm = engine.target.tokenize("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n")
        engine.generate("warm-up", warm, DecodeOptions(max_tokens=8, drafting=mode))
    records: list[dict[str, Any]] = []
    t0 = time.monotonic()
    with Progress(len(bugs) * len(modes), "fix") as progress:
        for i, bug in enumerate(bugs):
            order = modes[i % len(modes) :] + modes[: i % len(modes)]
            for mode in order:
                record = run_one(engine, by_id[bug.task_id], bug, mode)
                records.append(record)
                verdict = "fixed" if record["passed"] else "not fixed"
                progress.advance(
                    status=f"{bug.task_id} {mode} {verdict} {record['total_ms'] / 1000:.1f}s"
                )
    summaries = summarize(records, modes)
    meta = {
        "model": loaded.backend.description,
        "tasks": len(bugs),
        "modes": modes,
        "wall_seconds": round(time.monotonic() - t0, 1),
        "limit": args.limit,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path, md_path = write_results(summaries, RESULTS, args.stem, meta=meta)
    md_path.write_text(markdown(summaries, bugs, meta))
    with (RESULTS / f"{args.stem}_tasks.jsonl").open("w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    plot(records, modes, RESULTS / f"{args.stem}.png")
    print(md_path.read_text(), file=sys.stderr)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
