"""Tested infilling: holes in small whole Python programs, graded by running their own tests.

Owns this benchmark's programs, how their holes are cut and gated, how an output is graded,
its task set and its command line. It complements `infill_real` (windows of big files, graded
by exact match): here a hole counts as filled when the program's own tests pass with the
model's middle in it.

Programs: the modules of the PyPI sdist `algorithms` 1.0.1 (keon/algorithms, MIT licence),
fetched by `pip download --no-deps --no-binary :all:` into `<infill_sources.cache_dir()>/tested`,
checked against its pinned SHA-256 and unpacked once; nothing of it is copied into this
repository. A program is `algorithms/<category>/<name>.py` (not `__init__.py`, at most 200
lines) of a category that has its unittest file `tests/test_<category>.py`.

Holes (seed 0), with `infill_tasks`' conventions and cutters (`cut_multiline`, `cut_span` on
the whole file, then the window they return is widened back to the whole file):

- `multiline`: 2–8 whole lines removed; the cursor at the first line's indentation (which
  stays in the document), the last line's newline stays in the suffix; every third task ends
  with a block opener `:` whose body stays below.
- `span`: a random character span from inside a line's code (after its indentation) across
  1–4 line breaks.

Every hole lies within one function's body (after its docstring; found with `ast`), starts in
code (not a comment, string or blank line), and at most 2 holes of one kind come from one
file. The categories take turns (in a seeded order), so holes spread over the package. The
document given to the server is the whole module with the hole removed (`window_start` 0).

Gate: a candidate is kept only if (a) the category's tests pass with the expected middle put
back, and (b) they fail with the hole left empty, so that they exercise the hole. Where the
empty hole does not even compile (a span cut mid-expression, a block left without a body), a
syntax error would fail the tests whatever they exercise, so (b) is asked of a stand-in that
compiles: the statements the hole touches replaced by `pass`. Gate results are cached as JSON
in the cache directory, keyed by task id, middle length and file SHA-256. Targets: 60
multiline and 20 span tasks; `infill_tasks.assign_split` then holds a quarter of each kind out
of every tuning decision (`heldout`), reported apart.

Grading: the output (none or blank fails) is put into the original file at the hole, written
into a private temporary copy of the unpacked package (one copy per run; the module is
restored after each task), and `python -m pytest -q -x -p no:cacheprovider
tests/test_<category>.py` runs there with `PYTHONDONTWRITEBYTECODE=1` and a 30 s timeout (a
timeout or a crash fails). Also recorded, as `infill_real.run_task` records them: exact match,
edit similarity, parses, empty, first-request latency. The configurations of `infill_real`
(`airgap`, `naive`) run on one loaded model, alternating order task by task; `airgap-lsp`
(`infill_lsp`: the real server over stdio, asked as an outside editor asks) runs in a pass of
its own before them, so that no two models share the cores.

    python -m benchmarks.infill_tested --tasks-only       # fetch, cut, gate, summarise
    python -m benchmarks.infill_tested [--split tuning|heldout|all] [--limit N]
        [--kinds multiline,span] [--configs airgap,naive] [--out NAME]

Writes `benchmarks/results/<NAME>.{json,md,png}` (metrics only) and the outputs per task
(with the expected middles and the tests' last lines) to `<cache>/tested/runs/<NAME>.jsonl`.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.harness.progress import Progress
from benchmarks.harness.revision import git_revision
from benchmarks.infill_metrics import is_empty
from benchmarks.infill_report import (
    SPLIT_TITLES,
    SPLITS,
    _delta_table,
    _table,
    configurations,
)
from benchmarks.infill_report import write as write_report
from benchmarks.infill_sources import (
    SourceError,
    SourceFile,
    _extract_once,
    _untar,
    cache_dir,
    pip_download,
    sha256_file,
)
from benchmarks.infill_tasks import (
    ATTEMPTS,
    PER_FILE,
    Task,
    _File,
    assign_split,
    cut_multiline,
    cut_span,
    is_code_line,
    select,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

PACKAGE = "algorithms"
VERSION = "1.0.1"
LICENSE = "MIT"
SOURCE = "keon/algorithms"
SDIST = f"{PACKAGE}-{VERSION}.tar.gz"
SDIST_SHA256 = "e2d140bc315eb1e106f2ab8c1f2ec595e01cb1ef0aa1506d20f93f75cf9fd8b1"

KINDS = ("multiline", "span")
TARGETS = {"multiline": 60, "span": 20}
MAX_LINES = 200  # longer modules are not small programs: left out
TIMEOUT = 30.0  # seconds for one run of a category's tests
GATED_PER_TARGET = 8  # at most this many gated candidates per task wanted, per kind
GATE_VERSION = 1  # bump when the gate's meaning changes: cached results are then ignored
TAIL = 1200  # characters of the tests' output kept for a failing run
CONFIGS = ("airgap", "naive")
# The server over stdio (`infill_lsp`): run in a pass of its own before the in-process ones.
LSP = "airgap-lsp"

KEPT = "kept"
SANITY = "tests fail with the expected middle"
NOT_EXERCISED = "tests pass with the hole empty"
NO_STAND_IN = "no compiling stand-in for the empty hole"

METRICS = (
    ("pass", "pass %"),
    ("exact", "exact %"),
    ("edit_similarity", "edit sim %"),
    ("parses", "parses %"),
    ("empty", "empty %"),
    ("p50_ms", "p50 ms"),
    ("p95_ms", "p95 ms"),
)
DELTAS = (
    ("pass", "pass Δ"),
    ("exact", "exact Δ"),
    ("edit_similarity", "edit sim Δ"),
    ("parses", "parses Δ"),
    ("empty", "empty Δ"),
)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the programs ---------------------------------------------------------------------------


def tested_dir() -> Path:
    return cache_dir() / "tested"


def fetch(where: Path | None = None, say: Callable[[str], None] = lambda _m: None) -> Path:
    """The unpacked sdist's root (downloaded and unpacked once, its SHA-256 checked)."""
    where = where or tested_dir()
    where.mkdir(parents=True, exist_ok=True)
    sdist = where / SDIST
    if not sdist.exists():
        say(f"pip download {PACKAGE}=={VERSION} (sdist)")
        pip_download(f"{PACKAGE}=={VERSION}", where, binary=False)
        if not sdist.exists():
            raise SourceError(f"pip downloaded no {SDIST} into {where}")
    found = sha256_file(sdist)
    if found != SDIST_SHA256:
        raise SourceError(f"{sdist}: sha256 {found}, pinned {SDIST_SHA256} (delete it to refetch)")
    dest = where / f"{PACKAGE}-{VERSION}"
    _extract_once(sdist, dest, _untar)
    return dest / f"{PACKAGE}-{VERSION}"


