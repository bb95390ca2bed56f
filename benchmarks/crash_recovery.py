"""Crash recovery of the supervised engine, on the real default models.

For each way to kill the engine's process (SIGSEGV, SIGKILL, SIGABRT: the signals a segfault,
the OOM killer and a GGML_ASSERT's abort deliver) and each phase (during prompt evaluation,
during decoding), N times: a completion is running and two more wait behind it; the child is
killed from outside; measured are whether every waiting call was answered and how fast, and
the time from the death to the next served completion (requests meanwhile get an empty answer
at once, as the server's would; a client retries every 50 ms). The phase is known, not
guessed: the request's stop rule stays in this process, so the child streams the text after
every token; "prompt" kills before the first token of a fresh (uncached) prompt, "decode"
after the third. Then the give-up case: children that die while loading, three times in a
row, end the restarts with a message.

    python -m benchmarks.crash_recovery [--n 10] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import threading
import time
from pathlib import Path
from typing import Any

from airgap_lsp.completion.backend import load_backend
from airgap_lsp.completion.engine import DecodeOptions, DecodeResult
from airgap_lsp.completion.engine_process import SupervisedEngine
from airgap_lsp.completion.local_engine import BackendError
from airgap_lsp.completion.settings import Settings
from benchmarks.harness import markdown_table
from benchmarks.harness.progress import Progress
from benchmarks.harness.revision import git_revision
from benchmarks.harness.stats import percentile

SIGNALS = {"SIGSEGV": signal.SIGSEGV, "SIGKILL": signal.SIGKILL, "SIGABRT": signal.SIGABRT}
PHASES = ("prompt", "decode")
WAITING = 2  # calls queued behind the running one
SOURCE = Path(__file__).resolve().parents[1] / "completion" / "engine.py"


def _prompt(engine: SupervisedEngine, run: int, phase: str) -> list[int]:
    """A prompt no slot holds (prompt phase: ~700 new tokens) or a short one (decode)."""
    text = SOURCE.read_text(encoding="utf-8")
    head = f"# run {run} {time.time_ns()}\n"
    body = text[:2600] if phase == "prompt" else text[:300]
    return engine.target.tokenize(head + body)


def one_kill(engine: SupervisedEngine, sig: signal.Signals, phase: str, run: int) -> dict[str, Any]:
    tokens = _prompt(engine, run, phase)
    first_token = threading.Event()

    def streaming_stop(text: str) -> int | None:  # a closure: the child streams to it
        if len(text) >= 3:
            first_token.set()
        return None

    options = DecodeOptions(max_tokens=400, drafting="none")
    results: list[tuple[float, DecodeResult]] = []
    lock = threading.Lock()

    def call(stop: Any) -> None:
        result = engine.generate(f"doc{run}.py", tokens, options, stop)
        with lock:
            results.append((time.monotonic(), result))

    running = threading.Thread(target=call, args=(streaming_stop,))
    running.start()
    time.sleep(0.05)
    waiting = [threading.Thread(target=call, args=(None,)) for _ in range(WAITING)]
    for t in waiting:
        t.start()
    if phase == "prompt":
        time.sleep(0.4)
        killed_in_phase = not first_token.is_set()
    else:
        killed_in_phase = first_token.wait(60.0)
    pid = engine.pid
    assert pid is not None
    t_kill = time.monotonic()
    os.kill(pid, sig)
    for t in [running, *waiting]:
        t.join(timeout=10.0)
    answered = [r for _, r in results]
    answer_ms = [(t - t_kill) * 1000 for t, _ in results]
    # The next served completion: ask every 50 ms, as a typing user's editor would.
    short = engine.target.tokenize("def add(a, b):\n    return")
    down = 0
    while True:
        result = engine.generate("next.py", short, DecodeOptions(max_tokens=4, drafting="none"))
        if result.stop_reason not in ("engine_down", "engine_died"):
            break
        down += 1
        if time.monotonic() - t_kill > 120:
            break
        time.sleep(0.05)
    return {
        "signal": sig.name,
        "phase": phase,
        "killed_in_phase": killed_in_phase,
        "pending": 1 + WAITING,
        "answered": len(answered),
        "answered_empty": sum(1 for r in answered if r.text == ""),
        "answer_ms_max": round(max(answer_ms), 1) if answer_ms else None,
        "death_to_next_completion_ms": round((time.monotonic() - t_kill) * 1000, 1),
        "empty_answers_meanwhile": down,
        "next_stop_reason": result.stop_reason,
    }


def give_up_case(settings: Settings) -> dict[str, Any]:
    os.environ["AIRGAP_LSP_ENGINE_FAULT"] = "abort-at-load"
    t0 = time.monotonic()
    try:
        load_backend(settings)
        message = ""
    except BackendError as exc:
        message = str(exc)
    finally:
        del os.environ["AIRGAP_LSP_ENGINE_FAULT"]
    return {
        "fault": "SIGABRT at every load",
        "message": message,
        "gave_up": "3 times in a row" in message,
        "seconds": round(time.monotonic() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10, help="kills per signal and phase")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    os.environ.pop("AIRGAP_LSP_ENGINE_PROCESS", None)
    settings = Settings()
    loaded = load_backend(settings)
    engine = loaded.backend.engine
    assert isinstance(engine, SupervisedEngine), "the engine runs in process"
    runs: list[dict[str, Any]] = []
    with Progress(len(SIGNALS) * len(PHASES) * args.n, "kills") as progress:
        for name, sig in SIGNALS.items():
            for phase in PHASES:
                for _ in range(args.n):
                    runs.append(one_kill(engine, sig, phase, len(runs)))
                    progress.advance(status=f"{name} {phase}")
    restarts = engine.restarts
    engine.close()
    cases = []
    for name in SIGNALS:
        for phase in PHASES:
            rs = [r for r in runs if r["signal"] == name and r["phase"] == phase]
            recover = [r["death_to_next_completion_ms"] for r in rs]
            answers = [r["answer_ms_max"] for r in rs if r["answer_ms_max"] is not None]
            cases.append(
                {
                    "signal": name,
                    "phase": phase,
                    "n": len(rs),
                    "killed_in_phase": sum(r["killed_in_phase"] for r in rs),
                    "pending": sum(r["pending"] for r in rs),
                    "answered": sum(r["answered"] for r in rs),
                    "answered_empty": sum(r["answered_empty"] for r in rs),
                    "answer_ms_p50": round(percentile(answers, 50), 1),
                    "answer_ms_max": max(answers),
                    "death_to_next_completion_ms_p50": round(percentile(recover, 50), 1),
                    "death_to_next_completion_ms_max": max(recover),
                    "next_served": sum(
                        r["next_stop_reason"] not in ("engine_down", "engine_died") for r in rs
                    ),
                }
            )
    result = {
        "benchmark": "crash_recovery",
        "revision": git_revision(),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "models": loaded.backend.description,
        "restarts": restarts,
        "cases": cases,
        "give_up": give_up_case(settings),
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "crash_recovery.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    table = markdown_table(
        [
            "signal",
            "phase",
            "n",
            "in phase",
            "pending answered",
            "answer max ms",
            "death → next completion p50 / max ms",
        ],
        [
            [
                c["signal"],
                c["phase"],
                c["n"],
                c["killed_in_phase"],
                f"{c['answered']}/{c['pending']}",
                c["answer_ms_max"],
                f"{c['death_to_next_completion_ms_p50']} / {c['death_to_next_completion_ms_max']}",
            ]
            for c in cases
        ],
    )
    lines = [table]
    g = result["give_up"]
    lines.append(f"\nGive-up ({g['fault']}): {g['gave_up']} in {g['seconds']} s: {g['message']}")
    (args.out / "crash_recovery.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
