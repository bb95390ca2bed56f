from __future__ import annotations

import pytest
from ctx_helpers import split_cursor

from airgap_lsp.context import (
    CompletionMode,
    as_if_enter,
    completion_mode,
    decide_shape,
    dedupe_suffix,
    heal_word_end,
    shape_completion,
    trim_parse_errors,
    trim_to_block,
)
from airgap_lsp.context.text import indent_unit

MULTI, SINGLE = CompletionMode.MULTI_LINE, CompletionMode.SINGLE_LINE


@pytest.mark.parametrize(
    ("lang", "marked", "expected"),
    [
        ("python", "def f(x):█\n", MULTI),
        ("python", "def f(x):\n    █\n", MULTI),
        ("python", "class A:\n    def g(self):\n        █\n\nx = 1\n", MULTI),
        ("python", "total = compute(a, █)\n", SINGLE),
        ("python", "total = compute(a, b█\n", SINGLE),
        ("python", "x = {\n    'a':█\n}\n", SINGLE),
        ("python", "if ready:█\n    go()\n", SINGLE),
        ("go", "package m\n\nfunc f() {█\n}\n", MULTI),
        ("go", "package m\n\nfunc f() {\n\tx := g(█)\n}\n", SINGLE),
        ("javascript", "function f() {\n  █\n}\n", MULTI),
        ("javascript", "const v = call(\n  █\n);\n", SINGLE),
        ("rust", "fn f() -> u32 {\n    let x = 1█\n}\n", SINGLE),
        (None, "hello █", SINGLE),
        (None, "\n█\n", MULTI),
    ],
)
def test_completion_mode(lang, marked, expected):
    text, offset = split_cursor(marked)
    assert completion_mode(text, offset, lang) is expected


def test_python_block_ends_at_dedent():
    text, offset = split_cursor("def f(x):\n    █\n\ndef h():\n    pass\n")
    completion = "y = x + 1\n    return y\n\ndef g():\n    pass"
    assert trim_to_block(text, offset, completion, "python") == "y = x + 1\n    return y"


def test_python_header_completion_stops_at_next_sibling():
    text, offset = split_cursor("class A:\n    def f(self):█\n")
    completion = "\n        return 1\n\n    def g(self):\n        return 2"
    assert trim_to_block(text, offset, completion, "python") == "\n        return 1"


def test_brace_block_ends_before_closing_brace_present_in_suffix():
    text, offset = split_cursor("package m\n\nfunc f() int {\n\t█\n}\n")
    completion = "x := 1\n\treturn x\n}\n\nfunc g() {\n}"
    assert trim_to_block(text, offset, completion, "go") == "x := 1\n\treturn x"


def test_brace_block_keeps_closing_brace_the_document_lacks():
    text, offset = split_cursor("package m\n\nfunc f() int {\n\t█")
    completion = "x := 1\n\treturn x\n}\n\nfunc g() {\n}"
    assert trim_to_block(text, offset, completion, "go") == "x := 1\n\treturn x\n}"


def test_braces_in_strings_and_comments_do_not_count():
    text, offset = split_cursor("function f() {\n  █\n}\n")
    completion = 'log("}"); // }\n  return 1;\n}\nfunction g() {}'
    assert trim_to_block(text, offset, completion, "javascript") == 'log("}"); // }\n  return 1;'


@pytest.mark.parametrize(
    ("lang", "marked", "completion", "expected"),
    [
        ("python", "print(█)\n", '"hi")', '"hi"'),
        ("python", "print(█)\n", "foo(x)", "foo(x)"),  # its own bracket: kept
        ("python", "x = [1, 2█]\n", ", 3]", ", 3"),
        ("javascript", "call(a, █);\n", "b);", "b"),
        ("rust", "fn f() {\n    g(█);\n}\n", "x, y);", "x, y"),
        ("python", "value = lookup(█)\n", "key", "key"),  # no overlap at all
    ],
)
def test_suffix_deduplication(lang, marked, completion, expected):
    text, offset = split_cursor(marked)
    assert dedupe_suffix(text, offset, completion, lang) == expected


def test_duplicate_lines_of_the_suffix_are_dropped():
    text, offset = split_cursor("def f(a):\n    █\n    return a\n")
    completion = "a = a * 2\n    return a"
    assert dedupe_suffix(text, offset, completion, "python") == "a = a * 2"


def test_parse_error_trimming_keeps_longest_clean_line_prefix():
    text, offset = split_cursor("def f():\n    █\n")
    completion = "a = 1\n    b = 2\n    c = (3 +"
    assert trim_parse_errors(text, offset, completion, "python") == "a = 1\n    b = 2"


