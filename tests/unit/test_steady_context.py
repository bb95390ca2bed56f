"""The context chosen for a document is reused while the user types below its window start."""

from __future__ import annotations

from completion.steady_context import SteadyContexts


def count(text: str) -> int:
    return len(text.split())


def remembered(text: str, offset: int) -> SteadyContexts:
    steady = SteadyContexts()
    window_start = text.index("line 3")
    prefix = "HEAD\n" + text[window_start:offset]
    steady.remember("a", text, offset, prefix, window_start, [("x.py", "X")], 10)
    return steady


TEXT = "line 1\nline 2\nline 3\nline 4 |\nline 5\n"


def test_typing_in_the_window_keeps_head_and_files():
    offset = TEXT.index("|")
    steady = remembered(TEXT, offset)
    typed = TEXT[:offset] + "abc" + TEXT[offset:]
    got = steady.reuse("a", typed, offset + 3, count)
    assert got == ("HEAD\nline 3\nline 4 abc", (("x.py", "X"),))


def test_an_edit_above_the_window_chooses_again():
    offset = TEXT.index("|")
    steady = remembered(TEXT, offset)
    above = "LINE 1" + TEXT[6:]
    assert steady.reuse("a", above, offset, count) is None
    assert steady.reuse("b", TEXT, offset, count) is None
    assert steady.reuse("a", TEXT, TEXT.index("line 2"), count) is None  # above it
    assert steady.reuse("a", TEXT, offset, count, given=[("y", "Y")]) is None


def test_a_window_grown_past_its_margin_chooses_again():
    offset = TEXT.index("|")
    steady = remembered(TEXT, offset)  # chosen at 10 tokens: reused up to 12
    grown = TEXT[:offset] + "w " * 8 + TEXT[offset:]
    assert steady.reuse("a", grown, offset + 4, count) is not None
    assert steady.reuse("a", grown, offset + 16, count) is None
