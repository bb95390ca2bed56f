"""The real-code infilling benchmark without a model or network: task cutting on small
in-memory files of each language, the split, the metrics, the naive prompt and the reports."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks import infill_real
from benchmarks.infill_metrics import (
    edit_similarity,
    exact,
    grade,
    is_empty,
    levenshtein,
    parses,
    starts,
)
from benchmarks.infill_naive import fim_tokens
from benchmarks.infill_report import aggregate, markdown, write
from benchmarks.infill_sources import SourceFile, skip_reason
from benchmarks.infill_tasks import (
    AFTER,
    BEFORE,
    KINDS,
    LANGUAGES,
    Task,
    assign_split,
    build_tasks,
    is_code_line,
    select,
)

PY_FUNC = '''
def step_{n}(rows, limit={n}):
    """Sum the paid rows of batch {n}."""
    total = 0
    for row in rows:
        if row.paid:
            total += row.amount
        elif row.amount > limit:
            total -= 1
    values = [
        row.amount * {n},
        limit,
    ]
    return total + len(values)
'''
PY = "import os\nimport sys\n\n" + "".join(PY_FUNC.format(n=n) for n in range(14))

JS_FUNC = """
function step{n}(rows, limit) {{
  let total = 0;
  for (const row of rows) {{
    if (row.paid) {{
      total += row.amount;
    }} else if (row.amount > limit) {{
      total -= {n};
    }}
  }}
  const values = [
    total * 2,
    limit,
  ];
  return total + values.length;
}}
"""
JS = "'use strict';\n" + "".join(JS_FUNC.format(n=n) for n in range(6)) + "\nexport { step0 };\n"

TS_FUNC = """
export function step{n}(rows: Row[], limit: number): number {{
  let total = 0;
  for (const row of rows) {{
    if (row.paid) {{
      total += row.amount;
    }} else if (row.amount > limit) {{
      total -= {n};
    }}
  }}
  const values: number[] = [
    total * 2,
    limit,
  ];
  return total + values.length;
}}
"""
TS = "interface Row {\n  paid: boolean;\n  amount: number;\n}\n" + "".join(
    TS_FUNC.format(n=n) for n in range(6)
)

GO_FUNC = """
func Step{n}(rows []Row, limit int) int {{
	total := 0
	for _, row := range rows {{
		if row.Paid {{
			total += row.Amount
		}} else if row.Amount > limit {{
			total -= {n}
		}}
	}}
	values := []int{{
		total * 2,
		limit,
	}}
	return total + len(values)
}}
"""
GO = "package steps\n\ntype Row struct {\n\tPaid   bool\n\tAmount int\n}\n" + "".join(
    GO_FUNC.format(n=n) for n in range(6)
)

RS_FUNC = """
pub fn step_{n}(rows: &[Row], limit: i64) -> i64 {{
    let mut total = 0;
    for row in rows {{
        if row.paid {{
            total += row.amount;
        }} else if row.amount > limit {{
            total -= {n};
        }}
    }}
    let values = vec![
        total * 2,
        limit,
    ];
    total + values.len() as i64
}}
"""
RS = "pub struct Row {\n    pub paid: bool,\n    pub amount: i64,\n}\n" + "".join(
    RS_FUNC.format(n=n) for n in range(6)
)

SAMPLES = {
    "python": ("pkg/steps.py", PY),
    "javascript": ("lib/steps.js", JS),
    "typescript": ("src/steps.ts", TS),
    "go": ("steps.go", GO),
    "rust": ("src/steps.rs", RS),
}
PER_GROUP = 4


def _files() -> list[SourceFile]:
    out = []
    for language, (path, text) in SAMPLES.items():
        for copy in range(2):  # two packages per language: they take turns
            out.append(
                SourceFile(
                    package=f"sample-{language}-{copy}",
                    version="1.0",
                    ecosystem="test",
                    language=language,
                    path=path,
                    text=text,
                    sha256=f"{copy}" * 64,
                )
            )
    return out


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return build_tasks(_files(), seed=0, per_kind_per_lang=PER_GROUP)


def _source(task: Task) -> str:
    return SAMPLES[task.language][1]


# -- tasks ----------------------------------------------------------------------------------


def test_every_language_gets_every_kind(tasks: list[Task]) -> None:
    counts = Counter((t.language, t.kind) for t in tasks)
    assert counts == {(lang, kind): PER_GROUP for lang in LANGUAGES for kind in KINDS}
    assert len({t.task_id for t in tasks}) == len(tasks)


def test_the_first_tasks_vary_in_language_and_kind(tasks: list[Task]) -> None:
    first = tasks[:4]
    assert len({t.language for t in first}) == 4
    assert len({t.kind for t in first}) == 4


def test_document_is_a_window_of_the_real_file_at_line_boundaries(tasks: list[Task]) -> None:
    for t in tasks:
        lines = _source(t).split("\n")
        window = t.original
        start = sum(len(line) + 1 for line in lines[: t.window_start])
        assert _source(t)[start : start + len(window)] == window, t.task_id
        assert window.endswith("\n") or start + len(window) == len(_source(t))
        first_hole_line = t.hole_line
        last_hole_line = first_hole_line + t.expected.count("\n")
        assert first_hole_line - t.window_start <= BEFORE
        after = t.window_start + window.count("\n") - last_hole_line - 1
        assert after <= AFTER, t.task_id
        assert t.prefix.count("\n") == t.hole_line - t.window_start
        assert t.path == SAMPLES[t.language][0]


def test_long_files_are_cut_to_the_window(tasks: list[Task]) -> None:
    deep = [t for t in tasks if t.language == "python" and t.hole_line > BEFORE + 5]
    assert deep, "the Python sample is long enough for holes past the window's reach"
    for t in deep:
        assert t.window_start > 0
        assert len(t.original) < len(PY)


def test_line_tasks_leave_the_indentation_before_the_cursor(tasks: list[Task]) -> None:
    for t in (t for t in tasks if t.kind == "line"):
        line_prefix = t.prefix.rsplit("\n", 1)[-1]
        assert not line_prefix.strip()
        assert "\n" not in t.expected and t.expected.strip() == t.expected.rstrip()
        assert t.suffix.startswith("\n") or not t.suffix


def test_multiline_tasks_and_their_block_openers(tasks: list[Task]) -> None:
    multi = [t for t in tasks if t.kind == "multiline"]
    for t in multi:
        assert 1 <= t.expected.count("\n") <= 7
        assert not t.prefix.rsplit("\n", 1)[-1].strip()
    openers = [t for t in multi if t.ends_with_opener]
    assert len(openers) * 3 >= len(multi)
    for t in openers:
        last = t.expected.rstrip().rsplit("\n", 1)[-1]
        assert last.rstrip().endswith(":" if t.language == "python" else "{"), t.task_id
        body = next(line for line in t.suffix.split("\n")[1:] if line.strip())
        indent = len(last) - len(last.lstrip())
        assert len(body) - len(body.lstrip()) > indent, "the block's body stays below"


def test_span_tasks_start_mid_line_and_cross_lines(tasks: list[Task]) -> None:
    for t in (t for t in tasks if t.kind == "span"):
        assert 1 <= t.expected.count("\n") <= 4
        assert t.prefix.rsplit("\n", 1)[-1].strip(), "starts after code on its line"


def test_eol_tasks_start_with_a_newline_after_an_opener(tasks: list[Task]) -> None:
    for t in (t for t in tasks if t.kind == "eol"):
        assert t.expected.startswith("\n")
        assert 1 <= t.expected.count("\n") <= 4
        assert t.prefix.rstrip().endswith((":", "{", "(", "["))
        assert t.suffix.startswith("\n") or not t.suffix


def test_no_hole_is_blank_or_comment_only(tasks: list[Task]) -> None:
    for t in tasks:
        assert any(is_code_line(line, t.language) for line in t.expected.split("\n"))
        if t.kind in ("line", "multiline"):  # spans and bodies may start in a docstring
            first = t.expected.lstrip()
            assert not first.startswith(('"""', "#", "//")), "prose is not a hole's start"


