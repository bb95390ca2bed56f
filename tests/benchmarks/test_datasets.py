"""Loading the shared data and the editor view (document + cursor) of each task."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.harness import CursorStyle, HumanEvalTask, InfillTask, data_dir
from benchmarks.harness.datasets import (
    HUMANEVAL_PLUS_FILE,
    CompletionDocument,
    load_humaneval_plus,
    load_single_line_infilling,
)


def test_data_dir_defaults_beside_repo_and_env_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AIRGAP_DATA_DIR", raising=False)
    repo = Path(__file__).resolve().parents[2]
    assert data_dir() == repo.parent / "shared" / "data"
    monkeypatch.setenv("AIRGAP_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path


def test_humaneval_plus_shape(he_tasks: list[HumanEvalTask]) -> None:
    assert len(he_tasks) == 164
    assert [t.task_id for t in he_tasks[:2]] == ["HumanEval/0", "HumanEval/1"]
    for task in he_tasks:
        assert "def check(candidate)" in task.test
        assert f"def {task.entry_point}" in task.prompt
        assert task.base_input and task.plus_input
        assert all(isinstance(args, list) for args in task.all_inputs)
        assert len(task.dataset_sha256) == 64
    assert {t.task_id: t.atol for t in he_tasks if t.atol} == {
        "HumanEval/2": 1e-6,
        "HumanEval/4": 1e-6,
        "HumanEval/32": 1e-4,
    }


def test_limit_keeps_first_tasks() -> None:
    assert [t.task_id for t in load_humaneval_plus(limit=3)] == [
        "HumanEval/0",
        "HumanEval/1",
        "HumanEval/2",
    ]
    assert len(load_single_line_infilling(limit=5)) == 5
    assert load_humaneval_plus(limit=1, path=data_dir() / HUMANEVAL_PLUS_FILE)


def test_completion_document_cursor(he_tasks: list[HumanEvalTask]) -> None:
    task = he_tasks[0]
    lines = task.prompt.count("\n")
    indented = task.completion_document(CursorStyle.INDENTED)
    assert indented.prefix == task.prompt + "    "
    assert (indented.line, indented.character) == (lines, 4)
    assert indented.suffix == ""
    column0 = task.completion_document(CursorStyle.COLUMN0)
    assert column0.prefix == task.prompt
    assert (column0.line, column0.character) == (lines, 0)
    # The canonical body is written for column 0: it carries its own indentation.
    assert column0.apply(task.canonical_solution) == task.canonical_source
    for t in he_tasks:
        assert t.completion_document().text.endswith(
            '"""\n    '
        ) or t.completion_document().text.endswith("'''\n    ")


def test_document_position_counts_utf16_units() -> None:
    doc = CompletionDocument(prefix="x = 1\ns = '𝄞é", suffix="'\n")
    assert (doc.line, doc.character) == (1, len("s = '") + 2 + 1)
    assert doc.offset == len(doc.prefix)


def test_infill_shape_and_program(infill_tasks: list[InfillTask]) -> None:
    assert len(infill_tasks) == 1033
    task = infill_tasks[0]
    assert task.task_id == "SingleLineInfilling/HumanEval/0/L0"
    assert (task.humaneval_id, task.line_label) == ("HumanEval/0", "L0")
    doc = task.document()
    assert (doc.prefix, doc.suffix) == (task.prefix, task.suffix)
    assert doc.character == 0 and doc.line == task.prefix.count("\n")
    full = task.prefix + task.canonical_solution + task.suffix
    assert task.program(task.canonical_solution) == full
    assert task.program(task.canonical_solution.rstrip("\n")) == full
    assert task.program("x", ensure_newline=False) == task.prefix + "x" + task.suffix
    assert len({t.humaneval_id for t in infill_tasks}) == 164