def test_parse_error_trimming_on_token_boundary_and_drop():
    text, offset = split_cursor("package m\n\nfunc f() int {\n\treturn █\n}\n")
    assert trim_parse_errors(text, offset, "total + ) 3", "go") == "total"
    assert trim_parse_errors(text, offset, ") ) )", "go") == ""


def test_clean_completion_is_untouched_even_if_document_already_has_errors():
    text, offset = split_cursor("def f(:\n    pass\n\nx = █\n")
    assert trim_parse_errors(text, offset, "compute(1, 2)", "python") == "compute(1, 2)"


def test_shape_completion_pipeline():
    text, offset = split_cursor("def area(w, h):\n    █\n\ndef other():\n    pass\n")
    completion = "result = w * h\n    return result\n\ndef perimeter(w, h):\n    return 2 * (w + h)"
    assert shape_completion(text, offset, completion, "python") == (
        "result = w * h\n    return result"
    )
    text, offset = split_cursor("total = compute(█)\nprint(total)\n")
    assert shape_completion(text, offset, "a, b)\nprint(a)", "python") == "a, b"
    assert shape_completion(text, offset, "", "python") == ""
    assert shape_completion("hello ", 6, "world\nmore", None) == "world"


@pytest.mark.parametrize(
    ("marked", "completion", "expected"),
    [
        # The model wrote `te` of `close_intercept` twice: the word becomes the known one.
        ("def close_intercept():\n    pass\nself.close_█tercept()\n", "inte", "in"),
        # A middle of whole lines ending mid-word before the rest of the word.
        (
            "x = total_count\ny = [\n    a,\n    total_█count\n",
            "a,\n    total_co",
            "a,\n    total_",
        ),
        # Already a known word: nothing is cut.
        ("aaa = 1\nprint(a█a)\n", "a", "a"),
        # No cut makes a known word: the model's letters stay.
        ("value = 1\nprint(va█zz)\n", "zz", "zz"),
        # The cursor is not inside a word.
        ("def close_intercept():\n    pass\nself.close_█ = 1\n", "inte", "inte"),
    ],
)
def test_a_middle_ending_inside_a_word_drops_the_letters_it_wrote_twice(
    marked, completion, expected
):
    text, offset = split_cursor(marked)
    assert heal_word_end(text, offset, completion) == expected


def test_shape_completion_heals_the_word_at_the_end_of_a_span():
    text, offset = split_cursor(
        "def close_intercept():\n    pass\n\nif x:\n    self.close_█tercept()\n"
    )
    completion = "intercept()\nif x:\n    self.close_inte"
    shaped = shape_completion(text, offset, completion, "python", mode=CompletionMode.INFILL)
    assert shaped == "intercept()\nif x:\n    self.close_in"


_TWO_SPACE_CLASS = """class Argument {
  /**
   * Return argument name.
   *
   * @return {string}
   */
  name() {
    return this._name;
  }

  /**
   * Set the default value.
   *
   * @param {*} value
   * @return {Argument}
   */
  default(value) {
    if (value !== undefined) {
      this.defaultValue = value;
    }
    return this;
  }

  /**
   * Enable positional options.
   *
   * @return {Argument} `this` for chaining
   */
  enablePositionalOptions(positional = true) {█
  }
}
"""


def test_indent_unit_of_a_two_space_file_with_jsdoc_comments():
    # Widths alone said 4 (the JSDoc lines at 3 are a third of them); steps between lines say 2.
    assert indent_unit(_TWO_SPACE_CLASS) == "  "
    assert (
        indent_unit("def f(x):\n    if x:\n        return (\n            x\n        )\n") == "    "
    )
    assert indent_unit("a\n  b\n    c\n") == "  "
    assert indent_unit("func f() {\n\tif x {\n\t\treturn\n\t}\n}\n") == "\t"


def test_enter_after_an_opener_in_a_two_space_file_indents_by_two():
    text, offset = split_cursor(_TWO_SPACE_CLASS)
    shape = decide_shape(text, offset, "javascript")
    _, _, inserted = as_if_enter(text, offset, shape)
    assert inserted == "\n    "


def test_enter_after_an_opener_in_a_go_file_with_no_indented_line_indents_by_a_tab():
    # A short Go file shows no indentation yet: gofmt's tab, not four spaces (the model then
    # wrote the body in spaces).
    text, offset = split_cursor(
        'package mux\n\nimport "net/http"\n\nfunc Set(r *http.Request) *http.Request {█\n}\n'
    )
    _, _, inserted = as_if_enter(text, offset, decide_shape(text, offset, "go"))
    assert inserted == "\n\t"
    text, offset = split_cursor("def f(x):█\n    pass\n")
    _, _, inserted = as_if_enter(text, offset, decide_shape(text, offset, "python"))
    assert inserted == "\n    "
