"""The tested-infilling benchmark without a model or network: holes in whole files, putting a
middle back, the gate and the grading on a tiny package made here (a module and its unittest
file, run by pytest in a copy), the task set and the report with its `pass` metric."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from benchmarks import infill_tested as tested
from benchmarks.infill_report import aggregate, markdown
from benchmarks.infill_sources import SourceFile
from benchmarks.infill_tasks import Task

OPS = '''"""A tiny module for the tests."""


def add_all(values):
    """The sum of the values."""
    total = 0
    for value in values:
        total += value
    return total


def count_true(values):
    """Not called by the tests."""
    count = 0
    for value in values:
        if value:
            count += 1
    return count


def spin(n):
    """Counts up to n."""
    i = 0
    while i < n:
        i += 1
    return i
'''

TESTS = """import unittest

from algorithms.mini import add_all, spin


class TestMini(unittest.TestCase):
    def test_add_all(self):
        self.assertEqual(add_all([1, 2, 3]), 6)

    def test_spin(self):
        self.assertEqual(spin(3), 3)
"""

PATH = "algorithms/mini/ops.py"


def _package(root: Path) -> Path:
    (root / "algorithms" / "mini").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "algorithms" / "__init__.py").write_text("")
    (root / "algorithms" / "mini" / "__init__.py").write_text(
        "from .ops import add_all, count_true, spin\n"
    )
    (root / PATH).write_text(OPS)
    (root / "tests" / "test_mini.py").write_text(TESTS)
    return root


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _package(tmp_path_factory.mktemp("pkg") / "algorithms-0")


@pytest.fixture(scope="module")
def sandbox(package: Path) -> Iterator[tested.Sandbox]:
    with tested.Sandbox(package) as box:
        yield box


def _hole(middle: str, kind: str = "multiline", text: str = OPS, path: str = PATH) -> Task:
    """A whole-file task whose hole is the first occurrence of `middle`."""
    offset = text.index(middle)
    return Task(
        task_id=f"python:algorithms/{path}:{kind}:{offset}",
        language="python",
        kind=kind,
        package="algorithms",
        version="0",
        ecosystem="pypi",
        path=path,
        file_sha256="0" * 64,
        text=text[:offset] + text[offset + len(middle) :],
        offset=offset,
        expected=middle,
        window_start=0,
        hole_line=text[:offset].count("\n"),
    )


ADD_LOOP = "for value in values:\n        total += value"
COUNT_IF = "if value:\n            count += 1"
SPIN_STEP = "i += 1"


# -- holes and substitution -----------------------------------------------------------------


def test_substitute_puts_the_middle_at_the_hole_of_the_whole_file() -> None:
    task = _hole(ADD_LOOP)
    assert tested.substitute(OPS, task, task.expected) == OPS
    changed = tested.substitute(OPS, task, "pass")
    assert changed == OPS.replace(ADD_LOOP, "pass", 1)
    assert changed.count("total += value") == 0 and "count += 1" in changed


def test_substitute_places_a_windowed_hole_by_its_window_start() -> None:
    lines = OPS.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("def count_true"))
    window = "\n".join(lines[start:])
    task = replace(_hole(COUNT_IF, text=window), window_start=start)
    assert tested.substitute(OPS, task, "if not value:") == OPS.replace(
        COUNT_IF, "if not value:", 1
    )
    with pytest.raises(ValueError):
        tested.substitute(OPS.replace("count += 1", "count += 2"), task, "x")


def test_holes_are_cut_in_function_bodies_with_the_whole_file_as_document() -> None:
    source = SourceFile("algorithms", "0", "pypi", "python", PATH, OPS, "0" * 64)
    program = tested.Program(source)
    lines = OPS.split("\n")
    body_lines = {
        i for i, line in enumerate(lines) if line.startswith("    ") and '"""' not in line
    }
    found: Counter[str] = Counter()
    rng = random.Random(0)
    for i in range(400):
        kind = ("multiline", "span")[i % 2]
        task = tested.cut_hole(program, kind, rng, want_opener=i % 6 == 0)
        if task is None:
            continue
        found[kind] += 1
        assert task.window_start == 0 and task.prefix + task.expected + task.suffix == OPS
        first, last = tested.hole_lines(task)
        assert set(range(first, last + 1)) <= body_lines, task.expected
        assert lines[first][: len(lines[first]) - len(lines[first].lstrip())] in task.prefix
        if kind == "multiline":
            assert task.suffix.startswith("\n") and task.prefix.endswith(" ")
    assert found["multiline"] > 10 and found["span"] > 10


