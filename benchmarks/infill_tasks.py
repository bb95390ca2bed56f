"""Infilling tasks cut from real source files: four kinds of hole, a document window, a split.

Owns how a task is cut, deterministically from a seed:

- `line`: one whole line of code is removed. The cursor stands at the line's indentation (the
  indentation stays in the document, as after Enter with auto-indent); the expected middle is
  the rest of the line, without its newline (the newline stays in the suffix).
- `multiline`: 2–8 whole lines removed, same convention (cursor at the first line's
  indentation, the last line's newline stays). Every third task of a (language, kind) group
  ends with a block opener (`:` in Python, `{` elsewhere) whose body stays below.
- `span`: a random character span that starts inside a line's code (after its indentation,
  before its end) and runs over 1–4 line breaks, ending inside or at the end of a line.
- `eol`: the cursor at the end of a line ending with an opener (`:` in Python, or `{`, `(`,
  `[` anywhere, e.g. `= [`) whose next line is indented deeper; the middle is the following
  1–4 lines of that body and starts with a newline.

Holes that are blank or comment-only are skipped, and so are line and multi-line holes that
start inside a comment or a string (docstrings are prose) and spans that start and end in one.

The document is a window of the real file around the hole: at most
`BEFORE` (60) lines before the hole's first line and `AFTER` (25) after its last, cut at line
boundaries, narrowed where lines are wide so that the document stays under
`MAX_DOCUMENT_CHARS` (prompts stay affordable on a CPU: ~12 ms per prompt token on 2 cores).
A task keeps the file's real relative path and language.

Split: within each (language, kind) group, the quarter of tasks with the lowest SHA-256 of the
task id is `heldout` (an exact quarter of the whole set; remainders go to the groups whose next
task has the lowest hash). The split is a function of the task set, which is a function of the
sources, the seed and the group size.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import tree_sitter as ts

from airgap_lsp.context.languages import Language, language_for
from airgap_lsp.context.syntax import parse
from benchmarks.infill_sources import SourceFile

KINDS = ("line", "multiline", "span", "eol")
LANGUAGES = ("python", "javascript", "typescript", "go", "rust")
BEFORE, AFTER = 60, 25
WINDOWS = ((BEFORE, AFTER), (45, 20), (30, 15), (20, 10))  # lines before/after, widest first
MAX_MIDDLE = {"line": 160, "multiline": 420, "span": 320, "eol": 320}
MAX_DOCUMENT_CHARS = 6000  # ≈ 1,700 tokens: the naive prompt holds the whole window
PER_FILE = 2  # tasks of one kind from one file at most
ATTEMPTS = 200  # random tries for one task in one package before its turn passes

_STRING_TYPES = frozenset(
    {
        "string",
        "string_content",
        "string_fragment",
        "template_string",
        "interpreted_string_literal",
        "raw_string_literal",
        "string_literal",
        "raw_string",
        "char_literal",
        "rune_literal",
    }
)
_LINE_COMMENTS = {"python": ("#",), "default": ("//", "/*", "*", "*/")}


@dataclass(frozen=True)
class Task:
    task_id: str
    language: str  # LSP languageId
    kind: str
    package: str
    version: str
    ecosystem: str
    path: str  # the file's path relative to its package
    file_sha256: str
    text: str  # the document: the window with the hole removed
    offset: int  # cursor (code points into `text`)
    expected: str  # the removed middle
    window_start: int  # first line of the window in the file (0-based)
    hole_line: int  # line of the cursor in the file (0-based)
    ends_with_opener: bool = False  # multiline: the hole's last line opens a block
    split: str = "tuning"

    @property
    def prefix(self) -> str:
        return self.text[: self.offset]

    @property
    def suffix(self) -> str:
        return self.text[self.offset :]

    @property
    def original(self) -> str:
        """The window as it is in the real file."""
        return self.prefix + self.expected + self.suffix

    def to_dict(self, with_text: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not with_text:
            for key in ("text", "expected"):
                data.pop(key)
        return data


# -- one file -------------------------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def is_code_line(line: str, language: str) -> bool:
    """Not blank and not a comment-only line."""
    stripped = line.strip()
    markers = _LINE_COMMENTS.get(language, _LINE_COMMENTS["default"])
    return bool(stripped) and not stripped.startswith(markers)


def _openers(language: str, strict: bool) -> tuple[str, ...]:
    """Line endings that open a block (strict) or any bracketed continuation."""
    if language == "python":
        return (":",) if strict else (":", "(", "[", "{")
    return ("{",) if strict else ("{", "(", "[")


class _File:
    """A source file with its lines, byte offsets and syntax tree, for cutting holes."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.lines = source.text.split("\n")
        self.language: Language | None = language_for(source.language, source.path)
        self.tree: ts.Tree | None = parse(source.text, self.language)
        self.line_bytes = [0]
        for line in self.lines:
            self.line_bytes.append(self.line_bytes[-1] + len(line.encode("utf-8")) + 1)
        self.line_chars = [0]
        for line in self.lines:
            self.line_chars.append(self.line_chars[-1] + len(line) + 1)

    def byte_at(self, line: int, col: int) -> int:
        return self.line_bytes[line] + len(self.lines[line][:col].encode("utf-8"))

    def in_prose(self, line: int, col: int) -> bool:
        """Whether the character at (line, col) is inside a comment or a string."""
        if self.tree is None or self.language is None:
            return False
        b = self.byte_at(line, col)
        node: ts.Node | None = self.tree.root_node.descendant_for_byte_range(b, b + 1)
        while node is not None:
            if node.type in self.language.comment_types or node.type in _STRING_TYPES:
                return True
            node = node.parent
        return False

    def opens_body(self, i: int, strict: bool) -> bool:
        """Line i ends with an opener (not in a comment or string) and the next non-blank
        line is indented deeper."""
        line = self.lines[i].rstrip()
        if not line.endswith(_openers(self.source.language, strict)):
            return False
        if self.in_prose(i, len(line) - 1):
            return False
        nxt = next((j for j in range(i + 1, len(self.lines)) if self.lines[j].strip()), None)
        return nxt is not None and _indent(self.lines[nxt]) > _indent(self.lines[i])


