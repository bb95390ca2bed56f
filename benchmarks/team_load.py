"""Many editors, one engine (issue 17): N simulated developers typing at once against one shared
llama-server, side by side with the same N developers each on their own in-process model, on
the same cores.

Owns the rounds (a backend and a number of developers N), running one round and its report.
In a round every developer is their own airgap-lsp process over stdio, as each editor starts
its own, and replays the latency suite's keystroke model (`latency_session.run_task`: a new
document, the first suggestion, then typing with debounce, cancellation and acceptance) on
their own documents, all at once (starts staggered over a second or two, as people do not
open files in the same millisecond).

- `shared`: one llama-server with `--parallel N` slots (`-c` N x the per-slot context) and the
  default 1.5B model; the developers' servers use `models.backend = "llama-server"`.
- `local`: each developer's server runs the default in-process models with
  `models.threads = max(1, cores // N)`, so N developers share the same cores.

Reported per round: first-request and while-typing latency p50/p95 (answered requests only),
answered and cancelled requests, errors, tokens/s (of the suggestions shown, all developers,
per second of the round; on llama-server also every token it generated, from `/slots`) and
answered requests/s, the peak memory of the processes; JSON + Markdown + a plot of p95 against N in
`benchmarks/results/team_load.*` (`team_load_quick.*` with `--quick`).

    python -m benchmarks.team_load [--users 1 2 4 8 16] [--tasks K] [--backends shared local]
    python -m benchmarks.team_load --quick     # N = 1, 2; one short task each; ~1 minute

llama-server is built once with `python -m benchmarks.llama_server build`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import Progress, markdown_table, write_json
from benchmarks.harness.processes import child_processes
from benchmarks.harness.stats import Scalar
from benchmarks.latency_lsp import LspTransport
from benchmarks.latency_report import ConfigResult, metrics
from benchmarks.latency_session import Typing, run_task
from benchmarks.latency_tasks import LatencyTask, load_tasks
from benchmarks.llama_server import MODEL, LlamaServer, binary_path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BACKENDS = ("shared", "local")
USERS = (1, 2, 4, 8, 16)
SLOT_CONTEXT = 4096  # tokens per llama-server slot: the local engine's default context


@dataclass(frozen=True)
class Plan:
    users: tuple[int, ...]
    backends: tuple[str, ...]
    tasks: tuple[LatencyTask, ...]  # dealt out to the developers, K each
    per_user: int
    typing: Typing
    stagger_s: float
    completion: dict[str, Any]  # completion options for every developer ({}: the defaults)
    results_dir: Path
    stem: str
    load_timeout_s: float


@dataclass
class Round:
    backend: str
    users: int
    result: ConfigResult
    seconds: float = 0.0  # from the first developer's start to the last one's end
    # llama-server's tasks seen in /slots: id_task -> (prompt tokens evaluated, generated)
    engine: dict[int, tuple[int, int]] = field(default_factory=dict)
    peak_rss_mb: float = math.nan  # all processes of the round (engine + language servers)
    load_average: float = math.nan


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def options(
    backend: str, users: int, url: str = "", completion: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The developers' initializationOptions: the defaults a user gets (time budgets
    included) unless `completion` overrides some."""
    if backend == "shared":
        models: dict[str, Any] = {"backend": "llama-server", "endpoint": url}
    else:
        models = {"threads": max(1, cores() // users)}
    return {"models": models, **({"completion": completion} if completion else {})}


def tasks_of(plan: Plan, developer: int) -> list[LatencyTask]:
    n = len(plan.tasks)
    return [plan.tasks[(developer * plan.per_user + j) % n] for j in range(plan.per_user)]


def _uri(developer: int, task: LatencyTask) -> str:
    safe = "".join(c if c.isalnum() else "_" for c in task.task_id)
    return f"file:///airgap-team/dev{developer}/{safe}.py"


def _rss_mb(pids: Sequence[int]) -> float:
    total = 0.0
    # With each language server's engine process.
    for pid in [*pids, *(child for child, _ in child_processes(pids))]:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            if found:
                total += int(found.group(1)) / 1024
    return total


def _slots(url: str) -> list[dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{url}/slots", timeout=5) as response:
            data = json.loads(response.read())
    except (OSError, ValueError):
        return []
    return [s for s in data if isinstance(s, dict)] if isinstance(data, list) else []


async def _sample_engine(url: str, round_: Round, stop: asyncio.Event) -> None:
    """What llama-server evaluated and generated for every task, from `/slots` sampled every
    0.2 s: a slot shows its current task, or its last one once idle, so only a task that
    started and ended between two samples on one slot is missed. (`/metrics` counts only
    tasks that ran to their end, never the many whose stream the client closed.)"""
    while not stop.is_set():
        for slot in await asyncio.to_thread(_slots, url):
            task = slot.get("id_task")
            if not isinstance(task, int):
                continue
            decoded = (slot.get("next_token") or [{}])[0].get("n_decoded", 0)
            prompt = slot.get("n_prompt_tokens_processed", 0)
            seen = round_.engine.get(task, (0, 0))
            round_.engine[task] = (max(seen[0], int(prompt)), max(seen[1], int(decoded)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


async def _developer(
    index: int, transport: LspTransport, plan: Plan, round_: Round, delay_s: float
) -> None:
    await asyncio.sleep(delay_s)
    for task in tasks_of(plan, index):
        run = await run_task(transport, task, _uri(index, task), plan.typing)
        round_.result.runs.append(run)


async def _sample_rss(pids: list[int], round_: Round, stop: asyncio.Event) -> None:
    peak = 0.0
    while not stop.is_set():
        peak = max(peak, _rss_mb(pids))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    round_.peak_rss_mb = peak


async def run_round(plan: Plan, backend: str, users: int, progress: Progress) -> Round:
    name = f"{backend} x{users}"
    round_ = Round(backend, users, ConfigResult(name, ""))
    log_dir = plan.results_dir / f"{plan.stem}_logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    server: LlamaServer | None = None
    transports: list[LspTransport] = []
    try:
        url = ""
        if backend == "shared":
            server = LlamaServer(
                model=MODEL,
                threads=cores(),
                context=users * SLOT_CONTEXT,
                extra_args=("--parallel", str(users)),
                log_path=log_dir / f"llama_server_x{users}.log",
            )
            (log_dir / f"llama_server_x{users}.log").unlink(missing_ok=True)
            await asyncio.to_thread(server.start)
            url = server.url
            round_.result.description = "llama-server " + " ".join(server.command()[1:])
        else:
            round_.result.description = f"in-process, threads={max(1, cores() // users)}"
        for i in range(users):
            log = log_dir / f"{backend}_x{users}_dev{i}.log"
            log.unlink(missing_ok=True)
            transports.append(
                LspTransport(
                    f"{name} dev{i}",
                    options(backend, users, url, plan.completion),
                    load_timeout_s=plan.load_timeout_s,
                    log_path=log,
                )
            )
        t_load = time.monotonic()
        await asyncio.gather(*(t.__aenter__() for t in transports))
        round_.result.load_seconds = time.monotonic() - t_load
        round_.result.model = transports[0].model
        pids = [t.client._server.pid for t in transports if t.client._server is not None]
        if server is not None and server.process is not None:
            pids.append(server.process.pid)
        stop = asyncio.Event()
        samplers = [asyncio.create_task(_sample_rss(pids, round_, stop))]
        if url:
            samplers.append(asyncio.create_task(_sample_engine(url, round_, stop)))
        t0 = time.monotonic()
        step = plan.stagger_s / users
        await asyncio.gather(
            *(_developer(i, t, plan, round_, i * step) for i, t in enumerate(transports))
        )
        round_.seconds = time.monotonic() - t0
        stop.set()
        await asyncio.gather(*samplers)
        for t in transports:
            round_.result.completions += t.completions
    except Exception as exc:  # one failed round must not lose the others
        round_.result.error = f"{type(exc).__name__}: {exc}"[:300]
        for t in transports:
            tail = t.stderr_tail()
            if tail:
                print(f"[{t.name}] server stderr:\n{tail}", file=sys.stderr)
                break
    finally:
        await asyncio.gather(*(t.aclose() for t in transports), return_exceptions=True)
        if server is not None:
            await asyncio.to_thread(server.stop)
    round_.load_average = os.getloadavg()[0]
    progress.advance(status=name)
    return round_


def row(r: Round) -> dict[str, Any]:
    """The reported numbers of one round."""
    m = metrics(r.result)
    first = [q for run in r.result.runs for q in run.requests if q.phase == "first"]
    typing = [q for run in r.result.runs for q in run.requests if q.phase == "typing"]
    every = first + typing
    answered = sum(not q.cancel_sent and not q.server_cancelled and q.error is None for q in every)
    generated = sum(int(c.get("generatedTokens") or 0) for c in r.result.completions)
    seconds = r.seconds or math.nan
    engine = list(r.engine.values())
    generated_engine = sum(g for _, g in engine) if engine else math.nan
    return {
        "backend": r.backend,
        "users": r.users,
        "first": m["first"],
        "typing": m["typing"],
        "requests": len(every),
        "answered": answered,
        "cancelled": sum(q.cancel_sent or q.server_cancelled for q in every),
        "errors": m["errors"],
        "shown_share": m["shown_share"],
        # Tokens of the suggestions shown (the in-process engine's only count), and what
        # llama-server generated in all, for requests cancelled or cut short too.
        "tokens_per_second": generated / seconds,
        "engine_tokens_per_second": generated_engine / seconds,
        "engine_tasks": len(engine),
        "engine_prompt_tokens": sum(p for p, _ in engine) if engine else math.nan,
        "requests_per_second": answered / seconds,
        "seconds": round(r.seconds, 1),
        "load_seconds": round(r.result.load_seconds, 1),
        "peak_rss_mb": round(r.peak_rss_mb),
        "load_average": r.load_average,
        "description": r.result.description,
        "error": r.result.error,
        "first_ms": m["first_ms"],
        "typing_ms": m["typing_ms"],
    }


HEADERS = (
    "backend", "N", "first p50", "first p95", "typing p50", "typing p95", "requests",
    "answered", "cancelled", "errors", "tok/s", "engine tok/s", "req/s", "peak RSS MB",
)  # fmt: skip


def markdown(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    columns = (
        lambda r: r["backend"], lambda r: r["users"],
        lambda r: r["first"]["p50"], lambda r: r["first"]["p95"],
        lambda r: r["typing"]["p50"], lambda r: r["typing"]["p95"],
        lambda r: r["requests"], lambda r: r["answered"], lambda r: r["cancelled"],
        lambda r: r["errors"], lambda r: r["tokens_per_second"],
        lambda r: r["engine_tokens_per_second"], lambda r: r["requests_per_second"],
        lambda r: r["peak_rss_mb"],
    )  # fmt: skip
    table: list[list[Scalar]] = [[column(r) for column in columns] for r in rows]
    notes = [
        f"- {meta['per_user']} task(s) per developer ({meta['n_line']} single-line, "
        f"{meta['n_body']} bodies in the pool), typing {meta['chars_per_second']} chars/s, "
        f"debounce {meta['debounce_ms']} ms, at most {meta['max_chars']} chars per task; "
        f"starts staggered over {meta['stagger_s']} s; {meta['cores']} cores; completion "
        f"options {meta['completion'] or 'the defaults (time budgets included)'}.",
        "- shared: one llama-server, `--parallel N`, the default 1.5B model, every developer's "
        "airgap-lsp on `backend: llama-server`; local: each developer's airgap-lsp with the "
        "default in-process models and `threads = max(1, cores // N)`.",
        "- Latencies in ms over answered requests (first = right after opening a document; "
        "typing = debounced requests while typing). tok/s = tokens of the suggestions "
        "shown, all developers, per second of the round; engine tok/s = every token "
        "llama-server generated (cancelled and cut-short requests too; `/slots` sampled "
        "every 0.2 s), per second of the round.",
        f"- Server code at {meta.get('revision') or 'unknown revision'}; finished "
        f"{meta.get('finished', '')}. Shared machine: load average per round in the JSON.",
    ]
    for r in rows:
        if r["error"]:
            notes.append(f"- {r['backend']} x{r['users']}: failed: {r['error']}")
    return (
        "# Many editors, one engine\n\n"
        + "\n".join(notes)
        + "\n\n"
        + markdown_table(HEADERS, table)
    )


def plot(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """p95 latency against N, first request and while typing, one line per backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=120, sharey=False)
    try:
        for ax, phase, title in zip(
            axes, ("first", "typing"), ("first request", "while typing"), strict=True
        ):
            for backend in BACKENDS:
                points = [
                    (r["users"], r[phase]["p95"])
                    for r in rows
                    if r["backend"] == backend and not math.isnan(r[phase]["p95"])
                ]
                if points:
                    xs, ys = zip(*sorted(points), strict=True)
                    ax.plot(xs, ys, marker="o", label=backend)
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted({r["users"] for r in rows}))
            ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.set_xlabel("developers (N)")
            ax.set_ylabel("p95 latency (ms)")
            ax.set_title(f"p95, {title}")
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def write(rounds: Sequence[Round], plan: Plan, meta: dict[str, Any]) -> dict[str, Path]:
    rows = [row(r) for r in rounds]
    out = plan.results_dir
    paths = {"json": write_json([], out / f"{plan.stem}.json", {**meta, "rounds": rows})}
    md = out / f"{plan.stem}.md"
    md.write_text(markdown(rows, meta))
    paths["md"] = md
    paths["png"] = plot(rows, out / f"{plan.stem}.png")
    return paths


def _meta(plan: Plan, started: str) -> dict[str, Any]:
    from benchmarks.harness.revision import git_revision

    return {
        "revision": git_revision(),
        "users": list(plan.users),
        "backends": list(plan.backends),
        "per_user": plan.per_user,
        "n_line": sum(t.kind == "line" for t in plan.tasks),
        "n_body": sum(t.kind == "body" for t in plan.tasks),
        "task_ids": [t.task_id for t in plan.tasks],
        "chars_per_second": plan.typing.chars_per_second,
        "debounce_ms": plan.typing.debounce_ms,
        "max_chars": plan.typing.max_chars,
        "seed": plan.typing.seed,
        "stagger_s": plan.stagger_s,
        "completion": plan.completion,
        "cores": cores(),
        "slot_context": SLOT_CONTEXT,
        "started": started,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


async def run(plan: Plan) -> tuple[list[Round], dict[str, Path]]:
    plan.results_dir.mkdir(parents=True, exist_ok=True)
    if "shared" in plan.backends and not binary_path().exists():
        raise SystemExit(f"{binary_path()} not built: python -m benchmarks.llama_server build")
    rounds: list[Round] = []
    paths: dict[str, Path] = {}
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    with Progress(len(plan.users) * len(plan.backends), label="team load") as progress:
        for users in plan.users:
            for backend in plan.backends:
                rounds.append(await run_round(plan, backend, users, progress))
                # Written after every round: a long run that is stopped keeps what it did.
                paths = write(rounds, plan, _meta(plan, started))
    return rounds, paths


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.team_load", description=__doc__)
    p.add_argument("--quick", action="store_true", help="N = 1, 2; one short task each")
    p.add_argument("--users", type=int, nargs="+", default=None, help="N values (1 2 4 8 16)")
    p.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    p.add_argument("--tasks", type=int, default=None, help="tasks per developer (default 2)")
    p.add_argument("--cps", type=float, default=8.0, help="typing rate, characters/s")
    p.add_argument("--debounce-ms", type=float, default=200.0)
    p.add_argument("--max-chars", type=int, default=None, help="type at most N chars per task")
    p.add_argument("--stagger-s", type=float, default=2.0, help="developers' starts spread")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--completion",
        default="{}",
        help="completion options for every developer, JSON (e.g. '{\"maxPromptMs\": 0}')",
    )
    p.add_argument("--request-timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--stem", default=None, help="output names (team_load, team_load_quick)")
    p.add_argument("--load-timeout", type=float, default=600.0, help="seconds to load models")
    return p.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    users = tuple(args.users or ((1, 2) if args.quick else USERS))
    per_user = args.tasks or (1 if args.quick else 2)
    max_chars = args.max_chars if args.max_chars is not None else (40 if args.quick else 120)
    needed = max(users) * per_user
    # Three single-line tasks for one body, spread over each set, dealt out in a seeded order:
    # every developer their own documents, with lines and bodies mixed.
    bodies = max(1, needed // 4)
    pool = load_tasks(needed - bodies, bodies, "spread")
    random.Random(args.seed).shuffle(pool)
    return Plan(
        users=users,
        backends=tuple(args.backends),
        tasks=tuple(pool),
        per_user=per_user,
        typing=Typing(
            chars_per_second=args.cps,
            debounce_ms=args.debounce_ms,
            max_chars=max_chars,
            seed=args.seed,
            request_timeout_s=args.request_timeout,
        ),
        stagger_s=args.stagger_s,
        completion=json.loads(args.completion),
        results_dir=args.results_dir,
        stem=args.stem or ("team_load_quick" if args.quick else "team_load"),
        load_timeout_s=args.load_timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    plan = plan_from(parse_args(argv))
    rounds, paths = asyncio.run(run(plan))
    print(paths["md"].read_text())
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 1 if all(r.result.error for r in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
