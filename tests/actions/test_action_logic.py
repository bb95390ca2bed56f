"""Pure code-action logic: extraction, re-indentation, line endings, edit positions, naming."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from airgap_lsp.completion.actions import (
    ActionError,
    Edit,
    Parsed,
    Plan,
    action_prompt,
    apply_edits,
    extract_code_block,
    fence_stop,
    find_target,
    finish,
    indent_unit,
    minimal_edit,
    newline_of,
    path_for_tests,
    plan_docstring,
    plan_explain,
    plan_fix,
    plan_rewrite,
    plan_tests,
    python_module,
    reindent,
)
from airgap_lsp.context import language_for

PY = (
    "import os\n"
    "\n"
    "LIMIT = 3\n"
    "\n"
    "\n"
    "def total(xs):  # sums\n"
    "    t = 0\n"
    "    for x in xs:\n"
    "        t += x\n"
    "    return totl\n"
    "\n"
    "\n"
    "class Box:\n"
    "    @property\n"
    "    def size(self):\n"
    "        return LIMIT\n"
)


def parsed(text: str, path: str = "m.py", language_id: str = "python") -> Parsed:
    return Parsed.of(text, path, language_id)


# -- extraction -------------------------------------------------------------------------------


def test_extracts_the_first_code_block_only() -> None:
    reply = "Here:\n```python\ndef f():\n    return 1\n```\nand\n```python\nx = 2\n```\n"
    assert extract_code_block(reply) == "def f():\n    return 1\n"


@pytest.mark.parametrize(
    "reply",
    [
        "def f():\n    return 1\n",  # no fence at all
        "```python\ndef f():\n    return 1\n",  # cut off: never closed
        "```python\n\n```",  # empty block
        "```python\nx = 1\n```python\ny = 2\n",  # a new block opens where one should close
    ],
)
def test_malformed_output_is_an_error(reply: str) -> None:
    with pytest.raises(ActionError):
        extract_code_block(reply)


def test_malformed_reply_gives_no_edit() -> None:
    plan = plan_fix(parsed(PY), PY.index("totl"), PY.index("totl") + 4, "undefined name 'totl'")
    with pytest.raises(ActionError, match="cut off"):
        finish(plan, "```python\ndef total(xs):\n    t = 0\n")


def test_fence_stop_finds_the_closing_fence() -> None:
    assert fence_stop("x = 1\n") is None
    assert fence_stop("x = 1\n```") == 6
    assert fence_stop("```") == 0


# -- re-indentation and line endings ------------------------------------------------------------


def test_reindent_moves_code_to_the_target_indentation() -> None:
    code = "\n\ndef f(a):\n    if a:\n        return 1\n\n    return 2\n\n"
    assert reindent(code, "    ") == (
        "    def f(a):\n        if a:\n            return 1\n\n        return 2"
    )


def test_reindent_converts_indentation_units() -> None:
    code = "if a:\n    b()\n    if c:\n        d()\n"
    assert reindent(code, "\t", "\t") == "\tif a:\n\t\tb()\n\t\tif c:\n\t\t\td()"
    assert reindent(code, "  ", "  ") == "  if a:\n    b()\n    if c:\n      d()"


def test_indent_unit_and_newline_detection() -> None:
    assert indent_unit("a\n  b\n    c\n") == "  "
    assert indent_unit("a\n\tb\n") == "\t"
    assert indent_unit("a\n    b\n") == "    "
    assert newline_of("a\r\nb\r\n") == "\r\n"
    assert newline_of("a\nb") == "\n"


def test_fix_preserves_crlf_and_touches_only_the_changed_line() -> None:
    text = PY.replace("\n", "\r\n")
    start = text.index("totl")
    plan = plan_fix(parsed(text), start, start + 4, "undefined name 'totl'")
    reply = (
        "```python\nimport os\n\ndef total(xs):  # sums\n    t = 0\n    for x in xs:\n"
        "        t += x\n    return t\n```"
    )
    outcome = finish(plan, reply)
    (edit,) = outcome.edits
    assert text[edit.start : edit.end] == "    return totl"
    assert edit.new_text == "    return t"
    fixed = apply_edits(text, outcome.edits)
    assert fixed == text.replace("return totl", "return t")
    assert "\n" not in fixed.replace("\r\n", "")


def test_fix_reply_without_the_function_is_rejected() -> None:
    start = PY.index("totl")
    plan = plan_fix(parsed(PY), start, start + 4, "undefined name 'totl'")
    with pytest.raises(ActionError, match="whole of `total`"):
        finish(plan, "```python\nreturn t\n```")


def test_fix_that_does_not_parse_is_rejected() -> None:
    start = PY.index("totl")
    plan = plan_fix(parsed(PY), start, start + 4, "undefined name 'totl'")
    with pytest.raises(ActionError, match="does not parse"):
        finish(plan, "```python\ndef total(xs:\n    return t\n```")


def test_rewrite_reindents_a_method_body_selection() -> None:
    start = PY.index("        return LIMIT")
    plan = plan_rewrite(parsed(PY), start + 8, len(PY), "return twice the limit")
    assert (plan.start, plan.end) == (start, len(PY) - 1)
    outcome = finish(plan, "```python\nresult = LIMIT * 2\nreturn result\n```")
    fixed = apply_edits(PY, outcome.edits)
    assert fixed.endswith("        result = LIMIT * 2\n        return result\n")
    ast.parse(fixed)


def test_minimal_edit_trims_unchanged_lines() -> None:
    text = "a\nb\nc"
    assert minimal_edit(text, 0, 5, "a\nB\nc") == Edit(2, 4, "B\n")
    assert minimal_edit(text, 0, 5, text) is None


# -- docstrings and doc comments --------------------------------------------------------------


def _doc(text: str, offset: int, reply: str, path: str = "m.py", lid: str = "python") -> str:
    plan = plan_docstring(parsed(text, path, lid), offset)
    return apply_edits(text, finish(plan, reply).edits)


def test_docstring_goes_below_the_header_even_with_a_trailing_comment() -> None:
    out = _doc(PY, PY.index("t += x"), '```python\n"""Sum xs."""\n```')
    assert 'def total(xs):  # sums\n    """Sum xs."""\n    t = 0\n' in out


def test_docstring_of_a_decorated_method_is_indented_into_its_body() -> None:
    out = _doc(PY, PY.index("return LIMIT"), '```python\n"""The size.\n\nAlways LIMIT.\n"""\n```')
    assert (
        '    def size(self):\n        """The size.\n\n        Always LIMIT.\n        """\n' in out
    )
    ast.parse(out)


def test_docstring_from_a_reply_that_repeats_the_function() -> None:
    reply = '```python\ndef total(xs):\n    """Sum xs."""\n    t = 0\n```'
    out = _doc(PY, PY.index("def total"), reply)
    assert 'def total(xs):  # sums\n    """Sum xs."""\n    t = 0\n' in out


def test_existing_docstring_is_replaced() -> None:
    text = 'def f():\n    """Old."""\n    return 1\n'
    assert _doc(text, 0, '```python\n"""New."""\n```') == 'def f():\n    """New."""\n    return 1\n'


def test_docstring_for_a_one_line_function_moves_the_body_down() -> None:
    out = _doc("def f(): return 1\n", 0, '```python\n"""One."""\n```')
    assert out == 'def f():\n    """One."""\n    return 1\n'


def test_docstring_reply_that_is_not_a_docstring_is_an_error() -> None:
    plan = plan_docstring(parsed(PY), PY.index("def total"))
    with pytest.raises(ActionError, match="docstring"):
        finish(plan, "```python\nx = 1\n```")


def test_jsdoc_goes_above_the_export_and_keeps_crlf() -> None:
    text = "const a = 1;\r\n\r\n  export function add(a, b) {\r\n    return a + b;\r\n  }\r\n"
    reply = "```javascript\n/**\n * Add.\n * @param {number} a\n */\n```"
    out = _doc(text, text.index("return"), reply, "m.js", "javascript")
    assert out == text.replace(
        "  export", "  /**\r\n   * Add.\r\n   * @param {number} a\r\n   */\r\n  export"
    )


def test_rust_doc_comment_goes_above_attributes_and_replaces_an_old_one() -> None:
    text = "/// old\n#[inline]\nfn add(a: i32) -> i32 {\n    a\n}\n"
    out = _doc(text, text.index("fn add"), "```rust\n/// Adds.\n```", "m.rs", "rust")
    assert out == "/// Adds.\n#[inline]\nfn add(a: i32) -> i32 {\n    a\n}\n"


def test_no_target_outside_definitions() -> None:
    assert find_target(parsed(PY), PY.index("LIMIT = 3")) is None
    with pytest.raises(ActionError):
        plan_docstring(parsed(PY), 0)


# -- prompts ----------------------------------------------------------------------------------


class _Vocab:
    """A character-level stand-in vocabulary (no model needed)."""

    class control:  # mirrors the attribute of runtime.Model
        fim_prefix = fim_suffix = fim_middle = file_sep = repo_name = None

    add_bos = False
    bos = None

    def __init__(self, template: str | None) -> None:
        self.template = template

    def chat_template(self) -> str | None:
        return self.template

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        return [ord(c) for c in text]

    def detokenize(self, tokens: list[int]) -> str:
        return "".join(chr(t) for t in tokens)


def _prompt_text(template: str | None, plan: Plan) -> str:
    vocab = _Vocab(template)
    return vocab.detokenize(action_prompt(vocab, plan))  # type: ignore[arg-type]


def test_prompt_holds_context_code_and_prefill() -> None:
    start = PY.index("totl")
    plan = plan_fix(parsed(PY), start, start + 4, "undefined name 'totl'")
    text = _prompt_text(None, plan)
    assert text.startswith("<|im_start|>system\n")
    assert "import os" in text and "undefined name 'totl'" in text
    assert text.endswith("<|im_start|>assistant\n```python\n")
    assert "<think>" not in text


def test_thinking_is_switched_off_for_templates_that_think() -> None:
    plan = plan_explain(parsed(PY), PY.index("def total"), PY.index("def total"))
    text = _prompt_text("{% if enable_thinking %}<think>{% endif %}", plan)
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_explain_without_selection_covers_the_function() -> None:
    plan = plan_explain(parsed(PY), PY.index("t += x"), PY.index("t += x"))
    assert PY[plan.start : plan.end].startswith("def total") and plan.prefill == ""
    md = finish(plan, "Sums `xs`.\n").markdown
    assert md is not None and "Sums `xs`." in md and "lines 6–10" in md


# -- test files -------------------------------------------------------------------------------


def test_test_file_beside_the_module(tmp_path: Path) -> None:
    mod = tmp_path / "pkg" / "mod.py"
    mod.parent.mkdir()
    py = language_for("python")
    assert path_for_tests(str(mod), py, str(tmp_path)) == str(tmp_path / "pkg" / "test_mod.py")


def test_test_file_under_tests_when_it_exists(tmp_path: Path) -> None:
    mod = tmp_path / "pkg" / "mod.py"
    mod.parent.mkdir()
    (tmp_path / "tests").mkdir()
    py = language_for("python")
    assert path_for_tests(str(mod), py, str(tmp_path)) == str(tmp_path / "tests" / "test_mod.py")
    (mod.parent / "tests").mkdir()
    assert path_for_tests(str(mod), py, str(tmp_path)) == str(mod.parent / "tests" / "test_mod.py")


def test_test_file_names_follow_the_language() -> None:
    assert path_for_tests("/w/x/util.go", language_for("go"), "/w") == "/w/x/util_test.go"
    assert path_for_tests("/nope/a.ts", language_for("typescript")) == "/nope/a.test.ts"
    assert path_for_tests("/nope/Calc.java", language_for("java")) == "/nope/CalcTest.java"


def test_python_module_follows_packages(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    assert python_module(str(pkg / "mod.py")) == "pkg.sub.mod"
    assert python_module(os.path.join(str(tmp_path), "plain.py")) == "plain"


def test_tests_reply_gets_the_import_and_must_hold_a_test() -> None:
    p = parsed(PY)
    plan = plan_tests(p, PY.index("t += x"), "/w/test_m.py", "m", "pytest")
    outcome = finish(plan, "```python\ndef test_total():\n    assert total([1, 2]) == 3\n```")
    assert outcome.new_file is not None and outcome.new_file.path == "/w/test_m.py"
    assert outcome.new_file.text.startswith("from m import total\n")
    with pytest.raises(ActionError, match="no test"):
        finish(plan, "```python\nx = 1\n```")