def _code_in(lines: Sequence[str], language: str) -> bool:
    return any(is_code_line(line, language) for line in lines)


def _task(
    f: _File,
    kind: str,
    start: tuple[int, int],
    end: tuple[int, int],
    ends_with_opener: bool = False,
) -> Task | None:
    """The task whose middle runs from (line, col) `start` to `end` in the file."""
    (l0, c0), (l1, c1) = start, end
    middle = text = ""
    w0 = a = 0
    # Wide lines (long doc comments) make a window too long for an affordable prompt: it
    # narrows rather than leaving such files out.
    for before, after in WINDOWS:
        w0 = max(0, l0 - before)
        w1 = min(len(f.lines), l1 + 1 + after)
        base = f.line_chars[w0]
        window = "\n".join(f.lines[w0:w1]) + ("\n" if w1 < len(f.lines) else "")
        a = f.line_chars[l0] + c0 - base
        b = f.line_chars[l1] + c1 - base
        middle = window[a:b]
        text = window[:a] + window[b:]
        if len(text) <= MAX_DOCUMENT_CHARS:
            break
    else:
        return None
    if not middle.strip() or len(middle) > MAX_MIDDLE[kind]:
        return None
    s = f.source
    return Task(
        task_id=f"{s.language}:{s.package}/{s.path}:{kind}:L{l0 + 1}C{c0 + 1}",
        language=s.language,
        kind=kind,
        package=s.package,
        version=s.version,
        ecosystem=s.ecosystem,
        path=s.path,
        file_sha256=s.sha256,
        text=text,
        offset=a,
        expected=middle,
        window_start=w0,
        hole_line=l0,
        ends_with_opener=ends_with_opener,
    )


def cut_line(f: _File, rng: random.Random) -> Task | None:
    i = rng.randrange(len(f.lines))
    line = f.lines[i]
    if not is_code_line(line, f.source.language) or f.in_prose(i, _indent(line)):
        return None
    return _task(f, "line", (i, _indent(line)), (i, len(line)))


def cut_multiline(f: _File, rng: random.Random, want_opener: bool) -> Task | None:
    i = rng.randrange(len(f.lines))
    first = f.lines[i]
    lang = f.source.language
    if not is_code_line(first, lang) or f.in_prose(i, _indent(first)):
        return None
    last_choices = range(i + 1, min(i + 8, len(f.lines) - 1))
    if want_opener:
        candidates = [j for j in last_choices if f.opens_body(j, strict=True)]
        if not candidates:
            return None
        j = rng.choice(candidates)
    else:
        j = i + rng.randint(1, 7)
        if j >= len(f.lines) - 1:
            return None
    if not f.lines[j].strip() or not _code_in(f.lines[i : j + 1], lang):
        return None
    opener = f.opens_body(j, strict=True)
    return _task(f, "multiline", (i, _indent(first)), (j, len(f.lines[j])), opener)


