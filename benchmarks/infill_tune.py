"""The fast tuning loop for stop rules and output clean-up, on the tuning split only.

Every prompt's greedy output is generated once without a stop rule or time budget (up to
`RECORD_TOKENS` tokens, or the end token) and kept in a memo file; later runs replay it
through the same per-token stop logic as the engine's loop (`_replay`), so a change to
shaping, stop rules or clean-up is measured on hundreds of real-code holes in seconds. A
prompt the memo has not seen (planning changed) is generated and recorded. What it measures is
the text given enough time: time budgets are off, latency is not reported.

`--tested`: the same loop on the tuning split of `infill_tested` (holes in small Python
programs), where each output is also graded by running the program's tests (`pass`).

The held-out quarter of `infill_real` is refused here by construction: tuning decisions are
made on `--split tuning` only, and the held-out figures come from `infill_real` alone.

    python -m benchmarks.infill_tune [--limit N] [--kinds line,multiline,span,eol]
        [--languages python,go] [--show] [--memo PATH] [--tested]
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import dataclasses
import hashlib
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.infill_metrics import grade
from benchmarks.infill_real import Outcome, load_sources, make_runners
from benchmarks.infill_sources import cache_dir
from benchmarks.infill_tasks import build_tasks, select

RECORD_TOKENS = 128  # the longest suggestion (completion.maxTokens)


class Memo:
    """Raw greedy outputs by prompt (tokens, ban, healing, stop tokens), on disk as JSON lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, tuple[list[int], str]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                row = json.loads(line)
                self.rows[row["key"]] = (row["tokens"], row["reason"])
        self.hits = 0
        self.misses = 0
        self.trace: list[str] = []  # the raw outputs replayed since the last reset (--show)
        self.task_id = ""  # the task being run (recorded with each new output)

    @staticmethod
    def key(prompt: Sequence[int], options: Any) -> str:
        ban = None if options.ban is None else [options.ban[0], sorted(options.ban[1])]
        blob = json.dumps(
            [list(prompt), ban, options.heal, sorted(options.extra_stop_tokens)]
        ).encode()
        return hashlib.sha256(blob).hexdigest()

    def add(self, key: str, tokens: list[int], reason: str, prompt: Sequence[int]) -> None:
        """Keep an output (and its prompt, for studies of the model's own probabilities)."""
        self.rows[key] = (tokens, reason)
        row = {"key": key, "tokens": tokens, "reason": reason, "prompt": list(prompt)}
        row["task_id"] = self.task_id
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def _replay(engine: Any, tokens: list[int], reason: str, options: Any, stop: Any) -> Any:
    """The engine's loop over recorded tokens: the same text, stop-rule cut and reason."""
    from airgap_lsp.completion.engine import DecodeResult, DecodeStats

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = ""
    out: list[int] = []
    heal = options.heal
    end = "eog" if reason == "eog" else "max_tokens"
    cut: int | None = None
    for token in tokens:
        out.append(token)
        text += decoder.decode(engine.target.piece(token))
        visible = text[len(heal) :] if heal else text
        if stop is not None:
            cut = stop(visible)
            if cut is not None:
                end = "stop"
                break
        if len(out) >= options.max_tokens:
            end = "max_tokens"
            break
    else:
        if reason != "eog" and len(out) < options.max_tokens:
            end = "max_tokens"  # the record ran out: longer than RECORD_TOKENS
    visible = text[len(heal) :] if heal else text
    stats = DecodeStats(prompt_tokens=0, generated=len(out))
    return DecodeResult(out, visible if cut is None else visible[:cut], end, stats)


def install_memo(engine: Any, memo: Memo) -> None:
    """Route the engine's generations through the memo."""
    real = engine.generate

    def generate(key, prompt, options, stop=None, is_cancelled=lambda: False):  # type: ignore[no-untyped-def]
        k = Memo.key(prompt, options)
        if k in memo.rows:
            memo.hits += 1
        else:
            memo.misses += 1
            full = dataclasses.replace(
                options, max_tokens=RECORD_TOKENS, max_prompt_ms=None, max_predict_ms=None
            )
            result = real(key, prompt, full, None, is_cancelled)
            memo.add(k, list(result.tokens), result.stop_reason, prompt)
        tokens, reason = memo.rows[k]
        result = _replay(engine, tokens, reason, options, stop)
        raw = engine.target.detokenize(tokens)
        memo.trace.append(
            f"prompt {len(prompt)} tokens, heal={options.heal!r}, ban={options.ban is not None},"
            f" max_tokens={options.max_tokens}: {result.stop_reason} {raw!r}"
        )
        return result

    engine.generate = generate


def _score(output: str | None, task: Any, passes: Any = None) -> dict[str, Any]:
    g = grade(output, task.prefix, task.expected, task.suffix, task.language, task.path)
    score = {
        "exact": g.exact,
        "starts": g.starts,
        "edit": g.edit_similarity,
        "parses": g.parses,
        "empty": g.empty,
    }
    if passes is not None:
        score["pass"] = passes(task, output)
    return score


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--kinds", default="")
    p.add_argument("--languages", default="")
    p.add_argument("--show", action="store_true", help="print every failing task")
    p.add_argument("--memo", type=Path, default=cache_dir() / "runs" / "tune_memo.jsonl")
    p.add_argument("--out", type=Path, default=cache_dir() / "runs" / "tune_last.jsonl")
    p.add_argument("--raw", action="store_true", help="with --show: the raw outputs, context")
    p.add_argument("--ids", default="", help="comma-separated task ids only")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    p.add_argument("--prompt-ms-per-token", type=float, default=6.0)
    p.add_argument(
        "--floor",
        default="",
        help="PREFIX,SUFFIX: the prompt's token floors under the time budget (a what-if)",
    )
    p.add_argument(
        "--naive", action="store_true", help="also the naive baseline on the same tasks (memo'd)"
    )
    p.add_argument(
        "--tested", action="store_true", help="infill_tested's tuning tasks, graded by tests"
    )
    args = p.parse_args(argv)
    with contextlib.ExitStack() as stack:
        return _run(args, stack)


