"""LSP positions (lsp.positions) and the server's documents (lsp.documents) against a reference
written from the specification alone: random texts holding every line terminator LSP knows and
every one it does not (\\f, \\v, \\x1c-\\x1e, \\x85, U+2028, U+2029), astral characters and lone
surrogates, in UTF-16, UTF-8 and UTF-32 columns.
"""

from __future__ import annotations

import random

import pytest
from lsprotocol import types
from pygls.workspace import PositionCodec

from airgap_lsp.context import TextEdit
from airgap_lsp.lsp.documents import Document, uri_key
from airgap_lsp.lsp.positions import LineIndex, encoding_name, split_lines

ENCODINGS = ["utf-16", "utf-8", "utf-32"]
PIECES = [
    "a", "b", " ", "\t", "é", "日", "😀", "𝄞", "\ud800", "\udfff",
    "\n", "\r\n", "\r", "\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029",
]  # fmt: skip


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(PIECES) for _ in range(n))


def _width(c: str, encoding: str) -> int:
    if encoding == "utf-32":
        return 1
    if encoding == "utf-16":
        return 2 if ord(c) > 0xFFFF else 1
    return len(c.encode("utf-8", "surrogatepass"))


def _ref_lines(text: str) -> list[tuple[int, int]]:
    """(content start, content end) per line, walking the text one character at a time."""
    out, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "\r" and text[i + 1 : i + 2] == "\n":
            out.append((start, i))
            i += 2
            start = i
        elif text[i] in "\r\n":
            out.append((start, i))
            i += 1
            start = i
        else:
            i += 1
    out.append((start, len(text)))
    return out


def _ref_offset(text: str, line: int, character: int, encoding: str) -> int:
    lines = _ref_lines(text)
    if line >= len(lines):
        return len(text)
    start, end = lines[line]
    count = 0
    for i in range(start, end):
        count += _width(text[i], encoding)
        if count > character:  # at or inside this character: its start
            return i
    return end


def _ref_position(text: str, offset: int, encoding: str) -> tuple[int, int]:
    for line, (start, end) in enumerate(_ref_lines(text)):
        if offset <= end:
            return line, sum(_width(c, encoding) for c in text[start:offset])
    raise AssertionError(offset)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_offsets_and_positions_match_the_reference(encoding: str):
    rng = random.Random(13)
    for _ in range(300):
        text = _text(rng, rng.randrange(0, 40))
        index = LineIndex(text, encoding)
        assert index.line_count == len(_ref_lines(text))
        assert "".join(split_lines(text)) == text
        assert len(split_lines(text)) == len(_ref_lines(text)) - (
            1 if not text or text.endswith(("\n", "\r")) else 0
        )
        for _ in range(20):
            line, character = rng.randrange(0, index.line_count + 2), rng.randrange(0, 12)
            want = _ref_offset(text, line, character, encoding)
            assert index.offset(line, character) == want, (text, line, character)
        for offset in range(len(text) + 1):
            if text[offset - 1 : offset + 1] == "\r\n":
                continue  # inside a line end: no position of its own
            position = index.position(offset)
            assert position == _ref_position(text, offset, encoding), (text, offset)
            assert index.offset(*position) == offset  # round trip


def test_only_lsp_line_ends_break_lines():
    text = "a\fb\vc\x1cd\x1de\x1ef\x85g\u2028h\u2029i\rj\r\nk\nl"
    assert split_lines(text) == ["a\fb\vc\x1cd\x1de\x1ef\x85g\u2028h\u2029i\r", "j\r\n", "k\n", "l"]
    index = LineIndex(text)
    assert index.offset(1, 0) == text.index("j")
    assert index.position(text.index("l")) == (3, 0)
    assert index.line_start(text.index("h")) == 0


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_documents_apply_incremental_changes_like_the_reference(encoding: str):
    rng = random.Random(7)
    for round_ in range(60):
        text = _text(rng, rng.randrange(0, 30))
        doc = Document(
            "file:///w/x.py", text, 1, "python", position_codec=PositionCodec(encoding=encoding)
        )
        for version in range(2, 12):
            a, b = sorted(rng.randrange(0, len(text) + 1) for _ in range(2))
            if text[a - 1 : a + 1] == "\r\n" or text[b - 1 : b + 1] == "\r\n":
                continue
            new = _text(rng, rng.randrange(0, 4))
            start, end = _ref_position(text, a, encoding), _ref_position(text, b, encoding)
            before = doc.source
            doc.apply_change(
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(*start), types.Position(*end)), text=new
                )
            )
            doc.version = version
            text = text[:a] + new + text[b:]
            assert doc.source == text, (round_, version)
            assert doc.index().starts == LineIndex(text, encoding).starts  # kept, not rebuilt
            edits = doc.take_edits()
            assert edits is not None and len(edits) == 1
            e = edits[0]
            assert before[: e.start] + e.new_text + before[e.end :] == text


