"""The cross-file benchmark data is well formed, and our context finds what each task needs."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from ctx_helpers import count_tokens

from airgap_lsp.context import ContextRequest, WorkspaceIndex, collect_context, language_for
from airgap_lsp.context.definitions import extract_definitions
from airgap_lsp.context.syntax import parse
from airgap_lsp.context.text import SourceText

TASKS_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "crossfile" / "tasks.jsonl"
TASKS = [json.loads(line) for line in TASKS_FILE.read_text().splitlines() if line.strip()]


def test_task_set_shape():
    assert len(TASKS) >= 40
    by_language = Counter(t["language"] for t in TASKS)
    assert len(by_language) >= 4
    assert sum(1 for t in TASKS if t["language"] == "python" and t["python_test"]) >= 15
    for t in TASKS:
        solution = t["files"][t["target_path"]]
        assert solution == t["cursor_prefix_file_text"] + t["expected"] + t["suffix"], t["id"]
        assert "\n" not in t["expected"] and t["expected"].strip(), t["id"]
        assert len(t["files"]) >= 2, t["id"]


def _needed_names(task: dict) -> set[str]:
    """Names in the expected line that appear only in the task's other files."""
    target = task["cursor_prefix_file_text"] + task["suffix"]
    others = " ".join(t for p, t in task["files"].items() if p != task["target_path"])
    words = set(re.findall(r"[A-Za-z_]\w*", task["expected"]))
    only_there = {
        w for w in words if re.search(rf"\b{w}\b", others) and not re.search(rf"\b{w}\b", target)
    }
    if only_there:
        return only_there
    # Imported in the target, so the name is visible: what is needed is its definition.
    defined: set[str] = set()
    for path, text in task["files"].items():
        lang = language_for(None, path)
        if path != task["target_path"] and lang is not None:
            tree = parse(text, lang)
            assert tree is not None
            defined.update(d.name for d in extract_definitions(SourceText(text), tree, lang, path))
    return defined & words


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_context_contains_the_needed_definition(task, tmp_path):
    needed = _needed_names(task)
    assert needed, "the expected line must need a definition from another file"
    for rel, text in task["files"].items():
        if rel != task["target_path"]:
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
    index = WorkspaceIndex()
    index.add_root(str(tmp_path))
    index.refresh()
    prefix = task["cursor_prefix_file_text"]
    ctx = collect_context(
        ContextRequest(
            prefix + task["suffix"],
            len(prefix),
            str(tmp_path / task["target_path"]),
            count_tokens,
            budget=1024,
            index=index,
            workspace_root=str(tmp_path),
        )
    )
    extra = "\n".join(f.text for f in ctx.files)
    assert all(name in extra for name in needed), (needed, [f.path for f in ctx.files])
