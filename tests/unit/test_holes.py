"""Every kind of hole a user leaves gets the whole answer the model gives for it.

The model is scripted (the answer depends only on where the prompt puts the cursor, as a
fill-in-the-middle model's does); everything else is the real completer: the real Qwen2.5
tokenizer builds the prompt, tree-sitter shapes the output. Each case is one of the failure
modes seen on held-out infilling tasks, in Python and in a brace language: a hole that ends by
opening a block whose body is below, several lines missing above code, the end of a line whose
continuation is on new lines, a span across lines, an empty body in a brace language.
"""

from __future__ import annotations

import pytest

from tests.unit.scripted import Answer, complete


def at(cases: dict[str, str | tuple[str, str]], default: str = "") -> Answer:
    """An answer chosen by how the prefix window ends (longest match wins)."""

    def answer(prefix: str, _suffix: str) -> str | tuple[str, str]:
        for end in sorted(cases, key=len, reverse=True):
            if prefix.endswith(end):
                return cases[end]
        return default

    return answer


# -- 1. a hole that ends by opening a block whose body is already below ----------------------

PY_OPENER = """def total_paid(rows):
    total = 0
    for row in rows:|
            total += row.amount
    return total
"""


def test_block_opener_above_its_body_python(vocab):
    answer = at(
        {
            "for row in rows:": "\n        if row.paid:",  # asked at the end of the line
            # asked on a new line, indented as an editor indents it after the opener
            "for row in rows:\n        ": "if row.paid:\n",
        }
    )
    text, _ = complete(vocab, PY_OPENER, answer, "python", "pay.py")
    assert text == "\n        if row.paid:"


JS_OPENER = """function totalPaid(rows) {
  let total = 0;
  for (const row of rows) {|
      total += row.amount;
    }
  }
  return total;
}
"""


def test_block_opener_above_its_body_javascript(vocab):
    answer = at(
        {
            "for (const row of rows) {": "\n    if (row.paid) {",
            "for (const row of rows) {\n    ": "if (row.paid) {\n",
        }
    )
    text, _ = complete(vocab, JS_OPENER, answer, "javascript", "pay.js")
    assert text == "\n    if (row.paid) {"


PY_MISSING_OPENER = """def reduce_(func, seq, initial=None):|
        return functools.reduce(func, seq)
    else:
        return functools.reduce(func, seq, initial)
"""


def test_a_model_that_copies_the_line_below_is_asked_again_without_it(vocab):
    # Asked on the new line, the model first writes the line below again (the hole looks
    # empty to it); with that line's first token banned it writes the missing opener.
    copy = "return functools.reduce(func, seq)\n    else:\n"
    answer = at({"initial=None):\n    ": (copy, "if initial is None:\n")})
    text, engine = complete(vocab, PY_MISSING_OPENER, answer, "python", "r.py")
    assert text == "\n    if initial is None:"
    assert len(engine.asked) == 2


RS_TABLE = """static FREQ: [u8; 4] = [
    255, // 'Ú'
    |
    255, // 'Ü'
    255, // 'Ý'
];
"""


PY_TABLE = """CODES = [
    ("a", 1),
    |
    ("c", 3),
]
"""


@pytest.mark.parametrize(
    ("doc", "language", "path", "row", "copy", "shared"),
    [
        (RS_TABLE, "rust", "freqs.rs", "255, // 'Û'", "255, // 'Ü'", "255, // '"),
        (PY_TABLE, "python", "codes.py", '("b", 2),', '("c", 3),', '("'),
    ],
)
def test_a_copied_row_of_a_table_is_asked_again_from_where_the_rows_differ(
    vocab, doc, language, path, row, copy, shared
):
    # Seen on infill_real's tuning split (regex's freqs.rs): the model writes the row below
    # again. The missing row begins like the rows around it, so banning the copy's first
    # token (`255`) bans the answer too; the retry keeps the rows' shared beginning and bans
    # the copy where it departs from the row above.
    above = doc[: doc.index("|")]
    answer = at({above[-12:]: (copy + "\n", row + "\n")})
    text, engine = complete(vocab, doc, answer, language, path)
    assert text == row
    first, retry = engine.bans
    assert first is None and retry is not None
    tokens = vocab.tokenize(copy + "\n")
    step, banned = retry
    assert vocab.detokenize(tokens[:step]) == shared and banned == {tokens[step]}


PY_REPEATED_STEPS = """def test_sizes():
    v = make([])
    assert len(v) == 0
    |
    v.close()

    v = make([1, 2, 3])
    assert len(v) == 3
"""