def test_an_empty_hole_that_does_not_compile_gets_a_pass_stand_in() -> None:
    kind, text = tested.stand_in(OPS, _hole(ADD_LOOP)) or ("", "")
    assert kind == "empty" and text == OPS.replace(ADD_LOOP, "", 1)
    # Removing `if value:` and its body leaves the `for` without a body: not Python.
    kind, text = tested.stand_in(OPS, _hole(COUNT_IF)) or ("", "")
    assert kind == "pass" and tested.compiles(text)
    assert "for value in values:\n        pass\n    return count" in text
    span = _hole("value:\n            count += 1\n    return c", kind="span")
    kind, text = tested.stand_in(OPS, span) or ("", "")
    assert kind == "pass" and "    pass\n\n\ndef spin" in text and "return count" not in text


# -- the gate and the grading on a real (tiny) package --------------------------------------


def test_gate_keeps_a_hole_the_tests_exercise_and_rejects_one_they_do_not(
    sandbox: tested.Sandbox,
) -> None:
    kept = tested.gate(sandbox, _hole(ADD_LOOP), OPS)
    assert kept == tested.Gate(True, tested.KEPT, "empty", "failed")
    # count_true is never called: its empty hole would be a syntax error (failing every test),
    # but the stand-in that compiles passes them, so the hole is not exercised.
    rejected = tested.gate(sandbox, _hole(COUNT_IF), OPS)
    assert rejected == tested.Gate(False, tested.NOT_EXERCISED, "pass", "passed")


def test_grading_passes_the_right_middle_and_fails_a_wrong_or_missing_one(
    sandbox: tested.Sandbox, package: Path
) -> None:
    task = _hole(ADD_LOOP)
    right = tested.grade_program(sandbox, task, OPS, "for v in values:\n        total += v")
    assert right.passed and right.status == "passed"
    wrong = tested.grade_program(sandbox, task, OPS, "for value in values:\n        total -= value")
    assert not wrong.passed and wrong.status == "failed" and "test_add_all" in wrong.tail
    runs = sandbox.runs
    for nothing in (None, "", "  \n"):
        assert tested.grade_program(sandbox, task, OPS, nothing).status == "empty"
    assert sandbox.runs == runs, "no output is a failure without running the tests"
    assert (sandbox.root / PATH).read_text() == OPS, "the module is restored after each run"
    assert (package / PATH).read_text() == OPS, "the unpacked package is never written"


def test_a_middle_that_never_ends_times_out(package: Path) -> None:
    with tested.Sandbox(package, timeout=4) as box:
        run = tested.grade_program(box, _hole(SPIN_STEP), OPS, "i += 0")
        assert not run.passed and run.status == "timeout"
        assert 4 <= run.seconds < 20
        assert (box.root / PATH).read_text() == OPS
        root = box.root
    assert not root.exists(), "the private copy is removed"


# -- the task set ---------------------------------------------------------------------------


def _programs(categories: int = 4, per_category: int = 3) -> list[SourceFile]:
    return [
        SourceFile(
            "algorithms",
            "0",
            "pypi",
            "python",
            f"algorithms/cat{c}/ops{n}.py",
            OPS.replace("add_all", f"add_all_{n}"),
            f"{c}{n}".ljust(64, "0"),
        )
        for c in range(categories)
        for n in range(per_category)
    ]


def test_task_set_is_gated_cached_spread_and_split(tmp_path: Path) -> None:
    checked: list[str] = []

    def check(task: Task, original: str) -> tested.Gate:
        assert tested.substitute(original, task, task.expected) == original
        checked.append(task.task_id)
        if len(checked) % 3 == 0:  # a third of the candidates is not exercised
            return tested.Gate(False, tested.NOT_EXERCISED, "empty", "passed")
        return tested.Gate(True, tested.KEPT, "pass", "failed")

    targets = {"multiline": 12, "span": 4}
    cache = tested.GateCache(tmp_path / "gates.json")
    tasks, stats = tested.build_tasks(_programs(), check, cache, seed=0, targets=targets)
    assert Counter(t.kind for t in tasks) == targets
    assert stats.outcomes["multiline"][tested.NOT_EXERCISED] > 0
    assert sum(stats.gated.values()) == len(checked) == len(set(checked))
    assert all(n <= 2 for n in Counter((t.kind, t.path) for t in tasks).values())
    assert len({tested.category_of(t.path) for t in tasks if t.kind == "multiline"}) == 4
    multiline = [t for t in tasks if t.kind == "multiline"]
    assert sum(t.ends_with_opener for t in multiline) >= len(multiline) // 3
    assert Counter((t.kind, t.split) for t in tasks)[("multiline", "heldout")] == 3
    assert Counter((t.kind, t.split) for t in tasks)[("span", "heldout")] == 1
    assert [t.kind for t in tasks[:2]] == ["multiline", "span"]

    def never(task: Task, original: str) -> tested.Gate:
        raise AssertionError("cached gates are not run again")

    again, stats2 = tested.build_tasks(
        _programs(), never, tested.GateCache(tmp_path / "gates.json"), 0, targets
    )
    assert [t.task_id for t in again] == [t.task_id for t in tasks]
    assert stats2.from_cache == len(checked)


