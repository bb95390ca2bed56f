"""How one infilling output is graded against the real middle.

- `exact`: equal after stripping trailing whitespace from every line and from the end.
- `starts`: the (stripped) output begins with the (stripped) middle: the right code was
  written, perhaps with more after it (a model that does not stop where the hole ends).
- `edit_similarity`: 1 − Levenshtein(a, b) / max(len(a), len(b)) on those stripped strings
  (CrossCodeEval's definition; 1.0 when both are empty).
- `parses`: prefix + output + suffix has no more tree-sitter ERROR/MISSING nodes than the
  original window (prefix + expected + suffix) — the output fits the code around it. An empty
  output never counts as parsing: leaving the hole empty is not an answer.
- `empty`: no suggestion, or only whitespace.
"""

from __future__ import annotations

from dataclasses import dataclass

from airgap_lsp.context.languages import language_for
from airgap_lsp.context.nodes import error_count
from airgap_lsp.context.syntax import parse


def normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute: cost 1) by Hyyrö's bit-parallel algorithm
    over Python integers: O(len(b)) big-integer steps."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    m = len(b)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def edit_similarity(output: str, expected: str) -> float:
    a, b = normalize(output), normalize(expected)
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


def exact(output: str, expected: str) -> bool:
    return normalize(output) == normalize(expected)


def starts(output: str, expected: str) -> bool:
    return normalize(output).startswith(normalize(expected))


def is_empty(output: str | None) -> bool:
    return output is None or not output.strip()


def syntax_errors(text: str, language: str, path: str = "") -> int | None:
    """ERROR + MISSING nodes of `text` (None for a language without a grammar)."""
    lang = language_for(language, path)
    tree = parse(text, lang)
    return None if tree is None else error_count(tree.root_node)


def parses(
    prefix: str, output: str | None, suffix: str, expected: str, language: str, path: str = ""
) -> bool:
    if is_empty(output):
        return False
    with_output = syntax_errors(prefix + (output or "") + suffix, language, path)
    original = syntax_errors(prefix + expected + suffix, language, path)
    if with_output is None or original is None:
        return False
    return with_output <= original


@dataclass(frozen=True)
class Grade:
    exact: bool
    starts: bool
    edit_similarity: float
    parses: bool
    empty: bool


def grade(
    output: str | None, prefix: str, expected: str, suffix: str, language: str, path: str = ""
) -> Grade:
    text = output or ""
    return Grade(
        exact=not is_empty(output) and exact(text, expected),
        starts=not is_empty(output) and starts(text, expected),
        edit_similarity=edit_similarity(text, expected),
        parses=parses(prefix, output, suffix, expected, language, path),
        empty=is_empty(output),
    )