def cut_span(f: _File, rng: random.Random) -> Task | None:
    i = rng.randrange(len(f.lines))
    first = f.lines[i].rstrip()
    lang = f.source.language
    if not is_code_line(first, lang) or len(first) - _indent(first) < 2:
        return None
    j = i + rng.randint(1, 4)
    if j >= len(f.lines):
        return None
    last = f.lines[j].rstrip()
    if not last.strip():
        return None
    c0 = rng.randint(_indent(first) + 1, len(first) - 1)
    c1 = rng.randint(_indent(last) + 1, len(last))
    if f.in_prose(i, c0) and f.in_prose(j, c1 - 1):
        return None
    if not _code_in([first[c0:], *f.lines[i + 1 : j], last[:c1]], lang):
        return None
    return _task(f, "span", (i, c0), (j, c1))


def cut_eol(f: _File, rng: random.Random) -> Task | None:
    i = rng.randrange(len(f.lines) - 1)
    if not f.opens_body(i, strict=False):
        return None
    base = _indent(f.lines[i])
    k = rng.randint(1, 4)
    body = []
    for j in range(i + 1, min(i + 1 + k, len(f.lines))):
        if f.lines[j].strip() and _indent(f.lines[j]) <= base:
            break  # the block ended: the hole stays inside its body
        body.append(j)
    while body and not f.lines[body[-1]].strip():
        body.pop()
    if not body or not _code_in([f.lines[j] for j in body], f.source.language):
        return None
    end = body[-1]
    return _task(f, "eol", (i, len(f.lines[i])), (end, len(f.lines[end])))


def cut(f: _File, kind: str, rng: random.Random, want_opener: bool = False) -> Task | None:
    if kind == "line":
        return cut_line(f, rng)
    if kind == "multiline":
        return cut_multiline(f, rng, want_opener)
    if kind == "span":
        return cut_span(f, rng)
    if kind == "eol":
        return cut_eol(f, rng)
    raise ValueError(f"unknown hole kind {kind!r}")


# -- the task set ---------------------------------------------------------------------------


def _hash(task_id: str) -> str:
    return hashlib.sha256(task_id.encode()).hexdigest()


def assign_split(tasks: Sequence[Task]) -> list[Task]:
    """Exactly a quarter `heldout` (floor), stratified by (language, kind); see module doc."""
    groups: dict[tuple[str, str], list[Task]] = defaultdict(list)
    for t in tasks:
        groups[(t.language, t.kind)].append(t)
    heldout: set[str] = set()
    next_up: list[Task] = []
    for members in groups.values():
        ranked = sorted(members, key=lambda t: _hash(t.task_id))
        quota = len(ranked) // 4
        heldout.update(t.task_id for t in ranked[:quota])
        if quota < len(ranked):
            next_up.append(ranked[quota])
    missing = len(tasks) // 4 - len(heldout)
    heldout.update(t.task_id for t in sorted(next_up, key=lambda t: _hash(t.task_id))[:missing])
    return [replace(t, split="heldout" if t.task_id in heldout else "tuning") for t in tasks]


def _interleave(groups: dict[tuple[str, str], list[Task]]) -> list[Task]:
    """Round-robin over groups, each round in an order where neighbours differ in both
    language and kind, so that the first few tasks of the set are already varied."""
    keys = sorted(groups, key=lambda k: (LANGUAGES.index(k[0]), KINDS.index(k[1])))
    langs = sorted({k[0] for k in keys}, key=LANGUAGES.index)
    kinds = sorted({k[1] for k in keys}, key=KINDS.index)
    order = []
    for g in range(len(langs) * len(kinds) * max(len(langs), len(kinds))):
        key = (langs[g % len(langs)], kinds[g % len(kinds)])
        if key in groups and key not in order:
            order.append(key)
    order += [k for k in keys if k not in order]
    out: list[Task] = []
    for r in range(max((len(v) for v in groups.values()), default=0)):
        out += [groups[k][r] for k in order if r < len(groups[k])]
    return out