def test_a_middle_that_starts_like_the_line_below_and_goes_on_otherwise_is_kept(vocab):
    # Repetitive code (tests, tables) repeats statements: the right middle here begins with
    # the line below and then differs from the code below; it is no copy of it.
    middle = "v.close()\n\n    v = make([1])\n    assert len(v) == 1\n"
    answer = at({"assert len(v) == 0\n    ": middle})
    text, engine = complete(vocab, PY_REPEATED_STEPS, answer, "python", "t.py")
    assert text == middle.rstrip()
    assert len(engine.asked) == 1


@pytest.mark.parametrize(
    "copy", ["v.close()\n", "v.close()", "v.close()\n\n    v = make([1, 2, 3])\n"]
)
def test_a_middle_that_is_only_the_code_below_is_asked_again(vocab, copy):
    answer = at({"assert len(v) == 0\n    ": (copy, "assert v.size() == 0\n")})
    text, engine = complete(vocab, PY_REPEATED_STEPS, answer, "python", "t.py")
    assert text == "assert v.size() == 0"
    assert len(engine.asked) == 2


GO_CLOSER = """func shift(xs []int) {
	for i := range xs {
		if xs[i] > 0 {
			xs[i]--
		|
	}
}
"""


def test_a_closer_like_the_line_below_is_no_copy_of_it(vocab):
    # `}` closes the inner block; the `}` below closes the loop.
    text, engine = complete(vocab, GO_CLOSER, at({"xs[i]--\n\t\t": "}\n"}), "go", "s.go")
    assert text == "}"
    assert len(engine.asked) == 1


# The file further down is broken (an unterminated docstring: a file being edited, or the
# window of a file an infilling benchmark shows): once the middle repairs the code at the
# cursor, the parser's recovery counts more errors down there than in the file without it.
PY_BROKEN_BELOW = (
    PY_MISSING_OPENER
    + '''

def fold(binop, seq):
    """
    Reduce without guarantee of ordered reduction.

    ``binop``  - associative operator. The associative property allows us to
    ``seq``    - a sequence to be aggregated
'''
)


def test_a_middle_that_repairs_its_statement_is_kept_when_the_file_is_broken_below(vocab):
    answer = at({"initial=None):\n    ": "if initial is None:"})
    text, _ = complete(vocab, PY_BROKEN_BELOW, answer, "python", "r.py")
    assert text == "\n    if initial is None:"
    # A middle that opens a string it does not close is still cut before it, and every middle
    # is judged as it is where the file below is intact.
    answer = at({"initial=None):\n    ": 'if initial is None:\n    """doc'})
    text, _ = complete(vocab, PY_BROKEN_BELOW, answer, "python", "r.py")
    assert text == "\n    if initial is None:"
    for middle in ("print(initial", "x = [", "if initial is None:\n        x = (1,"):
        answer = at({"initial=None):\n    ": middle})
        broken, _ = complete(vocab, PY_BROKEN_BELOW, answer, "python", "r.py")
        intact, _ = complete(vocab, PY_MISSING_OPENER, answer, "python", "r.py")
        assert broken == intact, middle


def test_the_hole_before_a_body_on_a_line_of_its_own(vocab):
    doc = PY_OPENER.replace("rows:|\n", "rows:\n|")
    text, _ = complete(vocab, doc, at({"rows:\n": "        if row.paid:\n"}), "python", "p.py")
    assert text == "        if row.paid:\n"


# -- 2. several lines missing above code --------------------------------------------------------

PY_LINES = """def count_positive(xs):
    count = 0
|    return count
"""
PY_BODY = "    for x in xs:\n        if x > 0:\n            count += 1\n"


def test_several_lines_missing_above_code_python(vocab):
    text, _ = complete(vocab, PY_LINES, at({"count = 0\n": PY_BODY}), "python", "c.py")
    assert text == PY_BODY


def test_several_lines_missing_on_an_empty_line_python(vocab):
    doc = PY_LINES.replace("|", "|\n")
    text, _ = complete(vocab, doc, at({"count = 0\n": PY_BODY.rstrip()}), "python", "c.py")
    assert text == PY_BODY.rstrip()


GO_LINES = """package main

func countPositive(xs []int) int {
\tcount := 0
|\treturn count
}
"""
GO_BODY = "\tfor _, x := range xs {\n\t\tif x > 0 {\n\t\t\tcount++\n\t\t}\n\t}\n"


def test_several_lines_missing_above_code_go(vocab):
    text, _ = complete(vocab, GO_LINES, at({"count := 0\n": GO_BODY}), "go", "c.go")
    assert text == GO_BODY


def test_a_middle_that_runs_into_the_code_below_is_cut_there(vocab):
    runs_on = PY_BODY + "    return count\n\n\ndef other():\n    pass\n"
    text, _ = complete(vocab, PY_LINES, at({"count = 0\n": runs_on}), "python", "c.py")
    assert text == PY_BODY


