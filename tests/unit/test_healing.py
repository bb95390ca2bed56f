"""Token healing's vocabulary index and spelling rule, on a toy vocabulary."""

from __future__ import annotations

from airgap_lsp.completion.healing import PieceIndex, back_off, still_to_spell

VOCAB = [
    b"",
    b" ",
    b"  ",
    b"   ",
    b"    ",
    b" return",
    b"return",
    b"re",
    b"x",
    b"\xff",
    b"\xff\xff",
]


def index() -> PieceIndex:
    return PieceIndex(len(VOCAB), VOCAB.__getitem__)


def spelled(ids) -> set[bytes]:
    return {VOCAB[int(t)] for t in ids}


def test_allowed_tokens_spell_the_rest_whole_or_start_it():
    idx = index()
    assert spelled(idx.allowed(b"    ")) == {b"    ", b" ", b"  ", b"   "}
    assert spelled(idx.allowed(b" ")) == {b" ", b"  ", b"   ", b"    ", b" return"}
    assert spelled(idx.allowed(b"ret")) == {b"return", b"re"}
    assert spelled(idx.allowed(b"\xff")) == {b"\xff", b"\xff\xff"}
    assert spelled(idx.allowed(b"q")) == set()
    assert b"" not in spelled(idx.allowed(b" "))  # control tokens spell nothing


def test_what_is_still_to_spell():
    assert still_to_spell(b"    ", b"") == b"    "
    assert still_to_spell(b"    ", b"   ") == b" "
    assert still_to_spell(b"    ", b"    return") == b""
    assert still_to_spell(b"ret", b"x") == b""  # a rejected draft left it: no constraint


def test_back_off_leaves_out_the_last_token():
    piece = VOCAB.__getitem__
    assert back_off([8, 3, 5], piece, "x    return") == ([8, 3], " return")
    assert back_off([], piece, "") == ([], "")
    assert back_off([8, 9], piece, "x\ufffd") == ([8, 9], "")  # half a character: kept
