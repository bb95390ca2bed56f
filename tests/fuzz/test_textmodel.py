"""The fuzzer's reference text model against a second, independent one (UTF-16 code units).

The oracle decides what a failure is, so it is checked itself: positions computed on a list of
UTF-16 code units (lines split on the three LSP terminators) agree with `textmodel` on
random texts full of odd characters, and edits applied both ways give the same text.
"""

from __future__ import annotations

import random

from tests.fuzz import inputs
from tests.fuzz.textmodel import (
    Pos,
    clamped_offset,
    line_spans,
    offset_of,
    position_of,
    round_trips,
    same_text,
    units,
)


def _code_units(text: str) -> list[int]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


def _unit_lines(cu: list[int]) -> list[list[int]]:
    lines: list[list[int]] = []
    line: list[int] = []
    i = 0
    while i < len(cu):
        c = cu[i]
        if c == 0x0D:
            lines.append(line)
            line = []
            i += 2 if i + 1 < len(cu) and cu[i + 1] == 0x0A else 1
            continue
        if c == 0x0A:
            lines.append(line)
            line = []
        else:
            line.append(c)
        i += 1
    lines.append(line)
    return lines


def test_line_ends_are_only_the_three_lsp_terminators():
    text = "a\fb\vc\x1cd\x1de\x1ef\x85g\u2028h\u2029i\rj\r\nk\nl"
    assert [text[s:e] for s, e in line_spans(text)] == [
        "a\fb\vc\x1cd\x1de\x1ef\x85g\u2028h\u2029i",
        "j",
        "k",
        "l",
    ]
    assert position_of(text, text.index("k"), "utf-16") == Pos(2, 0)


def test_utf16_columns_count_surrogate_pairs_and_lone_surrogates():
    text = "😀x\ud800y"
    assert units(text, "utf-16") == 5
    assert units(text, "utf-8") == 4 + 1 + 3 + 1
    assert units(text, "utf-32") == 4
    assert offset_of(text, Pos(0, 2), "utf-16") == 1
    assert offset_of(text, Pos(0, 1), "utf-16") is None  # inside the pair
    assert not round_trips(text, Pos(0, 1), "utf-16")
    assert round_trips(text, Pos(0, 4), "utf-16")
    assert clamped_offset(text, Pos(0, 99), "utf-16") == len(text)
    assert clamped_offset(text, Pos(7, 0), "utf-16") == len(text)
    assert same_text("\ud83d\ude00", "😀")


def test_positions_agree_with_a_code_unit_model():
    rng = random.Random(5)
    for _ in range(300):
        text = inputs.document(rng) + inputs.snippet(rng, True, 20)
        lines = _unit_lines(_code_units(text))
        spans = line_spans(text)
        assert len(lines) == len(spans)
        for (start, end), line in zip(spans, lines, strict=True):
            assert _code_units(text[start:end]) == line
        offset = rng.randint(0, len(text))
        if 0 < offset < len(text) and text[offset - 1 : offset + 1] == "\r\n":
            offset -= 1
        pos = position_of(text, offset, "utf-16")
        before = _unit_lines(_code_units(text[:offset]))
        assert pos == Pos(len(before) - 1, len(before[-1]))
        assert offset_of(text, pos, "utf-16") == offset
        for enc in ("utf-8", "utf-32"):
            assert offset_of(text, position_of(text, offset, enc), enc) == offset