def test_split_is_an_exact_quarter_and_stable(tasks: list[Task]) -> None:
    heldout = {t.task_id for t in tasks if t.split == "heldout"}
    assert len(heldout) == len(tasks) // 4
    again = build_tasks(_files(), seed=0, per_kind_per_lang=PER_GROUP)
    assert [(t.task_id, t.split) for t in again] == [(t.task_id, t.split) for t in tasks]
    shuffled = assign_split(list(reversed(tasks)))
    assert {t.task_id for t in shuffled if t.split == "heldout"} == heldout
    # stratified: every (language, kind) group of 4 has one held-out task
    assert Counter((t.language, t.kind) for t in tasks if t.split == "heldout") == {
        (lang, kind): 1 for lang in LANGUAGES for kind in KINDS
    }
    assert len(select(tasks, "heldout")) == len(heldout)
    assert len(select(tasks, "tuning", limit=3)) == 3


def test_split_of_an_uneven_set_is_still_a_quarter(tasks: list[Task]) -> None:
    assert sum(t.split == "heldout" for t in assign_split(tasks[:23])) == 5


def test_another_seed_cuts_other_holes(tasks: list[Task]) -> None:
    other = build_tasks(_files(), seed=1, per_kind_per_lang=PER_GROUP)
    assert {t.task_id for t in other} != {t.task_id for t in tasks}


