"""Time-boxed fuzzing runs: sessions one after another until the budget is spent.

Owns the fixture every session needs (a tiny generated GGUF model as the only model, no
draft, and a small workspace folder for the indexer) and the aggregation of session results
into the figures the robustness report publishes.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.session import SERVER_ARGV, Failure, Session, SessionResult
from tests.synthetic.make_gguf import PairSpec, build_vocab, make_qwen2_pair

WORKSPACE_FILES = {
    "pkg/__init__.py": "",
    "pkg/util.py": "def helper(x):\n    return x + 1\n\n\nclass Store:\n    pass\n",
    "pkg/crlf.py": "def crlf():\r\n    return 1\r\n",
    "README.md": "# fuzz workspace\n",
    ".gitignore": "build/\n*.log\n",
    "tests/test_util.py": "from pkg.util import helper\n\n\ndef test_helper():\n"
    "    assert helper(1) == 2\n",
}


def make_model(folder: Path) -> Path:
    """The synthetic qwen2 target (about 1 MB, random weights: the text it writes is noise)."""
    target, _draft = make_qwen2_pair(folder, PairSpec(seed=0), vocab=build_vocab())
    return target


def make_workspace(folder: Path) -> Path:
    for name, text in WORKSPACE_FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    return folder


@dataclass
class FuzzReport:
    sessions: int = 0
    messages: int = 0
    requests: int = 0
    seconds: float = 0.0
    failures: list[tuple[int, Failure]] = field(default_factory=list)
    categories: Counter[str] = field(default_factory=Counter)
    failed_categories: Counter[str] = field(default_factory=Counter)
    encodings: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    traces: list[str] = field(default_factory=list)

    def add(self, result: SessionResult) -> None:
        self.sessions += 1
        self.messages += result.messages
        self.requests += result.requests
        self.failures.extend((result.seed, f) for f in result.failures)
        self.categories.update(result.categories)
        self.failed_categories.update(result.failed_categories)
        self.encodings[result.encoding] += 1
        self.checks.update(result.checks)
        if result.trace_path:
            self.traces.append(result.trace_path)

    def kinds(self) -> list[str]:
        return sorted(k for k, n in self.categories.items() if n)

    def failure_kinds(self) -> Counter[str]:
        return Counter(f"{f.category}/{f.kind}" for _seed, f in self.failures)

    def summary(self) -> dict[str, Any]:
        by_category = {
            k: {"messages": self.categories[k], "failures": self.failed_categories.get(k, 0)}
            for k in sorted(set(self.categories) | set(self.failed_categories))
        }
        examples: dict[str, dict[str, Any]] = {}
        for seed, f in self.failures:
            key = f"{f.category}/{f.kind}"
            if key not in examples:
                examples[key] = {"seed": seed, **f.to_json()}
        return {
            "sessions": self.sessions,
            "messages": self.messages,
            "requests": self.requests,
            "seconds": round(self.seconds, 1),
            "failures": len(self.failures),
            "kinds": len(self.kinds()),
            "by_category": by_category,
            "failure_kinds": dict(self.failure_kinds()),
            "failure_examples": examples,
            "position_encodings": dict(self.encodings),
            "checks": dict(self.checks),
        }

    def describe(self) -> str:
        lines = [
            f"{self.sessions} sessions, {self.messages} messages, {len(self.failures)} failures "
            f"in {self.seconds:.0f} s"
        ]
        shown: set[str] = set()
        for seed, f in self.failures:
            key = f"{f.category}/{f.kind}"
            if key in shown:
                continue
            shown.add(key)
            lines.append(f"- seed {seed} {key}: {f.detail[:600]}")
        if self.traces:
            lines.append(f"traces: {', '.join(self.traces[:5])}")
        return "\n".join(lines)


def run_fuzz(
    seconds: float,
    seed: int,
    model: Path,
    workspace: Path,
    log_dir: Path,
    steps: int = 60,
    argv: tuple[str, ...] = SERVER_ARGV,
    max_sessions: int | None = None,
    cwd: str | None = None,
    hard_seconds: float | None = None,
) -> FuzzReport:
    """Sessions with seeds seed, seed+1, ... until `seconds` have passed (the last one stops
    its steps then, waits for its answers and shuts down; no wait goes past `hard_seconds`)."""
    report = FuzzReport()
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < seconds and (max_sessions is None or n < max_sessions):
        session = Session(
            seed + n,
            str(model),
            str(workspace),
            steps=steps,
            argv=argv,
            log_dir=str(log_dir),
            cwd=cwd,
            deadline=t0 + seconds,
            hard_deadline=None if hard_seconds is None else t0 + hard_seconds,
        )
        report.add(session.run())
        n += 1
    report.seconds = time.monotonic() - t0
    return report
