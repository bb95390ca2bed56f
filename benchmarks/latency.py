"""Editor-realistic latency suite: configurations of airgap-lsp (and optionally a llama.cpp
`/infill` server) compared on the same tasks, typed by the same simulated user.

Each configuration is a fresh server process driven over stdio like Neovim's native inline
completion drives it (see `latency_session`). Reports latency percentiles of the first request
on a new document and of requests while typing, tokens/s, draft acceptance, typed-ahead and
prefetch hit rates, the share of requests cancelled, and pass@1 of the first suggestion; typing
latency also for single-line tasks alone (the issue's targets are stated for them); writes
`latency.json`, `latency.md`, `latency_first.png`, `latency_typing.png` and
`latency_typing_line.png` under `benchmarks/results/`.

    python -m benchmarks.latency [--quick] [--configs target auto ...] [--tasks N] [--bodies M]
                                 [--order file|spread] [--scenario cold same-file realistic]
                                 [--infill-url http://127.0.0.1:8012/infill] [--llama-server]

The full suite (the first 40 single-line tasks and 10 bodies in file order, all five
configurations and llama-server;
about 30 minutes on 2 idle cores) after building llama-server once:

    python -m benchmarks.llama_server build
    nice -n 5 python -m benchmarks.latency --llama-server
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.harness import Progress, run_parallel
from benchmarks.harness.revision import git_revision
from benchmarks.latency_infill import InfillTransport
from benchmarks.latency_lsp import LspTransport
from benchmarks.latency_report import ConfigResult, write
from benchmarks.latency_session import Transport, Typing, run_task
from benchmarks.latency_tasks import Grade, LatencyTask, grade, load_tasks

if TYPE_CHECKING:
    from benchmarks.llama_server import LlamaServer

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET, SMALL = "qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"

# initializationOptions per configuration; None = the server's defaults.
CONFIGS: dict[str, dict[str, Any] | None] = {
    "target": {"models": {"target": TARGET, "draft": ""}, "completion": {"drafting": "none"}},
    "target+draft": {
        "models": {"target": TARGET, "draft": SMALL},
        "completion": {"drafting": "model"},
    },
    "target+ngram": {
        "models": {"target": TARGET, "draft": ""},
        "completion": {"drafting": "ngram"},
    },
    "small": {"models": {"target": SMALL, "draft": ""}},
    "auto": None,
    # The defaults with the engine in the server's process (before issue 15's process boundary):
    # the cost of the boundary is `auto` against this, in one run.
    "auto-in-process": None,
    # The defaults without idle work (no warming on open, no pre-warm at a resting cursor).
    "auto-no-prewarm": {"completion": {"prewarm": False}},
}
ENVIRONMENTS: dict[str, dict[str, str]] = {"auto-in-process": {"AIRGAP_LSP_ENGINE_PROCESS": "0"}}
QUICK_CONFIGS = ("small", "auto")
LLAMA_SERVER = "llama-server"
# The defaults on a remote engine: airgap-lsp with `models.backend: llama-server` on a
# llama-server of its own, started as for the llama-server configuration (same binary, model
# and flags), so the two compare our LSP with llama.vim's protocol on one engine.
REMOTE = "remote"
INFILL = "infill"
# How the first request comes (latency_session.Typing), and the name suffix of its results:
# cold = asked right after opening, each task a file of its own; same-file = the same, but the
# tasks cut from one HumanEval problem reopen that problem's file (a user reopening a file);
# realistic = the file is read and the cursor rests at the place first. Typing is measured in
# the cold scenario only.
SCENARIOS = {"cold": "", "same-file": " (same file)", "realistic": " (realistic)"}


@dataclass(frozen=True)
class Plan:
    configs: tuple[str, ...]
    tasks: tuple[LatencyTask, ...]
    order: str
    typing: Typing
    scenarios: tuple[str, ...]  # see SCENARIOS
    infill_url: str | None
    llama_server: bool
    remote: bool
    checks: bool
    results_dir: Path
    stem: str
    load_timeout_s: float
    log_level: str = "warning"
    same_file: bool = False  # tasks of one problem reopen one file (the "same-file" scenario)


def _uri(task: LatencyTask, same_file: bool = False) -> str:
    """Each task's document: a file of its own, or (`same_file`) the file of its HumanEval
    problem, which every task cut from that problem reopens, as a user reopens a file."""
    name = task.task_id
    problem = re.search(r"HumanEval/\d+", name)
    if same_file and problem is not None:
        name = problem.group(0)
    safe = "".join(c if c.isalnum() else "_" for c in name)
    return f"file:///airgap-latency/{safe}.py"


async def _drive(
    transport: Transport, plan: Plan, result: ConfigResult, progress: Progress
) -> None:
    for task in plan.tasks:
        run = await run_task(transport, task, _uri(task, plan.same_file), plan.typing)
        result.runs.append(run)
        progress.advance(status=f"{result.name} {task.task_id}")


async def _run_lsp(
    name: str, plan: Plan, progress: Progress, options: dict[str, Any] | None = None
) -> ConfigResult:
    options = CONFIGS.get(name, options)
    result = ConfigResult(name, "defaults" if options is None else _describe(options))
    log = plan.results_dir / f"{plan.stem}_{_slug(name)}.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, **ENVIRONMENTS.get(name, {})}
    transport = LspTransport(
        name,
        options,
        env=env,
        load_timeout_s=plan.load_timeout_s,
        log_path=log,
        log_level=plan.log_level,
    )
    try:
        async with transport:
            result.load_seconds = transport.load_seconds
            result.model = transport.model
            await _drive(transport, plan, result, progress)
            result.stats = await transport.stats()
            result.completions = transport.completions
    except Exception as exc:  # one broken configuration must not lose the others
        result.error = f"{type(exc).__name__}: {exc}"[:300]
        tail = transport.stderr_tail()
        if tail:
            print(f"[{name}] server stderr:\n{tail}", file=sys.stderr)
    return result


async def _run_infill(name: str, url: str, plan: Plan, progress: Progress) -> ConfigResult:
    result = ConfigResult(name, url, abandons=True, model=url)
    transport = InfillTransport(name, url)
    try:
        await _drive(transport, plan, result, progress)
        result.completions = transport.completions
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    return result


async def _on_llama_server(
    name: str,
    plan: Plan,
    log_name: str,
    run: Callable[[LlamaServer], Awaitable[ConfigResult]],
    abandons: bool = False,
) -> ConfigResult:
    """`run` against a llama-server of its own (the same binary, model and flags every time),
    logging to `<stem>_<log_name>.log`; stopped afterwards."""
    from benchmarks.llama_server import LlamaServer

    log = plan.results_dir / f"{plan.stem}_{log_name}.log"
    log.unlink(missing_ok=True)
    server = LlamaServer(log_path=log)
    try:
        await asyncio.to_thread(server.start)
    except Exception as exc:
        return ConfigResult(name, "llama-server", error=f"{exc}"[:300], abandons=abandons)
    try:
        return await run(server)
    finally:
        await asyncio.to_thread(server.stop)


async def _run_llama_server(plan: Plan, progress: Progress) -> ConfigResult:
    t0 = time.monotonic()

    async def run(server: LlamaServer) -> ConfigResult:
        result = await _run_infill(LLAMA_SERVER, server.infill_url, plan, progress)
        result.description = "llama-server " + " ".join(server.command()[1:])
        result.load_seconds = time.monotonic() - t0
        return result

    return await _on_llama_server(LLAMA_SERVER, plan, "llama_server", run, abandons=True)


async def _run_remote(plan: Plan, progress: Progress) -> ConfigResult:
    async def run(server: LlamaServer) -> ConfigResult:
        options = {"models": {"backend": "llama-server", "endpoint": server.url}}
        result = await _run_lsp(REMOTE, plan, progress, options)
        result.description = f"defaults, backend=llama-server ({' '.join(server.command()[1:])})"
        return result

    return await _on_llama_server(REMOTE, plan, "remote_llama_server", run)


def _describe(options: dict[str, Any]) -> str:
    parts = [f"{k}={v!r}" for section in options.values() for k, v in section.items()]
    return ", ".join(parts)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


_grades: dict[tuple[str, str], Grade] = {}


def _grade_all(plan: Plan, result: ConfigResult, workers: int = 2) -> None:
    """pass@1 of each first suggestion; identical suggestions are graded once per run."""
    by_id = {t.task_id: t for t in plan.tasks}
    todo = [run for run in result.runs if (run.task_id, run.first_suggestion or "") not in _grades]

    def one(run_index: int) -> Grade:
        run = todo[run_index]
        return grade(by_id[run.task_id], run.first_suggestion)

    for run, g in zip(todo, run_parallel(one, list(range(len(todo))), workers), strict=True):
        _grades[(run.task_id, run.first_suggestion or "")] = g
    for run in result.runs:
        result.grades[run.task_id] = _grades[(run.task_id, run.first_suggestion or "")]


def _meta(plan: Plan, started: str) -> dict[str, Any]:
    return {
        "revision": git_revision(),
        "n_line": sum(t.kind == "line" for t in plan.tasks),
        "n_body": sum(t.kind == "body" for t in plan.tasks),
        "chars_per_second": plan.typing.chars_per_second,
        "jitter": plan.typing.jitter,
        "pause_s": plan.typing.pause_s,
        "pause_prob": plan.typing.pause_prob,
        "debounce_ms": plan.typing.debounce_ms,
        "max_chars": plan.typing.max_chars,
        "seed": plan.typing.seed,
        "scenarios": list(plan.scenarios),
        "read_s": list(plan.typing.read_s),
        "rest_s": list(plan.typing.rest_s),
        "checks": plan.checks,
        "fake_backend": os.environ.get("AIRGAP_LSP_FAKE_BACKEND", "") not in ("", "0"),
        "order": plan.order,
        "task_ids": [t.task_id for t in plan.tasks],
        "load_average": list(os.getloadavg()),
        "started": started,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


async def run_suite(plan: Plan) -> tuple[list[ConfigResult], dict[str, Path]]:
    plan.results_dir.mkdir(parents=True, exist_ok=True)
    names = list(plan.configs)
    if plan.infill_url:
        names.append(INFILL)
    if plan.llama_server:
        names.append(LLAMA_SERVER)
    if plan.remote:
        names.append(REMOTE)
    results: list[ConfigResult] = []
    paths: dict[str, Path] = {}
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    runs = [(name, scenario) for scenario in plan.scenarios for name in names]
    with Progress(len(runs) * len(plan.tasks), label="latency") as progress:
        for name, scenario in runs:
            # Only the cold scenario types on: in the others typing is the same.
            this = plan
            if scenario == "realistic":
                typing = dataclasses.replace(plan.typing, realistic=True, max_chars=0)
                this = dataclasses.replace(plan, typing=typing)
            elif scenario == "same-file":
                typing = dataclasses.replace(plan.typing, max_chars=0)
                this = dataclasses.replace(plan, typing=typing, same_file=True)
            if name == INFILL and plan.infill_url:
                result = await _run_infill(INFILL, plan.infill_url, this, progress)
            elif name == LLAMA_SERVER:
                result = await _run_llama_server(this, progress)
            elif name == REMOTE:
                result = await _run_remote(this, progress)
            else:
                result = await _run_lsp(name, this, progress)
            result.name += SCENARIOS[scenario]
            # Grading runs after the server is gone so it does not compete for the CPU.
            if plan.checks and result.runs:
                await asyncio.to_thread(_grade_all, plan, result)
            result.load_average = os.getloadavg()[0]
            results.append(result)
            # Written after every configuration: a long run that is stopped keeps what it did.
            paths = write(results, plan.results_dir, plan.stem, _meta(plan, started))
            missing = len(plan.tasks) - len(result.runs)
            if missing:
                progress.advance(missing, status=f"{name} failed")
    return results, paths


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 single-line + 1 body task, 2 configs")
    p.add_argument(
        "--configs",
        nargs="+",
        choices=[*CONFIGS, "none"],
        default=None,
        help="airgap-lsp configurations ('none': only --infill-url / --llama-server)",
    )
    p.add_argument("--tasks", type=int, default=None, help="single-line tasks (default 40)")
    p.add_argument("--bodies", type=int, default=None, help="body tasks (default tasks / 4)")
    p.add_argument(
        "--order",
        choices=["file", "spread"],
        default=None,
        help="first tasks in file order (default; the llama-server anchor's set) or spread "
        "over the whole set (default with --quick)",
    )
    p.add_argument("--infill-url", default=None, help="a llama.cpp-style /infill endpoint")
    p.add_argument("--llama-server", action="store_true", help="compare with llama-server")
    p.add_argument(
        "--remote",
        action="store_true",
        help="also airgap-lsp on a llama-server of its own (models.backend = llama-server)",
    )
    p.add_argument(
        "--scenario",
        nargs="+",
        choices=list(SCENARIOS),
        default=["cold"],
        help="first request right after opening, each task a file of its own (cold), or the "
        "tasks of one problem reopening its file (same-file), or after reading 2-5 s and "
        "resting the cursor 0.5-1.5 s at the place (realistic); typing in the cold one only",
    )
    p.add_argument("--cps", type=float, default=8.0, help="typing rate, characters/s")
    p.add_argument("--jitter", type=float, default=0.5, help="log-normal sigma of key intervals")
    p.add_argument("--pause-s", type=float, default=0.8, help="median thinking pause, s")
    p.add_argument("--pause-prob", type=float, default=0.15, help="pause chance per word")
    p.add_argument("--debounce-ms", type=float, default=200.0)
    p.add_argument("--max-chars", type=int, default=None, help="type at most N chars per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--request-timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--no-checks", action="store_true", help="skip pass@1 grading")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument(
        "--stem", default=None, help="output file names (default latency, latency_quick)"
    )
    p.add_argument("--load-timeout", type=float, default=600.0, help="seconds to load models")
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning"],
        help="server log level (info: one line per request and per model run)",
    )
    return p.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    chosen = None if args.configs is None else [c for c in args.configs if c != "none"]
    if args.quick:
        n_lines = 3 if args.tasks is None else args.tasks
        n_bodies = 1 if args.bodies is None else args.bodies
        configs = tuple(QUICK_CONFIGS if chosen is None else chosen)
    else:
        n_lines = 40 if args.tasks is None else args.tasks
        n_bodies = max(1, (n_lines + 3) // 4) if args.bodies is None else args.bodies
        configs = tuple(CONFIGS if chosen is None else chosen)
    order = args.order or ("spread" if args.quick else "file")
    if args.infill_url:
        from urllib.parse import urlparse

        host = urlparse(args.infill_url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"--infill-url must be a loopback address, not {host!r}")
    return Plan(
        configs=configs,
        tasks=tuple(load_tasks(n_lines, n_bodies, order)),
        order=order,
        typing=Typing(
            chars_per_second=args.cps,
            jitter=args.jitter,
            pause_s=args.pause_s,
            pause_prob=args.pause_prob,
            debounce_ms=args.debounce_ms,
            max_chars=args.max_chars,
            seed=args.seed,
            request_timeout_s=args.request_timeout,
        ),
        scenarios=tuple(dict.fromkeys(args.scenario)),
        infill_url=args.infill_url,
        llama_server=args.llama_server,
        remote=args.remote,
        checks=not args.no_checks,
        results_dir=args.results_dir,
        stem=args.stem or ("latency_quick" if args.quick else "latency"),
        load_timeout_s=args.load_timeout,
        log_level=args.log_level,
    )


def main(argv: Sequence[str] | None = None) -> int:
    plan = plan_from(parse_args(argv))
    results, paths = asyncio.run(run_suite(plan))
    print(paths["md"].read_text())
    for key, path in paths.items():
        print(f"{key}: {path}")
    return 1 if all(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