def test_skip_reason_leaves_out_tests_generated_vendored_and_minified() -> None:
    code = "x = 1\n" * 20
    assert skip_reason("pkg/core.py", code) is None
    assert skip_reason("tests/test_core.py", code) is not None
    assert skip_reason("pkg/core_test.go", code) is not None
    assert skip_reason("src/a.spec.ts", code) is not None
    assert skip_reason("types/a.d.ts", code) is not None
    assert skip_reason("pkg/_vendor/six.py", code) is not None
    assert skip_reason("dist/index.js", code) is not None
    assert skip_reason("pkg/tables.py", "# Code generated by a tool. DO NOT EDIT.\n" + code)
    assert skip_reason("lib/a.min.js", code) is not None
    assert skip_reason("lib/a.js", "var a=1;" * 100 + "\n" * 20) == "minified"
    assert skip_reason("pkg/tiny.py", "x = 1\n") == "too short"
    assert skip_reason("README.md", code) == "extension"


# -- metrics --------------------------------------------------------------------------------


def test_exact_match_ignores_trailing_whitespace_only() -> None:
    assert exact("x = 1  \n  y = 2\n\n", "x = 1\n  y = 2")
    assert not exact(" x = 1", "x = 1")
    assert not exact("x = 1\ny", "x = 1")


def test_starts_accepts_an_output_that_runs_on_past_the_hole() -> None:
    assert starts("x = 1\ny = 2\n\ndef more():", "x = 1\ny = 2")
    assert starts("\n\tn += x  \n\t}", "\n\tn += x")
    assert not starts("x = 2\ny = 2", "x = 1")
    g = grade(
        "return a + b\n\n\ndef sub(a, b):", "def add(a, b):\n    ", "return a + b", "", "python"
    )
    assert g.starts and not g.exact


def test_levenshtein_matches_the_textbook_table() -> None:
    def table(a: str, b: str) -> int:
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]

    pairs = [("", ""), ("", "abc"), ("kitten", "sitting"), ("flaw", "lawn"), ("a" * 70, "b")]
    pairs += [("if x:\n    y = 1", "if  x :\n   y=2"), ("é∑", "e∑x")]
    for a, b in pairs:
        assert levenshtein(a, b) == table(a, b) == levenshtein(b, a)


def test_edit_similarity() -> None:
    assert edit_similarity("abc", "abc  ") == 1.0
    assert edit_similarity("", "") == 1.0
    assert edit_similarity("", "abcd") == 0.0
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)


def test_parses_compares_with_the_original_window() -> None:
    prefix = "def f(rows):\n    total = 0\n    "
    suffix = "\n        total += row\n    return total\n"
    expected = "for row in rows:"
    assert parses(prefix, "for row in rows:", suffix, expected, "python")
    assert parses(prefix, "for r in rows:", suffix, expected, "python")
    assert not parses(prefix, "for row in rows", suffix, expected, "python")  # no colon
    assert not parses(prefix, "", suffix, expected, "python")
    assert not parses(prefix, None, suffix, expected, "python")
    go_prefix = "package p\n\nfunc f(xs []int) int {\n\tn := 0\n\tfor _, x := range xs {"
    go_suffix = "\n\t}\n\treturn n\n}\n"
    assert parses(go_prefix, "\n\t\tn += x", go_suffix, "\n\t\tn += x", "go")
    assert not parses(go_prefix, "\n\t\tn += x\n\t}\n}", go_suffix, "\n\t\tn += x", "go")


def test_grade_counts_whitespace_only_as_empty() -> None:
    assert is_empty(None) and is_empty(" \n") and not is_empty("x")
    g = grade("\n", "a = ", "1", "\n", "python")
    assert g.empty and not g.exact and not g.parses and g.edit_similarity == 0.0
    g = grade("1", "a = ", "1", "\n", "python")
    assert g.exact and g.parses and not g.empty and g.edit_similarity == 1.0


# -- naive prompt ---------------------------------------------------------------------------


def test_naive_prompt_is_prefix_suffix_middle_with_control_tokens() -> None:
    model = SimpleNamespace(
        control=SimpleNamespace(fim_prefix=1, fim_suffix=2, fim_middle=3),
        add_bos=False,
        bos=None,
        tokenize=lambda text: [ord(c) for c in text],
        path=Path("m.gguf"),
    )
    assert fim_tokens(model, "ab", "c") == [1, 97, 98, 2, 99, 3]  # type: ignore[arg-type]
    model.add_bos, model.bos = True, 0
    assert fim_tokens(model, "", "")[:2] == [0, 1]  # type: ignore[arg-type]
    model.control.fim_middle = None
    with pytest.raises(ValueError):
        fim_tokens(model, "a", "b")  # type: ignore[arg-type]


