"""The context chosen for a document is reused while the user types below its window start, and
the typed text stays in the FIM middle after an anchor while only that stretch changes."""

from __future__ import annotations

from airgap_lsp.completion.steady_context import MIDDLE_TOKENS, Kept, SteadyContexts


def count(text: str) -> int:
    return len(text.split())


def remembered(text: str, offset: int, prefix_tokens: int = 10) -> SteadyContexts:
    steady = SteadyContexts()
    window_start = text.index("line 3")
    prefix = "HEAD\n" + text[window_start:offset]
    steady.remember("a", text, offset, prefix, window_start, [("x.py", "X")], prefix_tokens)
    return steady


TEXT = "line 1\nline 2\nline 3\nline 4 |\nline 5\n"


def test_typing_in_the_window_keeps_head_and_files():
    offset = TEXT.index("|")
    steady = remembered(TEXT, offset)
    typed = TEXT[:offset] + "abc" + TEXT[offset:]
    got = steady.reuse("a", typed, offset + 3, count)
    # No anchor yet: the cursor is the anchor.
    assert got == Kept("HEAD\nline 3\nline 4 abc", "", None, (("x.py", "X"),))


def anchored(text: str, offset: int, prefix_tokens: int = 10) -> SteadyContexts:
    steady = remembered(text, offset, prefix_tokens)
    steady.anchor("a", text, offset, offset, text[offset:])
    return steady


def test_typing_accepting_and_erasing_after_the_anchor_keep_prefix_and_suffix():
    offset = TEXT.index("|")
    steady = anchored(TEXT, offset)
    files = (("x.py", "X"),)
    for typed in ("abc", "abc\n    def", ""):
        text = TEXT[:offset] + typed + TEXT[offset:]
        got = steady.reuse("a", text, offset + len(typed), count)
        assert got == Kept("HEAD\nline 3\nline 4 ", typed, TEXT[offset:], files)
    erased = TEXT[:offset] + "ab" + TEXT[offset:]  # "abc" typed, then backspace
    got = steady.reuse("a", erased, offset + 2, count)
    assert got == Kept("HEAD\nline 3\nline 4 ", "ab", TEXT[offset:], files)
    # Erased past the anchor: the cursor becomes the anchor.
    before = TEXT[: offset - 1] + TEXT[offset:]
    got = steady.reuse("a", before, offset - 1, count)
    assert got == Kept("HEAD\nline 3\nline 4", "", None, files)


def test_the_anchor_moves_when_text_outside_the_middle_changes():
    offset = TEXT.index("|")
    steady = anchored(TEXT, offset)
    # An edit after the cursor, a cursor on another line, a cursor before the anchor.
    after = TEXT[:offset] + TEXT[offset:].replace("line 5", "line five")
    assert steady.reuse("a", after, offset, count) == Kept(
        "HEAD\nline 3\nline 4 ", "", None, (("x.py", "X"),)
    )
    below = TEXT.index("line 5") + 4
    got = steady.reuse("a", TEXT, below, count)
    assert got is not None and got.suffix is None and got.prefix.endswith("line 5"[:4])
    got = steady.reuse("a", TEXT, TEXT.index("line 3") + 2, count)
    assert got is not None and got.suffix is None and got.prefix == "HEAD\nli"


def test_a_long_middle_moves_into_the_prefix():
    offset = TEXT.index("|")
    steady = anchored(TEXT, offset, prefix_tokens=10 * MIDDLE_TOKENS)
    typed = "w " * MIDDLE_TOKENS + "\nx y"
    text = TEXT[:offset] + typed + TEXT[offset:]
    got = steady.reuse("a", text, offset + len(typed), count)
    assert got is not None and got.suffix is None and got.middle == ""
    assert got.prefix.endswith(typed)


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


def test_a_closed_document_is_forgotten():
    offset = TEXT.index("|")
    steady = anchored(TEXT, offset)
    steady.forget("a")
    assert steady.reuse("a", TEXT, offset, count) is None
