"""Gitignore patterns, compiled to matchers whose cost is linear in pattern × path.

The rules are git's (gitignore(5)): blank lines and `#` comments are skipped, trailing unescaped
spaces dropped, `!` negates, a trailing `/` matches directories only, a `/` at the start or in
the middle anchors the pattern to its .gitignore's directory (otherwise it matches at any
depth), `*` and `?` never match `/`, `[...]` is a character class (`!` or `^` negates,
`[:alpha:]`-style names inside), `**` as a whole segment matches any number of directories, a
trailing `/**` everything inside, and a backslash escapes the next character.

Why not regular expressions: translating `*` to `[^/]*` hands a backtracking engine a pattern
like `a*a*a*a*a*b`, which takes seconds per file name that does not match. Here a segment is cut
at its stars into fixed-length pieces that are found leftmost, in order; and the segments of a
path are matched against its components the same way around `**`. Neither level ever backtracks
past the last star, so no pattern can cost more than O(pattern × path).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# A line longer than this is not a pattern anyone wrote by hand: ignore it.
MAX_PATTERN_CHARS = 4096

_POSIX_CLASSES: dict[str, tuple[tuple[int, int], ...]] = {
    "alnum": ((48, 57), (65, 90), (97, 122)),
    "alpha": ((65, 90), (97, 122)),
    "blank": ((9, 9), (32, 32)),
    "cntrl": ((0, 31), (127, 127)),
    "digit": ((48, 57),),
    "graph": ((33, 126),),
    "lower": ((97, 122),),
    "print": ((32, 126),),
    "punct": ((33, 47), (58, 64), (91, 96), (123, 126)),
    "space": ((9, 13), (32, 32)),
    "upper": ((65, 90),),
    "xdigit": ((48, 57), (65, 70), (97, 102)),
}


class _Mark:
    """A star or a separator in a tokenized pattern (never equal to any character)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_STAR = _Mark("*")
_SEP = _Mark("/")
_ESCAPED_SEP = _Mark("\\/")
# A token: one plain character (len 1), one-character regex source (len > 1), or a mark.
_Atom = str | _Mark


@dataclass(frozen=True, slots=True)
class _Piece:
    """A fixed-length run of atoms between stars: plain text, or a quantifier-free regex."""

    length: int
    literal: str | None
    regex: re.Pattern[str] | None

    def match_at(self, name: str, pos: int) -> bool:
        if self.literal is not None:
            return name.startswith(self.literal, pos)
        assert self.regex is not None
        return self.regex.match(name, pos) is not None

    def find(self, name: str, pos: int, end: int) -> int:
        """Leftmost start >= pos of an occurrence that ends at or before `end`, or -1."""
        if self.literal is not None:
            return name.find(self.literal, pos, end)
        assert self.regex is not None
        found = self.regex.search(name, pos, end)
        return -1 if found is None else found.start()


def _piece(atoms: list[str]) -> _Piece:
    if all(len(a) == 1 for a in atoms):
        return _Piece(len(atoms), "".join(atoms), None)
    source = "".join(a if len(a) > 1 else re.escape(a) for a in atoms)
    return _Piece(len(atoms), None, re.compile(source, re.DOTALL))


class _Segment:
    """One path component's glob: pieces separated by stars (no `/` inside)."""

    __slots__ = ("first", "last", "middle", "min_length", "starred")

    def __init__(self, atoms: list[_Atom]) -> None:
        runs: list[list[str]] = [[]]
        for atom in atoms:
            if isinstance(atom, _Mark):  # a star: segments hold no separators
                if runs[-1] or len(runs) == 1:
                    runs.append([])
            else:
                runs[-1].append(atom)
        pieces = [_piece(run) for run in runs]
        self.starred = len(pieces) > 1
        self.first = pieces[0]
        self.last = pieces[-1]
        self.middle = [p for p in pieces[1:-1] if p.length]
        self.min_length = sum(p.length for p in pieces)

    def match(self, name: str) -> bool:
        if not self.starred:
            return len(name) == self.first.length and self.first.match_at(name, 0)
        if len(name) < self.min_length or not self.first.match_at(name, 0):
            return False
        end = len(name) - self.last.length
        if not self.last.match_at(name, end):
            return False
        pos = self.first.length
        for piece in self.middle:
            found = piece.find(name, pos, end)
            if found < 0:
                return False
            pos = found + piece.length
        return True


class _GlobStar:
    """`**` as a whole segment: any number of path components (zero included)."""

    __slots__ = ()