def test_an_edit_after_a_form_feed_u2028_and_a_cr_line_lands_where_the_client_put_it():
    text = "x = 1\f# page\nNOTE = 'a\u2028b'\r# cr\rdef f():\n    return 1\n"
    doc = Document("file:///w/y.py", text, 1, "python")
    line = 3  # "def f():" for a client: \f and U+2028 end no line, \r does
    doc.apply_change(
        types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(line, 4), types.Position(line, 5)), text="g"
        )
    )
    assert doc.source == text.replace("def f", "def g")


def test_every_spelling_of_a_uri_has_one_key():
    spellings = [
        "file:///c%3A/Users/me/my%20project/caf%C3%A9.py",
        "file:///C%3a/Users/me/my%20project/caf%c3%a9.py",
        "file:///C:/Users/me/my project/café.py",
        "FILE:///c:/Users/me/my%20project/caf%C3%A9.py",
    ]
    assert len({uri_key(s) for s in spellings}) == 1
    assert uri_key("file:///w/a%2520b.py") != uri_key("file:///w/a%20b.py")


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (types.PositionEncodingKind.Utf16, "utf-16"),
        (types.PositionEncodingKind.Utf8, "utf-8"),
        (types.PositionEncodingKind.Utf32, "utf-32"),
        ("utf-8", "utf-8"),
        (None, "utf-16"),
        ("utf-7", "utf-16"),
    ],
)
def test_an_encoding_kind_is_read_by_its_value(kind: object, name: str):
    assert encoding_name(kind) == name


@pytest.mark.parametrize(
    ("codec", "end_column"),
    [
        (PositionCodec(), 5),  # pygls' default: the enum member, as for a client without
        (PositionCodec(types.PositionEncodingKind.Utf16), 5),  # positionEncodings
        (PositionCodec("utf-16"), 5),
        (PositionCodec(types.PositionEncodingKind.Utf8), 7),
        (PositionCodec("utf-32"), 4),
    ],
)
def test_an_emoji_takes_the_columns_of_the_negotiated_encoding(
    codec: PositionCodec, end_column: int
):
    doc = Document("file:///w/e.py", "ab😀cd", 1, "python", position_codec=codec)
    doc.apply_change(
        types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(0, 1), types.Position(0, end_column)), text=""
        )
    )
    assert doc.source == "ad"
    assert doc.take_edits() == [TextEdit(1, 4, "")]


def test_a_column_inside_a_character_is_that_characters_start():
    text = "s = '😀é'\n"
    utf16, utf8 = LineIndex(text, "utf-16"), LineIndex(text, "utf-8")
    emoji = text.index("😀")
    assert utf16.offset(0, 6) == emoji  # between the surrogates
    assert [utf8.offset(0, c) for c in (5, 6, 7, 8, 9)] == [emoji] * 4 + [emoji + 1]
    assert utf8.offset(0, 10) == emoji + 1  # inside the two bytes of é
    # Only a position of the text is exact: not inside a character, past a line's end or the
    # last line.
    assert utf16.exact_offset(0, 5) == emoji and utf16.exact_offset(0, 7) == emoji + 1
    assert utf16.exact_offset(0, 6) is None
    assert utf16.exact_offset(0, 10) is None and utf16.exact_offset(0, 9) == text.index("\n")
    assert utf16.exact_offset(1, 0) == len(text) and utf16.exact_offset(2, 0) is None
    assert utf16.exact_offset(-1, 0) is None