def test_choose_shares_a_limit_between_the_kinds() -> None:
    tasks = [replace(_hole(ADD_LOOP), task_id=f"m{i}") for i in range(6)]
    tasks += [replace(_hole(COUNT_IF), task_id=f"s{i}", kind="span") for i in range(2)]
    picked = tested.choose(tasks, limit=2)
    assert sorted(t.kind for t in picked) == ["multiline", "span"]
    assert [t.task_id for t in tested.choose(tasks, kinds=["span"])] == ["s0", "s1"]
    assert len(tested.choose(tasks, limit=4)) == 4


# -- the run's records and report -----------------------------------------------------------


def test_grade_record_adds_pass_to_each_configuration(sandbox: tested.Sandbox) -> None:
    task = _hole(ADD_LOOP)
    record: dict[str, Any] = {"configs": {"airgap": {"exact": True}, "naive": {"exact": False}}}
    texts = {"outputs": {"airgap": task.expected, "naive": None}}
    runs = tested.grade_record(record, texts, task, sandbox)
    assert record["configs"]["airgap"]["pass"] and not record["configs"]["naive"]["pass"]
    assert record["configs"]["naive"]["tests"] == "empty"
    line = json.loads(tested.output_line(task, texts, runs))
    assert line["configs"]["airgap"] == {
        "pass": True,
        "tests": "passed",
        "output": task.expected,
        "tests_tail": "",
    }
    assert line["expected"] == task.expected and line["kind"] == "multiline"


def _records() -> list[dict[str, Any]]:
    out = []
    for i in range(8):
        base = {"exact": False, "starts": False, "edit_similarity": 0.5, "parses": True}
        out.append(
            {
                "task_id": f"t{i}",
                "language": "python",
                "kind": "multiline" if i % 4 else "span",
                "split": "heldout" if i < 2 else "tuning",
                "configs": {
                    "airgap": {**base, "empty": False, "pass": i % 2 == 0, "latency_ms": 10.0},
                    "naive": {**base, "empty": True, "pass": False, "latency_ms": 20.0},
                },
            }
        )
    return out


def test_report_has_a_pass_metric_held_out_apart_and_a_delta(tmp_path: Path) -> None:
    records = _records()
    summary = aggregate(records, ["airgap", "naive"], extra=("pass",))
    assert summary["all"]["overall"]["airgap"]["pass"] == 50.0
    assert summary["heldout"]["overall"]["airgap"]["pass"] == 50.0
    assert summary["all"]["kind"]["span"]["airgap"]["pass"] == 100.0
    assert summary["all"]["overall"]["naive"]["pass"] == 0.0
    assert "pass" not in aggregate(records, ["airgap", "naive"])["all"]["overall"]["airgap"]
    assert "pass" not in markdown(aggregate(records, ["airgap", "naive"]), ["airgap"], {})
    paths = tested.write(records, ["airgap", "naive"], {"tasks": 8}, tmp_path, "tested")
    md = paths["md"].read_text()
    held, tuning = md.index("Held-out quarter"), md.index("Tuning set")
    assert "pass % airgap" in md and "pass Δ" in md and held < tuning
    assert "| all | overall | 8 | 50.0" in md
    assert json.loads(paths["json"].read_text())["summary"]["tuning"]["overall"]["naive"]["n"] == 6
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"


def test_cli_arguments() -> None:
    args = tested.parse_args(["--limit", "2", "--kinds", "span", "--split", "heldout"])
    assert (args.limit, args.kinds, args.split, args.out) == (
        2,
        ["span"],
        "heldout",
        "infill_tested",
    )
    assert tested.parse_args(["--tasks-only"]).tasks_only
    with pytest.raises(SystemExit):
        tested.parse_args(["--kinds", "eol"])


def test_configurations_are_chosen_by_name() -> None:
    assert tested.parse_args([]).configs == ["airgap", "naive"]
    assert tested.parse_args(["--configs", "airgap-lsp,naive"]).configs == ["airgap-lsp", "naive"]
    for wrong in ("airgap,llama", "naive,naive", ","):
        with pytest.raises(SystemExit):
            tested.parse_args(["--configs", wrong])