GLOBSTAR = _GlobStar()
_Item = _Segment | _GlobStar


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled gitignore line."""

    source: str
    negated: bool
    dir_only: bool
    items: tuple[_Item, ...]

    def matches(self, components: Sequence[str], is_dir: bool) -> bool:
        """Whether the path `components` (relative to the .gitignore's directory) matches."""
        if self.dir_only and not is_dir:
            return False
        items = self.items
        if len(items) == 2 and items[0] is GLOBSTAR:
            last = items[1]
            assert isinstance(last, _Segment)
            return last.match(components[-1])
        return _match_items(items, components)


def _match_items(items: Sequence[_Item], components: Sequence[str]) -> bool:
    """Glob matching over components, `**` as the only star: one backtrack point at a time."""
    i = c = 0
    star_i = -1
    star_c = 0
    while c < len(components):
        item = items[i] if i < len(items) else None
        if item is GLOBSTAR:
            star_i, star_c = i, c
            i += 1
        elif isinstance(item, _Segment) and item.match(components[c]):
            i += 1
            c += 1
        elif star_i >= 0:
            star_c += 1
            i, c = star_i + 1, star_c
        else:
            return False
    while i < len(items) and items[i] is GLOBSTAR:
        i += 1
    return i == len(items)


class _Broken(ValueError):
    """A pattern git's wildmatch aborts on (it can never match anything)."""


def _class_atom(text: str, start: int) -> tuple[str, int]:
    """The regex for the bracket expression opening at `text[start]`, and the index after it.

    Follows git's wildmatch: the first character is always a member (so `[]a]` holds `]`),
    a range's first character matches even when the range is reversed, `[:name:]` needs a
    known name, and a bracket without its `]` breaks the whole pattern.
    """
    i = start + 1
    if i < len(text) and text[i] in "!^":
        negated = True
        i += 1
    else:
        negated = False
    ranges: list[tuple[int, int]] = []
    prev: str | None = None
    first = True
    while True:
        if i >= len(text):
            raise _Broken(text)
        ch = text[i]
        if ch == "]" and not first:
            break
        first = False
        if ch == "\\":
            i += 1
            if i >= len(text):
                raise _Broken(text)
            ch = text[i]
            ranges.append((ord(ch), ord(ch)))
            prev = ch
        elif ch == "-" and prev is not None and i + 1 < len(text) and text[i + 1] != "]":
            i += 1
            hi = text[i]
            if hi == "\\":
                i += 1
                if i >= len(text):
                    raise _Broken(text)
                hi = text[i]
            if ord(hi) >= ord(prev):
                ranges.append((ord(prev), ord(hi)))
            prev = None
        elif ch == "[" and text.startswith(":", i + 1):
            close = text.find("]", i + 2)
            if close < 0:
                raise _Broken(text)
            if close - (i + 2) < 1 or text[close - 1] != ":":
                ranges.append((ord("["), ord("[")))  # not a class name: a plain `[`
                prev = "["
            else:
                name = text[i + 2 : close - 1]
                if name not in _POSIX_CLASSES:
                    raise _Broken(text)
                ranges.extend(_POSIX_CLASSES[name])
                prev = None
                i = close
        else:
            ranges.append((ord(ch), ord(ch)))
            prev = ch
        i += 1
    if not ranges:
        return ("(?s:.)" if negated else "(?!)"), i + 1
    body = "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)
    return f"[{'^' if negated else ''}{body}]", i + 1


def _atoms(text: str) -> list[_Atom]:
    out: list[_Atom] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                raise _Broken(text)  # a trailing backslash escapes nothing: git never matches
            out.append(_ESCAPED_SEP if text[i + 1] == "/" else text[i + 1])
            i += 2
            continue
        if ch == "*":
            out.append(_STAR)
        elif ch == "?":
            out.append("(?s:.)")
        elif ch == "/":
            out.append(_SEP)
        elif ch == "[":
            cls, i = _class_atom(text, i)
            out.append(cls)
            continue
        else:
            out.append(ch)
        i += 1
    return out


def _trim_trailing_spaces(line: str) -> str:
    keep = 0
    i = 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            i += 2
            keep = i
            continue
        if line[i] != " ":
            keep = i + 1
        i += 1
    return line[:keep]


def compile_pattern(line: str) -> Pattern | None:
    """The pattern of one .gitignore line, or None for blanks, comments and nonsense."""
    text = _trim_trailing_spaces(line.rstrip("\r"))
    if not text or text.startswith("#") or len(text) > MAX_PATTERN_CHARS:
        return None
    negated = text.startswith("!")
    if negated:
        text = text[1:]
    # git strips one trailing `/` (directories only) and one leading `/` (anchored) from the
    # text itself; any other `/` anchors too, even one inside brackets or escaped.
    dir_only = text.endswith("/")
    if dir_only:
        text = text[:-1]
    anchored = "/" in text
    if text.startswith("/"):
        text = text[1:]
    try:
        atoms = _atoms(text)
    except _Broken:
        return None
    segments: list[list[_Atom]] = [[]]
    escaped_ends: list[bool] = []
    for atom in atoms:
        if atom is _SEP or atom is _ESCAPED_SEP:
            escaped_ends.append(atom is _ESCAPED_SEP)
            segments.append([])
        else:
            segments[-1].append(atom)
    escaped_ends.append(False)
    if any(not seg for seg in segments):
        return None  # it would have to match an empty path component: none has one
    items: list[_Item] = []
    for seg, escaped_end in zip(segments, escaped_ends, strict=True):
        if len(seg) >= 2 and all(a is _STAR for a in seg):
            if not items or items[-1] is not GLOBSTAR:
                items.append(GLOBSTAR)
            if escaped_end:  # wildmatch: `**\/` needs at least one directory, `**/` none
                items.append(_Segment([_STAR]))
        else:
            items.append(_Segment(seg))
    if items[-1] is GLOBSTAR:  # `dir/**`: everything inside, not `dir` itself
        items.append(_Segment([_STAR]))
    if not anchored and items[0] is not GLOBSTAR:
        items.insert(0, GLOBSTAR)
    return Pattern(line, negated, dir_only, tuple(items))


def compile_lines(lines: Sequence[str], max_patterns: int = 10_000) -> tuple[Pattern, ...]:
    """The patterns of a .gitignore file's lines, in order (at most `max_patterns`)."""
    out: list[Pattern] = []
    for line in lines:
        pattern = compile_pattern(line)
        if pattern is not None:
            out.append(pattern)
            if len(out) >= max_patterns:
                break
    return tuple(out)