def test_a_middle_that_leaves_the_scope_below_is_cut_there(vocab):
    runs_on = PY_BODY + "print(count_positive([1, -2]))\n"
    text, _ = complete(vocab, PY_LINES, at({"count = 0\n": runs_on}), "python", "c.py")
    assert text == PY_BODY


# -- 3. the end of a line whose continuation is on new lines ------------------------------------

PY_EOL = """def evens(xs):
    result = []|
    return result
"""


def test_end_of_a_complete_line_asks_for_the_next_line_python(vocab):
    body = "    for x in xs:\n        if x % 2 == 0:\n            result.append(x)\n"
    # At the end of the line the model says the hole is empty (a newline, then its end).
    text, engine = complete(
        vocab,
        PY_EOL,
        at({"result = []": "\n", "result = []\n    ": body.removeprefix("    ")}),
        "python",
        "e.py",
    )
    assert text == "\n" + body.rstrip("\n")
    assert [p.endswith("result = []\n    ") for p, _ in engine.asked] == [False, True]


GO_EOL = """package main

func evens(xs []int) []int {
\tresult := []int{}|
\treturn result
}
"""


def test_end_of_a_complete_line_asks_for_the_next_line_go(vocab):
    body = (
        "\tfor _, x := range xs {\n\t\tif x%2 == 0 {\n"
        "\t\t\tresult = append(result, x)\n\t\t}\n\t}\n"
    )
    answer = at({"result := []int{}": "\n", "result := []int{}\n\t": body.removeprefix("\t")})
    text, _ = complete(vocab, GO_EOL, answer, "go", "e.go")
    assert text == "\n" + body.rstrip("\n")


# -- 4. a span that starts mid-line and runs over several lines --------------------------------

PY_SPAN = """def scaled(a, b):
    total = add(|* 2
"""


def test_span_across_lines_python(vocab):
    text, _ = complete(vocab, PY_SPAN, at({"add(": "a, b)\n    return total "}), "python", "s.py")
    assert text == "a, b)\n    return total "


JS_SPAN = """function scaled(a, b) {
  const total = add(|* 2;
}
"""


def test_span_across_lines_javascript(vocab):
    answer = at({"add(": "a, b);\n  return total "})
    text, _ = complete(vocab, JS_SPAN, answer, "javascript", "s.js")
    assert text == "a, b);\n  return total "


# -- 5. an empty function body in a brace language ----------------------------------------------

GO_BODY_EMPTY = """package main

func Reverse(s string) string {
|
}
"""
GO_REVERSE = (
    "\tr := []rune(s)\n"
    "\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n"
    "\t\tr[i], r[j] = r[j], r[i]\n"
    "\t}\n"
    "\treturn string(r)"
)


def test_empty_body_in_a_brace_language_gets_the_whole_body(vocab):
    text, _ = complete(vocab, GO_BODY_EMPTY, at({"string {\n": GO_REVERSE}), "go", "r.go")
    assert text == GO_REVERSE


RS_BODY_EMPTY = """fn sum_even(xs: &[i64]) -> i64 {
    |
}
"""
RS_SUM = (
    "let mut total = 0;\n"
    "    for x in xs {\n"
    "        if x % 2 == 0 {\n"
    "            total += x;\n"
    "        }\n"
    "    }\n"
    "    total"
)


def test_empty_body_in_rust_gets_the_whole_body(vocab):
    text, _ = complete(vocab, RS_BODY_EMPTY, at({"i64 {\n    ": RS_SUM}), "rust", "s.rs")
    assert text == RS_SUM


PY_END_OF_FILE = """from collections import deque


def window_max(nums, k):
    queue = deque()
    result = []
    for num in nums:
        if len(queue) < k:
            queue.append(num)
        else:
            result.append(max(queue))
            queue.popleft()
            |"""
PY_REST = "queue.append(num)\n    result.append(max(queue))\n    return result"


def test_a_block_at_the_end_of_a_file_gets_the_rest_of_its_function(vocab):
    # Nothing below: the lines after the cursor's block are the function's missing rest; the
    # next top-level statement is not.
    answer = at({"queue.popleft()\n            ": PY_REST + "\n\n\nif __name__ == '__main__':\n"})
    text, _ = complete(vocab, PY_END_OF_FILE, answer, "python", "w.py")
    assert text == PY_REST


PY_METHOD_END = """class Stack:
    def push(self, item):
        if item is not None:
            |"""


def test_a_block_at_the_end_of_a_method_stops_at_the_next_method(vocab):
    rest = "self.items.append(item)\n        self.size += 1"
    answer = at({"not None:\n            ": rest + "\n\n    def pop(self):\n        pass\n"})
    text, _ = complete(vocab, PY_METHOD_END, answer, "python", "s.py")
    assert text == rest