def category_of(path: str) -> str:
    """`algorithms/array/josephus.py` -> `array`."""
    return path.split("/")[1]


def tests_for(path: str) -> str:
    return f"tests/test_{category_of(path)}.py"


def read_programs(root: Path) -> tuple[list[SourceFile], Counter[str]]:
    """The package's usable modules (and the others counted by reason)."""
    files: list[SourceFile] = []
    skipped: Counter[str] = Counter()
    for directory in sorted(p for p in (root / PACKAGE).iterdir() if p.is_dir()):
        modules = sorted(directory.glob("*.py"))
        if not (root / "tests" / f"test_{directory.name}.py").exists():
            skipped["category without tests/test_<category>.py"] += len(modules)
            continue
        for path in modules:
            if path.name == "__init__.py":
                skipped["__init__.py"] += 1
                continue
            data = path.read_bytes()
            text = data.decode("utf-8").replace("\r\n", "\n")
            if text.count("\n") + (not text.endswith("\n")) > MAX_LINES:
                skipped[f"over {MAX_LINES} lines"] += 1
                continue
            files.append(
                SourceFile(
                    package=PACKAGE,
                    version=VERSION,
                    ecosystem="pypi",
                    language="python",
                    path=path.relative_to(root).as_posix(),
                    text=text,
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
    return files, skipped


# -- cutting holes in a whole file ----------------------------------------------------------


def _docstring(body: Sequence[ast.stmt]) -> ast.stmt | None:
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


def _first_line(node: ast.stmt) -> int:
    """0-based first line of a statement, decorators included."""
    lines = [node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]
    return min(lines) - 1


def _end_line(node: ast.stmt) -> int:
    return (node.end_lineno or node.lineno) - 1


class Program:
    """A whole module: its lines and syntax tree for cutting, and its functions' bodies."""

    def __init__(self, source: SourceFile) -> None:
        self.file = _File(source)
        tree = ast.parse(source.text)
        bodies: list[tuple[int, int]] = []
        docstrings: set[int] = set()
        for node in ast.walk(tree):
            if not isinstance(
                node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
            ):
                continue
            body = list(node.body)
            doc = _docstring(body)
            if doc is not None:
                docstrings.update(range(_first_line(doc), _end_line(doc) + 1))
                body = body[1:]
            if body and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bodies.append((_first_line(body[0]), _end_line(body[-1])))
        self.bodies = tuple(sorted(bodies))
        self.docstrings = frozenset(docstrings)

    @property
    def source(self) -> SourceFile:
        return self.file.source

    def in_body(self, first: int, last: int) -> bool:
        """Lines first..last (0-based) lie within one function's body, outside docstrings."""
        if any(i in self.docstrings for i in range(first, last + 1)):
            return False
        return any(start <= first and last <= end for start, end in self.bodies)


def whole_file_task(f: _File, task: Task) -> Task:
    """The task `infill_tasks` cut in a window of `f`, with the whole file as its document."""
    text = f.source.text
    start = f.line_chars[task.window_start] + task.offset
    end = start + len(task.expected)
    if text[start:end] != task.expected:
        raise ValueError(f"{task.task_id}: the window's hole is not at {start} in the file")
    return replace(task, text=text[:start] + text[end:], offset=start, window_start=0)


def hole_lines(task: Task) -> tuple[int, int]:
    """First and last line (0-based, in the file) of the removed middle."""
    return task.hole_line, task.hole_line + task.expected.count("\n")


def cut_hole(program: Program, kind: str, rng: random.Random, want_opener: bool) -> Task | None:
    """A hole of `kind` at a random place of the program, inside a function's body, or None."""
    if kind == "multiline":
        task = cut_multiline(program.file, rng, want_opener)
    elif kind == "span":
        task = cut_span(program.file, rng)
    else:
        raise ValueError(f"unknown hole kind {kind!r}")
    if task is None:
        return None
    task = whole_file_task(program.file, task)
    return task if program.in_body(*hole_lines(task)) else None


def substitute(original: str, task: Task, middle: str) -> str:
    """The whole original file with `middle` in place of the task's hole (the document may be
    a window: `window_start` places it in the file)."""
    lines = original.split("\n")
    start = sum(len(line) + 1 for line in lines[: task.window_start]) + task.offset
    end = start + len(task.expected)
    if original[start:end] != task.expected:
        raise ValueError(f"{task.task_id}: the file does not hold the expected middle there")
    return original[:start] + middle + original[end:]


def compiles(text: str) -> bool:
    try:
        compile(text, "<program>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def neutral_version(original: str, first: int, last: int) -> str | None:
    """The file with the statements that lines first..last (0-based) touch replaced by one
    `pass`: the innermost statement list whose touched statements cover every code line of
    the hole (None when there is none or the result does not compile)."""
    try:
        tree = ast.parse(original)
    except SyntaxError:
        return None
    lines = original.split("\n")
    code = [i for i in range(first, last + 1) if is_code_line(lines[i], "python")]
    best: tuple[int, int] | None = None
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            stmts = getattr(node, name, None)
            if not isinstance(stmts, list) or not stmts or not isinstance(stmts[0], ast.stmt):
                continue
            touched = [s for s in stmts if _first_line(s) <= last and _end_line(s) >= first]
            if not touched:
                continue
            lo, hi = _first_line(touched[0]), _end_line(touched[-1])
            covers = all(lo <= i <= hi for i in code)
            if covers and (best is None or hi - lo < best[1] - best[0]):
                best = (lo, hi)
    if best is None:
        return None
    lo, hi = best
    indent = lines[lo][: len(lines[lo]) - len(lines[lo].lstrip())]
    text = "\n".join([*lines[:lo], indent + "pass", *lines[hi + 1 :]])
    return text if compiles(text) else None


def stand_in(original: str, task: Task) -> tuple[str, str] | None:
    """What the file is with the hole left empty: ("empty", text) if that compiles, else
    ("pass", the touched statements replaced by `pass`), else None."""
    empty = substitute(original, task, "")
    if compiles(empty):
        return "empty", empty
    neutral = neutral_version(original, *hole_lines(task))
    return ("pass", neutral) if neutral is not None else None


# -- running a program's tests --------------------------------------------------------------


@dataclass(frozen=True)
class SuiteRun:
    passed: bool
    status: str  # passed | failed | timeout | empty
    seconds: float = 0.0
    tail: str = ""  # the end of the tests' output when they did not pass


class Sandbox:
    """A private temporary copy of the package, where one module at a time is replaced and
    the category's tests are run. Runs of the same content are memoised."""

    def __init__(self, root: Path, timeout: float = TIMEOUT, python: str = sys.executable):
        self.timeout = timeout
        self.python = python
        self._tmp = Path(tempfile.mkdtemp(prefix="airgap-tested-"))
        self.root = self._tmp / root.name
        shutil.copytree(
            root,
            self.root,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".complete", ".pytest_cache"),
        )
        self.runs = 0
        self._memo: dict[tuple[str, str, str], SuiteRun] = {}

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def run(self, path: str, text: str, tests: str) -> SuiteRun:
        """`tests` run with the module at `path` holding `text` (restored afterwards)."""
        key = (tests, path, hashlib.sha256(text.encode("utf-8", "replace")).hexdigest())
        if key in self._memo:
            return self._memo[key]
        target = self.root / path
        original = target.read_bytes()
        target.write_bytes(text.encode("utf-8", "replace"))
        try:
            result = self._pytest(tests)
        finally:
            target.write_bytes(original)
        self._memo[key] = result
        return result

    def _pytest(self, tests: str) -> SuiteRun:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(self.root))
        cmd = [self.python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", tests]
        self.runs += 1
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # a timeout ends the tests' whole process group
        )
        try:
            out, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return SuiteRun(False, "timeout", time.monotonic() - t0, f"timeout {self.timeout} s")
        seconds = time.monotonic() - t0
        if proc.returncode == 0:
            return SuiteRun(True, "passed", seconds)
        return SuiteRun(False, "failed", seconds, out[-TAIL:])


def grade_program(sandbox: Sandbox, task: Task, original: str, output: str | None) -> SuiteRun:
    """Whether the program's tests pass with `output` in the hole (no output fails)."""
    if output is None or is_empty(output):
        return SuiteRun(False, "empty")
    return sandbox.run(task.path, substitute(original, task, output), tests_for(task.path))


# -- the gate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    keep: bool
    reason: str  # KEPT or why not
    stand_in: str = ""  # "empty" or "pass": the version of the file with the hole empty
    status: str = ""  # how the tests ended on that version


def gate(sandbox: Sandbox, task: Task, original: str) -> Gate:
    """(a) the tests pass with the expected middle; (b) they fail with the hole empty (or,
    where that does not compile, with its stand-in; see the module doc)."""
    tests = tests_for(task.path)
    sanity = sandbox.run(task.path, substitute(original, task, task.expected), tests)
    if not sanity.passed:
        return Gate(False, SANITY)
    version = stand_in(original, task)
    if version is None:
        return Gate(False, NO_STAND_IN)
    name, text = version
    run = sandbox.run(task.path, text, tests)
    if run.passed:
        return Gate(False, NOT_EXERCISED, name, run.status)
    return Gate(True, KEPT, name, run.status)


class GateCache:
    """Gate results in a JSON file, keyed by task id, middle length and file SHA-256."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                data = {}
            if data.get("version") == GATE_VERSION and data.get("timeout") == TIMEOUT:
                self.entries = dict(data.get("gates", {}))

    @staticmethod
    def key(task: Task) -> str:
        return f"{task.task_id}#{len(task.expected)}@{task.file_sha256}"

    def get(self, task: Task) -> Gate | None:
        entry = self.entries.get(self.key(task))
        return Gate(**entry) if entry is not None else None

    def put(self, task: Task, result: Gate) -> None:
        self.entries[self.key(task)] = asdict(result)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        payload = {"version": GATE_VERSION, "timeout": TIMEOUT, "gates": self.entries}
        tmp.write_text(json.dumps(payload, indent=0, sort_keys=True) + "\n")
        tmp.replace(self.path)


# -- the task set ---------------------------------------------------------------------------


@dataclass
class BuildStats:
    programs: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    gated: Counter[str] = field(default_factory=Counter)  # candidates per kind
    from_cache: int = 0
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    stand_ins: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    gates: dict[str, Gate] = field(default_factory=dict)  # task id -> gate, kept tasks

    def to_dict(self) -> dict[str, Any]:
        return {
            "programs": self.programs,
            "programs_skipped": dict(self.skipped),
            "candidates_gated": dict(self.gated),
            "gate_results_from_cache": self.from_cache,
            "gate_outcomes": {k: dict(v) for k, v in self.outcomes.items()},
            "kept_by_stand_in": {k: dict(v) for k, v in self.stand_ins.items()},
        }


def _draw(
    programs: Sequence[SourceFile],
    kind: str,
    rng: random.Random,
    want_opener: bool,
    seen: set[str],
    per_file: Counter[str],
    parsed: dict[str, Program],
) -> Task | None:
    """A new candidate of `kind` from one of `programs` (a random file, then a random place;
    up to ATTEMPTS tries)."""
    for _ in range(ATTEMPTS):
        sf = rng.choice(programs)
        if per_file[sf.path] >= PER_FILE:
            continue
        program = parsed.get(sf.path)
        if program is None:
            program = parsed[sf.path] = Program(sf)
        task = cut_hole(program, kind, rng, want_opener)
        if task is not None and task.task_id not in seen:
            return task
    return None


def interleave(groups: Mapping[str, Sequence[Task]]) -> list[Task]:
    """The kinds' tasks merged in proportion (the first tasks of the set are of every kind)."""
    ranked = [
        (i / len(tasks), KINDS.index(kind) if kind in KINDS else len(KINDS), t)
        for kind, tasks in groups.items()
        for i, t in enumerate(tasks)
    ]
    return [t for _, _, t in sorted(ranked, key=lambda r: (r[0], r[1]))]


def build_tasks(
    programs: Sequence[SourceFile],
    check: Callable[[Task, str], Gate],
    cache: GateCache | None = None,
    seed: int = 0,
    targets: Mapping[str, int] = TARGETS,
    say: Callable[[str], None] = lambda _m: None,
) -> tuple[list[Task], BuildStats]:
    """Cut, gate (`check(task, original_file)`, results cached) and split the task set.

    Per kind, the categories take turns in a seeded order (one candidate each turn), a
    category leaving the rotation when no more holes can be cut in it."""
    stats = BuildStats(programs=len(programs))
    by_category: dict[str, list[SourceFile]] = defaultdict(list)
    for sf in programs:
        by_category[category_of(sf.path)].append(sf)
    names = sorted(by_category)
    parsed: dict[str, Program] = {}
    groups: dict[str, list[Task]] = {}
    for kind, target in targets.items():
        rng = random.Random(f"{seed}/tested/{kind}")
        turn = rng.sample(names, len(names))
        found: list[Task] = []
        seen: set[str] = set()
        per_file: Counter[str] = Counter()
        exhausted: set[tuple[str, bool]] = set()
        step = 0
        while len(found) < target and stats.gated[kind] < target * GATED_PER_TARGET:
            want_opener = kind == "multiline" and len(found) % 3 == 0
            open_names = [n for n in turn if (n, want_opener) not in exhausted]
            if not open_names:
                break
            name = open_names[step % len(open_names)]
            step += 1
            task = _draw(by_category[name], kind, rng, want_opener, seen, per_file, parsed)
            if task is None:
                exhausted.add((name, want_opener))
                continue
            seen.add(task.task_id)
            stats.gated[kind] += 1
            result = cache.get(task) if cache is not None else None
            if result is None:
                result = check(task, parsed[task.path].source.text)
                if cache is not None:
                    cache.put(task, result)
                say(
                    f"gate {kind} {len(found) + result.keep}/{target}: {task.path} "
                    f"L{task.hole_line + 1}: {result.reason}"
                    + (f" ({result.stand_in}: {result.status})" if result.stand_in else "")
                )
            else:
                stats.from_cache += 1
            stats.outcomes[kind][result.reason] += 1
            if result.keep:
                stats.stand_ins[kind][result.stand_in] += 1
                stats.gates[task.task_id] = result
                per_file[task.path] += 1
                found.append(task)
        groups[kind] = found
    return assign_split(interleave(groups)), stats


def choose(
    tasks: Sequence[Task],
    split: str = "all",
    limit: int | None = None,
    kinds: Sequence[str] = KINDS,
) -> list[Task]:
    """The tasks of a split and kinds; with `limit`, that many shared out between the kinds
    in proportion (each kind one first, as far as `limit` goes), spread evenly within each."""
    chosen = [t for t in tasks if t.kind in kinds and (split == "all" or t.split == split)]
    if limit is None or limit >= len(chosen):
        return chosen
    groups = {k: [t for t in chosen if t.kind == k] for k in kinds}
    groups = {k: v for k, v in groups.items() if v}
    share = dict.fromkeys(groups, 0)
    for _ in range(max(0, limit)):
        kind = min(groups, key=lambda k: (share[k] / len(groups[k]), list(groups).index(k)))
        share[kind] += 1
    picked = {t.task_id for k, members in groups.items() for t in select(members, "all", share[k])}
    return [t for t in chosen if t.task_id in picked]


def task_summary(tasks: Sequence[Task], stats: BuildStats | None = None) -> dict[str, Any]:
    """`infill_tasks.summarize` plus the kinds' splits, the categories and the gate's record."""
    out = summarize(tasks)
    by_kind: dict[str, dict[str, int]] = {}
    for t in tasks:
        cell = by_kind.setdefault(t.kind, {"tuning": 0, "heldout": 0})
        cell[t.split] += 1
    out["by_kind"] = by_kind
    out["categories"] = dict(sorted(Counter(category_of(t.path) for t in tasks).items()))
    if stats is not None:
        out.update(stats.to_dict())
    return out


# -- a run ----------------------------------------------------------------------------------


def grade_record(
    record: dict[str, Any], texts: Mapping[str, Any], task: Task, sandbox: Sandbox
) -> dict[str, SuiteRun]:
    """Adds `pass` (and how the tests ended) to each configuration of an `infill_real`
    record; returns the runs."""
    runs = {}
    for name, outcome in record["configs"].items():
        run = grade_program(sandbox, task, task.original, texts["outputs"].get(name))
        outcome["pass"] = run.passed
        outcome["tests"] = run.status
        outcome["tests_seconds"] = round(run.seconds, 2)
        runs[name] = run
    return runs


def output_line(task: Task, texts: Mapping[str, Any], runs: Mapping[str, SuiteRun]) -> str:
    """The outputs file's line for one task (its middles hold the package's code)."""
    return json.dumps(
        {
            "task_id": task.task_id,
            "split": task.split,
            "kind": task.kind,
            "path": task.path,
            "hole_line": task.hole_line + 1,
            "expected": task.expected,
            "configs": {
                name: {
                    "pass": run.passed,
                    "tests": run.status,
                    "output": texts["outputs"].get(name),
                    "tests_tail": run.tail,
                }
                for name, run in runs.items()
            },
        }
    )


def markdown(summary: Mapping[str, Any], configs: Sequence[str], meta: Mapping[str, Any]) -> str:
    lines = ["# Tested infilling: holes in whole programs, graded by their tests", ""]
    lines.append(
        f"{meta.get('tasks', '?')} tasks ({meta.get('heldout', '?')} held out) cut with seed "
        f"{meta.get('seed', '?')} from the modules of `{PACKAGE}` {VERSION} ({SOURCE}, "
        f"{LICENSE}; sdist sha256 `{SDIST_SHA256[:16]}…`), model `{meta.get('model', '?')}`, "
        f"revision `{meta.get('revision', '?')}`, {meta.get('finished', '')}. "
        + configurations(configs, meta)
    )
    lines += [
        "",
        "Pass: the module's category tests (`tests/test_<category>.py`) pass with the output "
        f"in the hole ({TIMEOUT:g} s timeout; no output, a timeout or a crash fails). Every "
        "task's tests pass with the expected middle and fail with the hole empty. Exact: equal "
        "after stripping trailing whitespace; edit sim: 1 − Levenshtein / max length; parses: "
        "the file with the output has no more tree-sitter errors than the original; latency: "
        "the first request on a cold cache, wall clock.",
        "",
    ]
    if len(configs) >= 2:
        lines += [f"## {configs[0]} − {configs[1]} (points)", ""]
        lines.append(_delta_table(summary, configs, DELTAS, fields=("kind",)))
    for split in SPLITS:
        section = summary[split]
        lines += [f"## {SPLIT_TITLES[split]}", ""]
        lines += ["Overall", "", _table({"overall": section["overall"]}, configs, METRICS)]
        lines += ["By hole kind", "", _table(section["kind"], configs, METRICS)]
    return "\n".join(lines)


def write(
    records: Sequence[Mapping[str, Any]],
    configs: Sequence[str],
    meta: Mapping[str, Any],
    results_dir: Path,
    stem: str,
    with_plot: bool = True,
) -> dict[str, Path]:
    """`<stem>.json` (meta, summary, per-task metrics), `<stem>.md` and `<stem>.png`."""
    return write_report(
        records,
        configs,
        meta,
        results_dir,
        stem,
        with_plot,
        extra=("pass",),
        render=markdown,
        plot_options={"inner": ("pass", "tests pass"), "fields": ("kind",)},
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.infill_tested",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--split", choices=["tuning", "heldout", "all"], default="all")
    p.add_argument("--limit", type=int, default=None, help="run N tasks spread over the split")
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated hole kinds")
    p.add_argument("--tasks-only", action="store_true", help="build, gate and summarise tasks")
    p.add_argument("--out", default="infill_tested", help="result file names")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"comma-separated, from {', '.join((*CONFIGS, LSP))} (the first is compared "
        "with the second)",
    )
    args = p.parse_args(argv)
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    wrong = [c for c in args.configs if c not in (*CONFIGS, LSP)]
    if wrong or not args.configs or len(set(args.configs)) != len(args.configs):
        p.error(f"--configs: choose from {', '.join((*CONFIGS, LSP))} (got {args.configs})")
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown or not args.kinds:
        p.error(f"--kinds: choose from {', '.join(KINDS)} (got {unknown or 'none'})")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = fetch(say=lambda m: _say(f"fetch: {m}"))
    programs, skipped = read_programs(root)
    with Sandbox(root) as sandbox:
        cache = GateCache(tested_dir() / "gates.json")
        # Every kind is built (gates are cached) so that the split does not depend on --kinds.
        all_tasks, stats = build_tasks(
            programs,
            lambda task, original: gate(sandbox, task, original),
            cache,
            seed=args.seed,
            say=_say,
        )
        stats.skipped = dict(skipped)
        _say(f"tasks: {len(all_tasks)} kept, {sandbox.runs} test runs to gate them")
        tasks = choose(all_tasks, args.split, args.limit, args.kinds)
        if args.tasks_only:
            summary = {"all": task_summary(all_tasks, stats), "selected": task_summary(tasks)}
            print(json.dumps(summary, indent=1))
            return 0
        from benchmarks.infill_real import DESCRIPTIONS, make_runners, run_task

        started = time.strftime("%Y-%m-%d %H:%M:%S")
        configs = args.configs
        descriptions = dict(DESCRIPTIONS)
        runners: dict[str, Any] = {}
        info: dict[str, Any] = {}
        if LSP in configs:
            from benchmarks.infill_lsp import DESCRIPTION, LspRunner, recorded

            descriptions[LSP] = DESCRIPTION
            with LspRunner() as server, Progress(len(tasks), label="lsp") as progress:
                outcomes = {}
                for task in tasks:
                    outcomes[task.task_id] = server(task, "")
                    progress.advance(status=task.kind)
                info.update(server.info)
            runners[LSP] = recorded(outcomes)
        in_process = [c for c in configs if c != LSP]
        if in_process:
            loaded, loaded_info = make_runners(in_process)
            runners.update(loaded)
            info.update(loaded_info)
        outputs_path = tested_dir() / "runs" / f"{args.out}.jsonl"
        outputs_path.parent.mkdir(parents=True, exist_ok=True)
        records: list[dict[str, Any]] = []

        def meta() -> dict[str, Any]:
            return {
                "revision": git_revision(),
                "seed": args.seed,
                "split": args.split,
                "limit": args.limit,
                "kinds": args.kinds,
                "configs": configs,
                "config_descriptions": {c: descriptions[c] for c in configs},
                "tasks": len(records),
                "heldout": sum(r["split"] == "heldout" for r in records),
                "tasks_selected": len(tasks),
                "task_set": task_summary(all_tasks, stats),
                "package": {
                    "name": PACKAGE,
                    "version": VERSION,
                    "source": SOURCE,
                    "license": LICENSE,
                    "sdist_sha256": SDIST_SHA256,
                },
                "tests_timeout_s": TIMEOUT,
                "outputs_file": str(outputs_path),
                "load_average": list(os.getloadavg()),
                "started": started,
                "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                **info,
            }

        with outputs_path.open("w") as out, Progress(len(tasks), label="tested") as progress:
            for index, task in enumerate(tasks):
                record, texts = run_task(task, index, configs, runners)
                record["category"] = category_of(task.path)
                record["stand_in"] = stats.gates[task.task_id].stand_in
                runs = grade_record(record, texts, task, sandbox)
                records.append(record)
                out.write(output_line(task, texts, runs) + "\n")
                out.flush()
                marks = " ".join(f"{c}={'pass' if r.passed else r.status}" for c, r in runs.items())
                progress.advance(status=f"{task.kind} {marks}")
                if (index + 1) % 10 == 0:  # a stopped run keeps what it measured
                    write(records, configs, meta(), args.results_dir, args.out, with_plot=False)
        paths = write(records, configs, meta(), args.results_dir, args.out)
    print(paths["md"].read_text())
    for key, path in paths.items():
        print(f"{key}: {path}")
    print(f"outputs: {outputs_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
