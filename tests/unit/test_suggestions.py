"""Typed-ahead reuse of recent suggestions."""

from __future__ import annotations

from airgap_lsp.completion.suggestions import BEFORE_CHARS, SuggestionCache

PREFIX = "def area(r):\n    return "


def test_typing_into_a_suggestion_serves_the_rest():
    cache = SuggestionCache()
    cache.put("a.py", PREFIX, "", "3.14159 * r * r", "model")
    assert cache.get("a.py", PREFIX, "").text == "3.14159 * r * r"  # same position again
    hit = cache.get("a.py", PREFIX + "3.14", "")
    assert hit is not None and hit.text == "159 * r * r" and hit.typed == 4
    assert cache.get("a.py", PREFIX + "3.15", "") is None  # typed something else
    assert cache.get("a.py", PREFIX + "3.14159 * r * r", "") is None  # nothing left
    assert cache.get("b.py", PREFIX + "3.14", "") is None  # another document
    assert cache.get("a.py", PREFIX + "3.14", ")") is None  # the rest of the line changed


def test_long_documents_match_on_the_text_before_the_cursor():
    head = "x = 1\n" * 500
    cache = SuggestionCache()
    cache.put("a.py", head + PREFIX, "", "42", "prefetch")
    hit = cache.get("a.py", head + PREFIX + "4", "")
    assert hit is not None and hit.text == "2" and hit.source == "prefetch"
    # Same last BEFORE_CHARS characters but an earlier edit far above still matches: the
    # suggestion depends on the text near the cursor.
    assert cache.get("a.py", "y = 2\n" + head + PREFIX + "4", "") is not None
    assert len(PREFIX) < BEFORE_CHARS


def test_short_prefix_must_match_from_the_start():
    cache = SuggestionCache()
    cache.put("a.py", "ret", "", "urn x", "model")
    assert cache.get("a.py", "xret", "") is None
    assert cache.get("a.py", "retu", "").text == "rn x"


def test_newest_suggestion_wins_and_forget():
    cache = SuggestionCache()
    cache.put("a.py", PREFIX, "", "0", "model")
    cache.put("a.py", PREFIX, "", "1", "model")
    assert cache.get("a.py", PREFIX, "").text == "1"
    cache.forget("a.py")
    assert cache.get("a.py", PREFIX, "") is None