# -- the run and its reports ----------------------------------------------------------------


def test_run_task_grades_every_config_and_survives_a_failing_one(tasks: list[Task]) -> None:
    task = next(t for t in tasks if t.kind == "line")
    seen: list[str] = []

    def right(t: Task, uri: str) -> infill_real.Outcome:
        seen.append(uri)
        return infill_real.Outcome(t.expected + "  ", 12.0, "eog", 100, 5)

    def broken(t: Task, uri: str) -> infill_real.Outcome:
        seen.append(uri)
        raise RuntimeError("boom")

    record, texts = infill_real.run_task(
        task, 1, ["airgap", "naive"], {"airgap": right, "naive": broken}
    )
    assert list(record["configs"]) == ["airgap", "naive"]
    assert record["configs"]["airgap"]["exact"] and record["configs"]["airgap"]["parses"]
    assert record["configs"]["naive"]["empty"] and "boom" in record["configs"]["naive"]["error"]
    assert len(set(seen)) == 2, "each configuration gets its own cache key"
    assert seen[0].startswith("file:///infill/naive-"), "odd tasks run the configs reversed"
    assert "text" not in record and "expected" not in record  # no package code in results
    assert texts["expected"] == task.expected and texts["outputs"]["naive"] is None


def _fake_records(tasks: list[Task]) -> list[dict[str, Any]]:
    records = []
    for i, t in enumerate(tasks):
        good = {"exact": True, "starts": True, "edit_similarity": 1.0, "parses": True}
        good["empty"] = False
        bad = {"exact": False, "starts": False, "edit_similarity": 0.5, "parses": False}
        bad["empty"] = i % 2 == 0
        records.append(
            {
                "task_id": t.task_id,
                "language": t.language,
                "kind": t.kind,
                "split": t.split,
                "package": t.package,
                "configs": {
                    "airgap": {**good, "latency_ms": 100.0 + i},
                    "naive": {**(good if t.kind == "line" else bad), "latency_ms": 200.0},
                },
            }
        )
    return records


def test_report_aggregates_per_split_kind_and_language(tasks: list[Task]) -> None:
    records = _fake_records(tasks)
    summary = aggregate(records, ["airgap", "naive"])
    assert set(summary) == {"heldout", "tuning", "all"}
    held = summary["heldout"]
    assert held["overall"]["airgap"]["n"] == len(tasks) // 4
    assert held["overall"]["airgap"]["exact"] == 100.0
    assert summary["all"]["kind"]["line"]["naive"]["exact"] == 100.0
    assert summary["all"]["kind"]["span"]["naive"]["exact"] == 0.0
    assert summary["all"]["kind"]["span"]["naive"]["edit_similarity"] == 50.0
    assert set(summary["tuning"]["language"]) == set(LANGUAGES)
    assert summary["all"]["overall"]["naive"]["p50_ms"] == 200.0
    md = markdown(summary, ["airgap", "naive"], {"tasks": len(records), "seed": 0})
    assert "Held-out quarter" in md and "Tuning set" in md
    assert "airgap − naive" in md and "exact % airgap" in md and "starts % naive" in md


def test_write_produces_json_markdown_and_plot(tasks: list[Task], tmp_path: Path) -> None:
    records = _fake_records(tasks)
    meta = {"tasks": len(records), "sources": [], "seed": 0}
    paths = write(records, ["airgap", "naive"], meta, tmp_path, "infill_test")
    data = json.loads(paths["json"].read_text())
    assert data["summary"]["heldout"]["overall"]["naive"]["n"] == len(tasks) // 4
    assert len(data["tasks"]) == len(tasks)
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    assert "By language" in paths["md"].read_text()


def test_cli_arguments() -> None:
    args = infill_real.parse_args(["--limit", "4", "--configs", "naive", "--split", "heldout"])
    assert (args.command, args.limit, args.configs, args.split) == ("run", 4, ["naive"], "heldout")
    assert infill_real.parse_args(["prepare"]).command == "prepare"
    with pytest.raises(SystemExit):
        infill_real.parse_args(["--configs", "other"])


def test_the_completers_log_line_is_kept_for_each_request() -> None:
    import logging

    handler = infill_real._LastLine()
    log = logging.getLogger("tests.infill.completer")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("completion: %d prompt tokens, stop=%s", 120, "prompt_budget")
        assert handler.line == "completion: 120 prompt tokens, stop=prompt_budget"
    finally:
        log.removeHandler(handler)