def _draw(
    files: Sequence[SourceFile],
    kind: str,
    rng: random.Random,
    index: int,
    ids: set[str],
    per_file: Counter[tuple[str, str]],
    parsed: dict[tuple[str, str], _File],
) -> Task | None:
    """A new task of `kind` from one of `files` (a random file, then a random position; up to
    ATTEMPTS tries). Every third multi-line hole must end with a block opener."""
    ordered = sorted(files, key=lambda s: s.path)
    for _ in range(ATTEMPTS):
        sf = rng.choice(ordered)
        key = (sf.package, sf.path)
        if per_file[key] >= PER_FILE:
            continue
        f = parsed.get(key)
        if f is None:
            f = parsed[key] = _File(sf)
        task = cut(f, kind, rng, want_opener=kind == "multiline" and index % 3 == 0)
        if task is not None and task.task_id not in ids:
            return task
    return None


def build_tasks(
    files: Iterable[SourceFile],
    seed: int = 0,
    per_kind_per_lang: int = 20,
    languages: Sequence[str] = LANGUAGES,
    kinds: Sequence[str] = KINDS,
) -> list[Task]:
    """`per_kind_per_lang` tasks for each (language, kind), split assigned, interleaved.

    The packages of a language take turns (then a random file, then a random position), so
    that neither a package with many files nor one with dense code dominates its language."""
    by_lang: dict[str, dict[str, list[SourceFile]]] = defaultdict(lambda: defaultdict(list))
    for sf in files:
        by_lang[sf.language][sf.package].append(sf)
    parsed: dict[tuple[str, str], _File] = {}
    groups: dict[tuple[str, str], list[Task]] = {}
    for lang in languages:
        packages = by_lang.get(lang)
        if not packages:
            continue
        names = sorted(packages)
        for kind in kinds:
            rng = random.Random(f"{seed}/{lang}/{kind}")
            found: list[Task] = []
            ids: set[str] = set()
            per_file: Counter[tuple[str, str]] = Counter()
            turn = rng.sample(names, len(names))  # packages take turns, in a seeded order
            misses = 0
            while len(found) < per_kind_per_lang and misses < len(names):
                pkg = turn[(len(found) + misses) % len(turn)]
                task = _draw(packages[pkg], kind, rng, len(found), ids, per_file, parsed)
                if task is None:
                    misses += 1  # this package has no more such holes: the next one's turn
                    continue
                ids.add(task.task_id)
                per_file[(task.package, task.path)] += 1
                found.append(task)
            groups[(lang, kind)] = found
    tasks = _interleave(groups)
    return assign_split(tasks)


def select(tasks: Sequence[Task], split: str = "all", limit: int | None = None) -> list[Task]:
    """The tasks of a split; with `limit`, that many spread evenly over it (the task list is
    grouped by language and kind, so the first N would all be of one kind)."""
    chosen = [t for t in tasks if split == "all" or t.split == split]
    if limit is None or limit >= len(chosen):
        return chosen
    return [chosen[i * len(chosen) // limit] for i in range(max(0, limit))]


def summarize(tasks: Sequence[Task]) -> dict[str, Any]:
    """Counts and sizes of a task set (what `--tasks-only` prints)."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for t in tasks:
        by_kind = counts.setdefault(t.language, {})
        cell = by_kind.setdefault(t.kind, {"tuning": 0, "heldout": 0})
        cell[t.split] += 1
    multiline = [t for t in tasks if t.kind == "multiline"]
    n = len(tasks) or 1
    return {
        "tasks": len(tasks),
        "heldout": sum(t.split == "heldout" for t in tasks),
        "by_language_kind": counts,
        "multiline_ending_with_opener": sum(t.ends_with_opener for t in multiline),
        "multiline": len(multiline),
        "eol_starting_with_newline": sum(
            t.expected.startswith("\n") for t in tasks if t.kind == "eol"
        ),
        "packages": len({t.package for t in tasks}),
        "files": len({(t.package, t.path) for t in tasks}),
        "mean_document_lines": sum(t.text.count("\n") + 1 for t in tasks) / n,
        "mean_document_chars": sum(len(t.text) for t in tasks) / n,
        "mean_expected_chars": sum(len(t.expected) for t in tasks) / n,
    }
