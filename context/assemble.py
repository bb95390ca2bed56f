"""Context assembly under a token budget: prefix/suffix windows plus extra "files".

`collect_context` turns one completion request into a `CodeContext`:

* `prefix` — a head of out-of-window lines of the current file (imports, definitions it
  references, the headers of the enclosing scopes, separated by elision comments) followed by
  the line-aligned window before the cursor;
* `suffix` — the line-aligned window after the cursor;
* `files` — extra context as `(path, text)` entries to be placed before the current file in
  repository-level FIM format: first the stable entries (other open files of the language,
  then definitions of referenced symbols, each group sorted by path) so the prompt's token
  prefix, and the model's KV cache with it, survives keystrokes; then the volatile recently
  edited/viewed chunks, oldest first.

Budget: `budget` tokens in total as measured by `count_tokens`. `extra_fraction` of it goes
to `files` (each entry costs `count_tokens(path + "\\n") + file_overhead_tokens +
count_tokens(text)`), the rest to the windows, of which the suffix may take
`suffix_fraction` and the prefix the remainder. Every part is checked exactly.

Holds no state of its own: definitions extracted from documents are kept in the
`DefinitionCache` the request carries (its owner tells it when a document closes), and
`related_documents` is the one rule for which other open documents are context.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import tree_sitter as ts

from airgap_lsp.context.definitions import Definition, extract_definitions
from airgap_lsp.context.imports import Import, find_imports
from airgap_lsp.context.languages import Language, language_for
from airgap_lsp.context.references import referenced_names, word_before
from airgap_lsp.context.ring import ChunkRing
from airgap_lsp.context.scopes import enclosing_scopes
from airgap_lsp.context.syntax import parse
from airgap_lsp.context.text import SourceText
from airgap_lsp.context.windows import fit_head, prefix_window, suffix_window
from airgap_lsp.context.workspace import WorkspaceIndex

TokenCounter = Callable[[str], int]


class _Described(Protocol):
    """An open document as `related_documents` sees it."""

    @property
    def language_id(self) -> str | None: ...

    @property
    def path(self) -> str: ...


_D = TypeVar("_D", bound=_Described)

_FAMILY = {"typescript": "js", "tsx": "js", "javascript": "js", "c": "c", "cpp": "c"}
_MAX_NAMES = 40
_MAX_DEFS_PER_NAME = 3
_MAX_MEMBERS = 12
_PREFIX_QUANTUM = 8


@dataclass(frozen=True, slots=True)
class OpenDocument:
    """Another document open in the editor (its tree is optional; parsed when missing)."""

    path: str
    text: str
    language_id: str | None = None
    tree: ts.Tree | None = None


@dataclass(frozen=True, slots=True)
class ContextRequest:
    """Everything `collect_context` needs; offsets are code points into `text`."""

    text: str
    offset: int
    path: str
    count_tokens: TokenCounter
    budget: int = 2048
    language_id: str | None = None
    tree: ts.Tree | None = None
    open_documents: Sequence[OpenDocument] = ()
    ring: ChunkRing | None = None
    index: WorkspaceIndex | None = None
    workspace_root: str | None = None
    extra_fraction: float = 0.4
    suffix_fraction: float = 0.25
    file_overhead_tokens: int = 1
    definitions: DefinitionCache | None = None  # None: extracted anew for this request


@dataclass(frozen=True, slots=True)
class ContextFile:
    """One extra-context entry: `<|file_sep|>{path}\\n{text}` in the prompt."""

    path: str
    text: str


@dataclass(frozen=True, slots=True)
class IncludedPiece:
    """What went into the prompt: kind, source path, zero-based line, token cost."""

    kind: str
    path: str
    line: int
    tokens: int


@dataclass(frozen=True, slots=True)
class ContextReport:
    language: str | None
    included: tuple[IncludedPiece, ...]
    skipped: int
    prefix_tokens: int
    suffix_tokens: int
    extra_tokens: int
    elapsed_ms: float


@dataclass(frozen=True, slots=True)
class CodeContext:
    prefix: str
    suffix: str
    files: tuple[ContextFile, ...]
    report: ContextReport
    window_start: int
    window_end: int


@dataclass(slots=True)
class _Piece:
    kind: str
    path: str
    line: int
    end_line: int
    text: str
    priority: float
    group: str = ""
    tokens: int = 0
    key: tuple[str, int] = field(default=("", 0))


def collect_context(request: ContextRequest) -> CodeContext:
    """Assemble prefix, suffix and extra files for one completion within the budget."""
    t0 = time.perf_counter()
    text, offset, ct = (
        request.text,
        max(0, min(request.offset, len(request.text))),
        request.count_tokens,
    )
    lang = language_for(request.language_id, request.path)
    source = SourceText(text)
    tree = request.tree if request.tree is not None or lang is None else parse(text, lang)
    if tree is None:
        lang = None

    extra_budget = max(0, int(request.budget * request.extra_fraction))
    window_budget = max(0, request.budget - extra_budget)
    suffix_end = suffix_window(text, offset, int(window_budget * request.suffix_fraction), ct)
    suffix = text[offset:suffix_end]
    suffix_tokens = ct(suffix) if suffix else 0
    prefix_budget = window_budget - suffix_tokens

    names: list[str] = []
    imports: tuple[Import, ...] = ()
    if lang is not None and tree is not None:
        names = referenced_names(source, tree, lang, offset)[:_MAX_NAMES]
        imports = find_imports(source, tree, lang)

    included: list[IncludedPiece] = []
    prefix, window_start, head_pieces = _build_prefix(
        request, source, tree, lang, offset, prefix_budget, names, imports
    )
    for p in head_pieces:
        included.append(IncludedPiece(p.kind, request.path, p.line, p.tokens))

    window_lines = (source.line_of(window_start), source.line_of(suffix_end))
    candidates = _extra_candidates(request, lang, names, imports, offset, window_lines)
    files, chosen, skipped = _select_extras(request, candidates, extra_budget)
    included.extend(IncludedPiece(p.kind, p.path, p.line, p.tokens) for p in chosen)
    extra_tokens = sum(_file_cost(request, f) for f in files)

    report = ContextReport(
        language=None if lang is None else lang.name,
        included=tuple(included),
        skipped=skipped,
        prefix_tokens=ct(prefix) if prefix else 0,
        suffix_tokens=suffix_tokens,
        extra_tokens=extra_tokens,
        elapsed_ms=(time.perf_counter() - t0) * 1000.0,
    )
    return CodeContext(prefix, suffix, files, report, window_start, suffix_end)


# -- prefix: head of out-of-window lines + window ---------------------------------------------


def _build_prefix(
    request: ContextRequest,
    source: SourceText,
    tree: ts.Tree | None,
    lang: Language | None,
    offset: int,
    budget: int,
    names: list[str],
    imports: tuple[Import, ...],
) -> tuple[str, int, list[_Piece]]:
    text, ct = source.text, request.count_tokens
    if lang is None or tree is None:
        start = prefix_window(text, offset, budget, ct, quantum=_PREFIX_QUANTUM)
        return text[start:offset], start, []
    reserve = budget // 4
    first = prefix_window(text, offset, budget - reserve, ct, quantum=_PREFIX_QUANTUM)
    if first == 0:
        return text[:offset], 0, []

    pieces: list[_Piece] = []
    scopes = enclosing_scopes(source, tree, offset, lang)
    for depth, scope in enumerate(scopes):
        if scope.start < first:
            end_line = scope.start_line + scope.header.count("\n")
            pieces.append(
                _Piece("scope", request.path, scope.start_line, end_line, scope.header, 100 + depth)
            )
    for imp in imports:
        if imp.start < first:
            end_line = imp.start_line + imp.text.count("\n")
            pieces.append(_Piece("import", request.path, imp.start_line, end_line, imp.text, 50))
    rank = {n: i for i, n in enumerate(names)}
    for d in _local_definitions(request, source, tree, lang, first, frozenset(names)):
        if d.name in rank:
            pieces.append(
                _Piece(
                    "definition",
                    request.path,
                    d.start_line,
                    d.end_line,
                    d.text,
                    80 - rank[d.name] * 0.5,
                )
            )
    for p in pieces:
        p.tokens = ct(p.text + "\n")

    chosen: list[_Piece] = []
    used = 0
    for p in sorted(pieces, key=lambda p: (-p.priority, p.line)):
        if used + p.tokens + 2 <= reserve and not _overlaps(p, chosen):
            chosen.append(p)
            used += p.tokens + 2
    while True:
        head = _render_head(chosen, lang)
        head_tokens = ct(head) if head else 0
        start = prefix_window(text, offset, budget - head_tokens, ct, quantum=_PREFIX_QUANTUM)
        # Pieces the larger window now shows need not be repeated in the head.
        start_line = source.line_of(start)
        kept = [p for p in chosen if p.end_line < start_line]
        if len(kept) != len(chosen):
            chosen = kept
            continue
        prefix = head + text[start:offset]
        if ct(prefix) <= budget:
            return prefix, start, sorted(chosen, key=lambda p: p.line)
        if not chosen:
            start = prefix_window(text, offset, budget, ct)
            return text[start:offset], start, []
        chosen.remove(min(chosen, key=lambda p: p.priority))


def _overlaps(p: _Piece, chosen: list[_Piece]) -> bool:
    return any(p.line <= c.end_line and c.line <= p.end_line for c in chosen)


def _render_head(pieces: list[_Piece], lang: Language) -> str:
    if not pieces:
        return ""
    marker = f"{lang.line_comment} ..."
    lines: list[str] = []
    last_end = -1
    for p in sorted(pieces, key=lambda p: p.line):
        if lines and p.line != last_end + 1:
            lines.append(marker)
        lines.append(p.text)
        last_end = p.end_line
    lines.append(marker)
    return "\n".join(lines) + "\n"


class DefinitionCache:
    """Definitions extracted from documents, kept while the text they came from holds: the
    current file's top-level definitions above the window (by path, while the text above the
    window and the names asked for are the same) and other open documents' definitions (by
    path and language, while their text is the same). Thread-safe; owned by whoever owns the
    documents (`completion.code_context.ContextProvider`), which tells it when one closes."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._local: OrderedDict[str, tuple[str, frozenset[str], tuple[Definition, ...]]] = (
            OrderedDict()
        )
        self._documents: OrderedDict[tuple[str, str], tuple[str, tuple[Definition, ...]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def local(self, path: str, head: str, names: frozenset[str]) -> tuple[Definition, ...] | None:
        with self._lock:
            hit = self._local.get(path)
            return hit[2] if hit is not None and hit[1] == names and hit[0] == head else None

    def keep_local(
        self, path: str, head: str, names: frozenset[str], defs: tuple[Definition, ...]
    ) -> None:
        with self._lock:
            self._local[path] = (head, names, defs)
            self._local.move_to_end(path)
            while len(self._local) > self.size:
                self._local.popitem(last=False)

    def document(self, key: tuple[str, str], text: str) -> tuple[Definition, ...] | None:
        with self._lock:
            hit = self._documents.get(key)
            return hit[1] if hit is not None and hit[0] == text else None

    def keep_document(self, key: tuple[str, str], text: str, defs: tuple[Definition, ...]) -> None:
        with self._lock:
            self._documents[key] = (text, defs)
            self._documents.move_to_end(key)
            while len(self._documents) > self.size:
                self._documents.popitem(last=False)

    def forget(self, path: str) -> None:
        """A document closed: what was kept for its path goes. (Completion requests name the
        current file by its base name, so its entry may be kept under that.)"""
        with self._lock:
            self._local.pop(path, None)
            self._local.pop(os.path.basename(path), None)
            for key in [k for k in self._documents if k[0] == path]:
                del self._documents[key]


def _local_definitions(
    request: ContextRequest,
    source: SourceText,
    tree: ts.Tree,
    lang: Language,
    end: int,
    names: frozenset[str],
) -> tuple[Definition, ...]:
    """Top-level definitions named in `names` ending before the line of `end`.

    Cached while text[:end] and `names` hold.

    The window start is quantized, so while the user types inside the window the text
    above it, and this cache entry, stay the same.
    """
    path, cache = request.path, request.definitions
    head = source.text[:end]
    hit = cache.local(path, head, names) if cache is not None else None
    if hit is not None:
        return hit
    end_line = source.line_of(end)
    defs = tuple(
        d
        for d in extract_definitions(
            source,
            tree,
            lang,
            path,
            byte_range=(0, source.to_byte(end)),
            names=names,
            max_depth=2,
        )
        if d.end_line < end_line and d.top_level
    )
    if cache is not None:
        cache.keep_local(path, head, names, defs)
    return defs


# -- extra files ------------------------------------------------------------------------------


def _document_definitions(
    request: ContextRequest, doc: OpenDocument, lang: Language
) -> tuple[Definition, ...]:
    key, cache = (doc.path, lang.name), request.definitions
    hit = cache.document(key, doc.text) if cache is not None else None
    if hit is not None:
        return hit
    tree = doc.tree if doc.tree is not None else parse(doc.text, lang)
    defs = () if tree is None else extract_definitions(SourceText(doc.text), tree, lang, doc.path)
    if cache is not None:
        cache.keep_document(key, doc.text, defs)
    return defs


def _same_family(a: Language, b: Language | None) -> bool:
    return b is not None and _FAMILY.get(a.name, a.name) == _FAMILY.get(b.name, b.name)


def related_documents(language_id: str | None, path: str, others: Sequence[_D]) -> list[_D]:
    """The one rule for which other open documents relate to a document (their code is
    context and prompt-lookup material for it): those of the same language family (C with C++,
    JavaScript with TypeScript); for a language without a grammar, the same languageId. In
    the order given."""
    lang = language_for(language_id, path)
    if lang is None:
        return [d for d in others if language_id and d.language_id == language_id]
    return [d for d in others if _same_family(lang, language_for(d.language_id, d.path))]


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


# Code of another file whose lines are mostly lines around the cursor is left out: those lines
# are in the prompt already, and a copy of the code being written pulls the model into
# repeating it instead of filling the hole (llama.vim evicts such ring chunks for the same
# reason). Measured: with other tasks' copies of the same file in context, single-line pass@1
# fell from 95 to 57.5 % on the latency suite's 40 lines. Short lines (`}`, `end`, `else:`) are
# everywhere and do not count.
NEAR_COPY = 0.6
AROUND_LINES = 16  # the cursor's neighbourhood: this many lines each way
MIN_LINE = 8  # characters of a line, without indentation, for it to count


def _lines(text: str) -> list[str]:
    return [s for s in (line.strip() for line in text.split("\n")) if len(s) >= MIN_LINE]


def _copies(piece: str, local: set[str]) -> bool:
    """Whether most of the piece's lines are lines of `local`."""
    lines = _lines(piece)
    return bool(lines) and sum(line in local for line in lines) > NEAR_COPY * len(lines)


def _around(text: str, offset: int) -> set[str]:
    """The lines around the cursor, as `_lines` counts them."""
    lines = text.split("\n")
    row = text.count("\n", 0, offset)
    return set(_lines("\n".join(lines[max(0, row - AROUND_LINES) : row + AROUND_LINES])))


def _extra_candidates(
    request: ContextRequest,
    lang: Language | None,
    names: list[str],
    imports: tuple[Import, ...],
    offset: int,
    window_lines: tuple[int, int],
) -> list[_Piece]:
    out: list[_Piece] = []
    current = _norm(request.path)
    others: list[tuple[OpenDocument, Language]] = []
    if lang is not None:
        for doc in related_documents(request.language_id, request.path, request.open_documents):
            doc_lang = language_for(doc.language_id, doc.path)
            if _norm(doc.path) != current and doc_lang is not None:
                others.append((doc, doc_lang))
    others.sort(key=lambda pair: pair[0].path)

    if lang is not None:
        out.extend(_definition_candidates(request, lang, names, imports, offset, others, current))

    if request.ring is not None:
        chunks = request.ring.chunks()
        for age, chunk in enumerate(reversed(chunks)):
            if _norm(chunk.path) == current and not (
                chunk.end_line < window_lines[0] or chunk.start_line > window_lines[1]
            ):
                continue
            if chunk.kind == "view" and _norm(chunk.path) != current:
                # Another file merely opened says little about the code being written, and
                # unrelated code misleads a small model: with four earlier HumanEval files'
                # heads in context, 5 of 10 bodies passed against 8 without. Related files
                # come in through definitions and open documents; edits stay (work going on).
                continue
            out.append(
                _Piece(
                    f"recent_{chunk.kind}",
                    chunk.path,
                    chunk.start_line,
                    chunk.end_line,
                    chunk.text,
                    40.0 - age,
                    group=f"ring-{len(chunks) - age:06d}",
                    key=(chunk.path, -1 - age),
                )
            )

    cap = max(0, int(request.budget * request.extra_fraction) // 3)
    for i, (doc, _) in enumerate(others):
        text = fit_head(doc.text, cap, request.count_tokens)
        if text.strip():
            out.append(
                _Piece(
                    "open_file",
                    doc.path,
                    0,
                    text.count("\n"),
                    text,
                    20.0 - 0.01 * i,
                    group="stable-open",
                    key=(doc.path, -10_000),
                )
            )
    # Code of other files this much like the lines around the cursor is a copy of them.
    local = _around(request.text, offset)
    return [p for p in out if _norm(p.path) == current or not _copies(p.text, local)]


def _definition_candidates(
    request: ContextRequest,
    lang: Language,
    names: list[str],
    imports: tuple[Import, ...],
    offset: int,
    others: list[tuple[OpenDocument, Language]],
    current: str,
) -> list[_Piece]:
    """Definitions worth showing, with priorities: the symbol being typed, referenced names
    (nearest first) with the members of referenced types, files a qualifier names
    (`ledger.frob`, `grain.Grind`), imported names, then the current file's neighbours."""
    index = request.index
    open_paths = {_norm(d.path) for d, _ in others}
    by_name: dict[str, list[Definition]] = {}
    by_owner: dict[str, list[Definition]] = {}
    open_defs: dict[str, tuple[Definition, ...]] = {}
    for doc, doc_lang in others:
        defs = _document_definitions(request, doc, doc_lang)
        open_defs[doc.path] = defs
        for d in defs:
            by_name.setdefault(d.name, []).append(d)
            if d.owner is not None:
                by_owner.setdefault(d.owner, []).append(d)

    def usable(d: Definition) -> bool:
        p = _norm(d.path)
        return (
            p != current and p not in open_paths and _same_family(lang, language_for(None, d.path))
        )

    def lookup(name: str) -> list[Definition]:
        found = list(by_name.get(name, ()))
        if index is not None:
            found.extend(d for d in index.lookup(name) if usable(d))
        return found[:_MAX_DEFS_PER_NAME]

    def members(name: str) -> list[Definition]:
        found = list(by_owner.get(name, ()))
        if index is not None:
            found.extend(d for d in index.members_of(name) if usable(d))
        return found[:_MAX_MEMBERS]

    open_modules = {doc.path: _module_keys(doc.path) for doc, _ in others}

    def module(name: str) -> list[Definition]:
        found = [
            d
            for doc, _ in others
            if name in open_modules[doc.path]
            for d in open_defs[doc.path]
            if d.top_level
        ]
        if index is not None:
            for path in index.module_files(name):
                if _norm(path) != current and _norm(path) not in open_paths:
                    found.extend(d for d in index.definitions_in(path) if d.top_level)
        return found[:_MAX_MEMBERS]

    wanted: list[tuple[float, Definition]] = []
    word = word_before(request.text, offset)
    if len(word) >= 3:
        prefixed = [d for n in sorted(by_name) if n.startswith(word) for d in by_name[n]]
        if index is not None:
            prefixed.extend(d for d in index.lookup_prefix(word, limit=8) if usable(d))
        wanted.extend((95.0, d) for d in prefixed[:8])
    for i, name in enumerate(names):
        wanted.extend((90.0 - 0.5 * i, d) for d in lookup(name))
        wanted.extend((89.9 - 0.5 * i, d) for d in members(name))
        wanted.extend((70.0 - 0.5 * i, d) for d in module(name))
    imported = [n for imp in imports for n in imp.names if n not in names]
    for i, name in enumerate(dict.fromkeys(imported)):
        wanted.extend((55.0 - 0.1 * i, d) for d in lookup(name))
        wanted.extend((54.0 - 0.1 * i, d) for d in module(name))
    if index is not None:
        # Same directory: a Go package, a Python package's siblings, a Java package.
        for path in index.files_in_dir(os.path.dirname(os.path.abspath(request.path))):
            if _norm(path) != current and _norm(path) not in open_paths:
                wanted.extend((30.0, d) for d in index.definitions_in(path) if d.top_level)

    out: list[_Piece] = []
    seen: set[tuple[str, int]] = set()
    for priority, d in wanted:
        key = (d.path, d.start_line)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            _Piece(
                "definition",
                d.path,
                d.start_line,
                d.end_line,
                d.text,
                priority,
                group="stable-definitions",
                key=key,
            )
        )
    return out


def _module_keys(path: str) -> tuple[str, str]:
    return os.path.splitext(os.path.basename(path))[0], os.path.basename(os.path.dirname(path))


def _workspace_path(request: ContextRequest, path: str) -> str:
    """A file's path relative to the workspace root (as given when outside it)."""
    root = request.workspace_root
    if root:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return path


def _file_cost(request: ContextRequest, f: ContextFile) -> int:
    return (
        request.count_tokens(f.path + "\n")
        + request.file_overhead_tokens
        + request.count_tokens(f.text)
    )


def _render_files(request: ContextRequest, pieces: list[_Piece]) -> list[ContextFile]:
    open_files = {p.path for p in pieces if p.kind == "open_file"}
    stable: dict[tuple[int, str], list[_Piece]] = {}
    volatile: list[_Piece] = []
    for p in pieces:
        if p.group.startswith("ring-"):
            volatile.append(p)
        elif p.kind == "open_file":
            stable.setdefault((0, p.path), []).append(p)
        elif p.path not in open_files:
            stable.setdefault((1, p.path), []).append(p)
    files: list[ContextFile] = []
    for (_, path), group in sorted(stable.items()):
        group.sort(key=lambda p: (p.line, -p.end_line))
        # A member inside a container that is shown whole would be shown twice.
        group = [
            p
            for p in group
            if not any(o is not p and o.line <= p.line and p.end_line <= o.end_line for o in group)
        ]
        files.append(
            ContextFile(_workspace_path(request, path), "\n\n".join(p.text for p in group))
        )
    for p in sorted(volatile, key=lambda p: p.group):
        files.append(ContextFile(_workspace_path(request, p.path), p.text))
    return files


def _select_extras(
    request: ContextRequest, candidates: list[_Piece], budget: int
) -> tuple[tuple[ContextFile, ...], list[_Piece], int]:
    ct = request.count_tokens
    chosen: list[_Piece] = []
    paths_paid: set[str] = set()
    used = 0
    for p in sorted(candidates, key=lambda p: (-p.priority, p.path, p.line)):
        p.tokens = ct(p.text) + 1
        entry = p.path if not p.group.startswith("ring-") else p.group
        header = (
            0
            if entry in paths_paid
            else ct(_workspace_path(request, p.path) + "\n") + (request.file_overhead_tokens)
        )
        if used + header + p.tokens <= budget:
            chosen.append(p)
            paths_paid.add(entry)
            used += header + p.tokens
    while True:
        files = _render_files(request, chosen)
        if sum(_file_cost(request, f) for f in files) <= budget:
            break
        chosen.remove(min(chosen, key=lambda p: (p.priority, p.path, p.line)))
    return tuple(files), chosen, len(candidates) - len(chosen)