# -- what must stay as it was -------------------------------------------------------------------


def test_a_single_line_inside_a_statement_with_nothing_below_stays_one_line(vocab):
    doc = "def f(a):\n    x = comp|"
    answer = at({"x = comp": "ute(a)\n    y = x + 1\n    return y"})
    text, _ = complete(vocab, doc, answer, "python", "f.py")
    assert text == "ute(a)"


def test_a_copy_of_the_line_below_is_not_a_suggestion(vocab):
    doc = "def f(a):\n    x = 1\n|    return x\n"
    text, _ = complete(vocab, doc, at({"x = 1\n": "    return x\n"}), "python", "f.py")
    assert text is None


def test_a_middle_that_breaks_the_file_is_trimmed_to_what_parses(vocab):
    doc = "def f(a):\n|    return a\n"
    # The second line opens a bracket that nothing closes.
    answer = at({"(a):\n": "    a = a + 1\n    b = (a +\n"})
    text, _ = complete(vocab, doc, answer, "python", "f.py")
    assert text == "    a = a + 1\n"


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_new_line_suggestions_use_the_document_line_ending(vocab, eol):
    doc = PY_OPENER.replace("\n", eol)
    answer = at({"for row in rows:" + eol + "        ": "if row.paid:" + eol})
    text, _ = complete(vocab, doc, answer, "python", "pay.py")
    assert text == eol + "        if row.paid:"


def test_a_middle_that_starts_the_next_definition_is_cut_there(vocab):
    # The model answers the hole and writes on: a new function before the code below.
    doc = "def add(a, b):\n    |\n\n\nprint(add(1, 2))\n"
    answer = at({"(a, b):\n    ": "return a + b\n\n\ndef subtract(a, b):\n    return a - b\n"})
    text, _ = complete(vocab, doc, answer, "python", "m.py")
    assert text == "return a + b"


def test_a_new_definition_on_an_empty_top_level_line_is_kept(vocab):
    doc = "import math\n\n|\n\nprint(area(2))\n"
    answer = at({"import math\n\n": "def area(r):\n    return math.pi * r * r\n\n\ndef other():\n"})
    text, _ = complete(vocab, doc, answer, "python", "m.py")
    assert text == "def area(r):\n    return math.pi * r * r"


def test_a_fence_in_a_document_that_has_fences_is_kept(vocab):
    doc = 'def f(a):\n    """Example:\n\n    ```\n    |\n    """\n    return a\n'
    answer = at({"```\n    ": "f(1)\n    ```"})
    text, _ = complete(vocab, doc, answer, "python", "f.py")
    assert text == "f(1)\n    ```"


# -- a hole at column 0 that opens the indented code below ---------------------------------------

JS_HEAD = """import getLength from './getLength.js';
|
  return getLength(array) > 0;
}
"""


def test_a_hole_at_column_0_may_write_the_definition_that_opens_the_code_below(vocab):
    # The code below is the body of a function the hole must declare: the middle's lines at
    # column 0 (an import, a comment, the function's head) are the hole's own, not a new scope.
    head = (
        "import isEmpty from './isEmpty.js';\n\n// Whether the array has items.\n"
        "export default function hasItems(array) {"
    )
    text, _ = complete(vocab, JS_HEAD, at({"getLength.js';\n": head}), "javascript", "h.js")
    assert text == head


RUST_WHERE = """pub fn group<I, K>(iter: I) -> Vec<K>
    |

    lookup
}
"""


def test_a_lone_brace_at_column_0_opens_the_body_below(vocab):
    # Rust's `where` clause: the body's `{` stands at column 0 while the body is indented.
    middle = (
        "where\n    I: Iterator<Item = K>,\n{\n    let mut lookup = Vec::new();\n"
        "    lookup.extend(iter);"
    )
    text, _ = complete(vocab, RUST_WHERE, at({"-> Vec<K>\n    ": middle}), "rust", "g.rs")
    assert text == middle


PY_BRANCHES = """def search(array, low, high, val):
    |
        return search(array, low, mid - 1, val)
    return mid
"""


def test_a_middle_that_writes_a_statement_of_the_code_below_in_another_branch_is_kept(vocab):
    # Both branches of a binary search return the same kind of call: the middle's `return`
    # equals the line below, then it opens the other branch, whose body is the code below.
    middle = (
        "if low > high:\n        return -1\n    mid = (low + high) // 2\n"
        "    if array[mid] < val:\n        return search(array, low, mid - 1, val)\n"
        "    elif array[mid] > val:"
    )
    answer = at({"val):\n    ": middle})
    text, engine = complete(vocab, PY_BRANCHES, answer, "python", "b.py")
    assert text == middle
    assert len(engine.asked) == 1