def _tested_tasks(stack: contextlib.ExitStack, limit: int | None) -> tuple[list[Any], Any]:
    """`infill_tested`'s tuning tasks and a sandbox that grades an output by the tests."""
    from benchmarks import infill_tested as tested

    root = tested.fetch()
    programs, _ = tested.read_programs(root)
    sandbox = stack.enter_context(tested.Sandbox(root))
    cache = tested.GateCache(tested.tested_dir() / "gates.json")
    tasks, _ = tested.build_tasks(
        programs, lambda t, o: tested.gate(sandbox, t, o), cache, seed=0, say=lambda _m: None
    )

    def passes(task: Any, output: str | None) -> bool:
        return tested.grade_program(sandbox, task, task.original, output).passed

    return tested.choose(tasks, "tuning", limit), passes


def _run(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    passes = None
    if args.tested:
        tasks, passes = _tested_tasks(stack, args.limit)
    else:
        _, files = load_sources()
        tasks = select(build_tasks(files), "tuning", args.limit)
    if args.ids:
        tasks = [t for t in tasks if t.task_id in args.ids.split(",")]
    if args.kinds:
        tasks = [t for t in tasks if t.kind in args.kinds.split(",")]
    if args.languages:
        tasks = [t for t in tasks if t.language in args.languages.split(",")]
    if args.floor:
        from airgap_lsp.completion import planner

        planner.MIN_PREFIX_TOKENS, planner.MIN_SUFFIX_TOKENS = map(int, args.floor.split(","))
    args.memo.parent.mkdir(parents=True, exist_ok=True)
    memo = Memo(args.memo)
    from airgap_lsp.completion.settings import ModelSettings, Settings

    def hook(engine: Any) -> None:
        install_memo(engine, memo)
        # The prompt fits the time budget by the measured prompt speed; a fixed speed keeps
        # the prompts (and the memo's keys) the same however loaded the machine is.
        engine.prompt_ms_per_token = args.prompt_ms_per_token

    settings = Settings(models=ModelSettings(threads=args.threads))
    configs = ["airgap", "naive"] if args.naive else ["airgap"]
    runners, _ = make_runners(configs, hook=hook, settings=settings)
    scores: dict[str, list[dict[str, float]]] = defaultdict(list)
    naive_scores: dict[str, list[dict[str, float]]] = defaultdict(list)
    rows = []
    t0 = time.monotonic()
    for i, task in enumerate(tasks):
        memo.trace.clear()
        memo.task_id = task.task_id
        try:
            outcome = runners["airgap"](task, f"file:///tune/{i}/{task.package}/{task.path}")
        except Exception as exc:  # report, keep going
            outcome = Outcome(None, 0.0, error=f"{type(exc).__name__}: {exc}")
        s = _score(outcome.output, task, passes)
        scores[task.kind].append(s)
        scores[task.language].append(s)
        scores["all"].append(s)
        naive_output = None
        if args.naive:
            naive = runners["naive"](task, f"file:///tune-naive/{i}/{task.package}/{task.path}")
            naive_output = naive.output
            ns = _score(naive.output, task, passes)
            for group in (task.kind, task.language, "all"):
                naive_scores[group].append(ns)
        rows.append(
            {
                "task_id": task.task_id,
                "kind": task.kind,
                "language": task.language,
                **s,
                "output": outcome.output,
                "naive": naive_output,
                "expected": task.expected,
                "error": outcome.error,
                # what the stop rules let the model write (the cost of waiting for an end)
                "generated": outcome.generated_tokens,
            }
        )
        if args.show and not s["exact"]:
            print(f"--- {task.task_id} {task.kind} {task.language} edit={s['edit']:.2f}")
            print(f"expected: {task.expected!r}\n  output: {outcome.output!r}")
            if args.naive:
                print(f"   naive: {naive_output!r}")
            if args.raw:
                lines = task.prefix.split("\n")[-4:]
                print("  before: " + "\n  before: ".join(lines))
                print("  after:  " + "\n  after:  ".join(task.suffix.split("\n")[:4]))
                for t in memo.trace:
                    print(f"  raw: {t}")
                print(f"  log: {outcome.detail}")
        if (i + 1) % 25 == 0:
            print(f"{i + 1}/{len(tasks)} {time.monotonic() - t0:.0f} s", file=sys.stderr)
        sys.stdout.flush()
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"memo: {memo.hits} replayed, {memo.misses} generated")
    generated = sum(r["generated"] for r in rows)
    each = generated / max(len(rows), 1)
    print(f"tokens the stop rules let the model write: {generated} ({each:.1f} a task)")
    metrics = ("exact", "starts", "edit", "parses", "empty") + (("pass",) if args.tested else ())
    print(f"{'':16} {'n':>4} " + " ".join(f"{k:>6}" for k in metrics))
    for name, items in sorted(scores.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        for label, group in (("", items), (" naive", naive_scores.get(name, []))):
            if not group:
                continue
            n = len(group)
            means = (sum(float(x[k]) for x in group) / n for k in metrics)
            print(f"{name + label:16} {n:4d} " + " ".join(f"{m:6.1%}" for m in means))
    errors = Counter(r["error"].split(":")[0] for r in rows if r["error"])
    if errors:
        print("errors:", dict(errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
