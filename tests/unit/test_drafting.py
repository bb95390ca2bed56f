"""n-gram drafting and the draft-vocabulary check."""

from __future__ import annotations

from airgap_lsp.completion.drafting import NgramLookup, check_draft_vocab


def test_ngram_proposes_what_followed_the_latest_tokens():
    d = NgramLookup(max_n=3, min_n=2)
    live = [1, 2, 3, 4, 5, 9, 1, 2]
    d.reset([[7, 1, 2, 3, 8]], live=live)
    # "1 2" last occurred in the live history at index 0, followed by 3 4 5.
    assert d.propose(live, 3) == [3, 4, 5]
    live += [3]
    d.extended()
    assert d.propose(live, 2) == [4, 5]


def test_ngram_uses_other_sources_and_grows_with_output():
    d = NgramLookup(max_n=2, min_n=2)
    live = [50, 51]
    d.reset([[10, 50, 51, 52, 53]], live=live)
    assert d.propose(live, 5) == [52, 53]
    assert d.propose([99, 98], 3) == []
    live += [60, 61, 50, 51]
    d.extended()
    assert d.propose(live, 2) == [60, 61]  # the most recent occurrence wins


def test_ngram_copy_resumes_after_a_substitution():
    # The file has `f(EUR, 1, 2, 3)`; the next case writes `f(GBP, ...` then `USD` (two tokens
    # where the source had one) and must pick the copy up again each time.
    F, OPEN, EUR, GBP, US, D, COMMA, CLOSE = 10, 11, 12, 13, 14, 15, 16, 17
    source = [F, OPEN, EUR, COMMA, 1, COMMA, 2, COMMA, 3, CLOSE, 99]
    d = NgramLookup(max_n=4, min_n=2)
    live = [5, F, OPEN]
    d.reset([source], live=live)
    assert d.propose(live, 3) == [EUR, COMMA, 1]
    live += [GBP]  # the target rejected EUR at once and wrote GBP
    d.extended()
    assert d.propose(live, 3) == [COMMA, 1, COMMA]
    assert d.realigned
    live += [COMMA, 1, COMMA, US]  # three accepted, then a new value
    d.extended()
    assert d.propose(live, 2) == [COMMA, 3]  # 2 -> US: the substitution guess
    live += [D]  # ...which was wrong: US D replaced one token
    d.extended()
    assert d.propose(live, 2) == []  # nothing near follows `US D`
    live += [COMMA]
    d.extended()
    assert d.propose(live, 3) == [3, CLOSE, 99]  # `D ,` -> the nearest `,` resumes the copy
    assert d.realigned
    d.reset([source], live=[7, 8])
    assert d.propose([7, 8], 3) == []
    assert d.propose([7, 8, COMMA], 3) == []  # no copy under way: a lone token never resumes


def test_vocab_check():
    a = (2, 151936, ("!", "a", "<|fim_middle|>"))
    assert check_draft_vocab(a, a).compatible
    assert not check_draft_vocab(a, (1, 151936, a[2])).compatible
    assert "sizes differ" in check_draft_vocab(a, (2, 32000, a[2])).reason
    assert "spellings differ" in check_draft_vocab(a, (2, 151900, ("!", "b", "c"))).reason
