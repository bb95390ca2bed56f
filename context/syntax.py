"""Per-document syntax trees kept up to date incrementally from LSP-style edits.

`SyntaxCache` holds one tree per open document. Edits (code-point start/end in the current
text plus replacement text, applied in order like LSP `contentChanges`) are applied to the
text and to the old tree with `Tree.edit`, and the document is re-parsed lazily, on the next
`tree()`/`document()` call, with the edited tree as the starting point, so a burst of
keystrokes costs one incremental parse.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import tree_sitter as ts

from airgap_lsp.context.languages import Language, parser_for
from airgap_lsp.context.text import SourceText, point_at

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TextEdit:
    """Replace text[start:end] (code points, in the text as it is before this edit)."""

    start: int
    end: int
    new_text: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A document's text, language and (for known languages) its up-to-date syntax tree."""

    uri: str
    text: str
    language: Language | None
    tree: ts.Tree | None
    version: int
    source: SourceText


def parse(text: str, language: Language | None, old_tree: ts.Tree | None = None) -> ts.Tree | None:
    """Parse `text` (None for plain text); `old_tree` must already carry the edits."""
    if language is None:
        return None
    data = text.encode("utf-8", errors="surrogatepass")
    if old_tree is None:
        return parser_for(language).parse(data)
    return parser_for(language).parse(data, old_tree)


def apply_edit(text: str, tree: ts.Tree | None, edit: TextEdit) -> str:
    """Apply one edit to `text`, recording it in `tree`; returns the new text."""
    start = max(0, min(edit.start, len(text)))
    end = max(start, min(edit.end, len(text)))
    new_text = text[:start] + edit.new_text + text[end:]
    if tree is not None:
        start_point = point_at(text, start)
        old_end_point = point_at(text, end)
        new_end = start + len(edit.new_text)
        new_end_point = point_at(new_text, new_end)
        start_byte = len(text[:start].encode("utf-8", "surrogatepass"))
        old_end_byte = start_byte + len(text[start:end].encode("utf-8", "surrogatepass"))
        new_end_byte = start_byte + len(edit.new_text.encode("utf-8", "surrogatepass"))
        tree.edit(
            start_byte=start_byte,
            old_end_byte=old_end_byte,
            new_end_byte=new_end_byte,
            start_point=start_point,
            old_end_point=old_end_point,
            new_end_point=new_end_point,
        )
    return new_text


class _Entry:
    __slots__ = ("dirty", "language", "text", "tree", "version")

    def __init__(self, text: str, language: Language | None) -> None:
        self.text = text
        self.language = language
        self.tree: ts.Tree | None = None
        self.dirty = True
        self.version = 0


class SyntaxCache:
    """Incrementally maintained syntax trees for open documents, keyed by URI; thread-safe."""

    def __init__(self) -> None:
        self._docs: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def open(self, uri: str, text: str, language: Language | None) -> None:
        """Start tracking a document (replaces any previous state for `uri`)."""
        with self._lock:
            self._docs[uri] = _Entry(text, language)

    def change(self, uri: str, edits: Iterable[TextEdit] = (), *, text: str | None = None) -> str:
        """The document changed by `edits` (in order; offsets into the text before each).
        `text`, when given, is the document's own text after them and becomes the text kept
        here (one text per document, never a copy that can drift): the edits then only carry
        the tree forward, and if they do not lead to `text` the tree is parsed afresh. Without
        edits, `text` replaces the whole document. Returns the new text."""
        edits = list(edits)
        with self._lock:
            entry = self._docs[uri]
            if edits:
                if entry.tree is not None and not entry.dirty:
                    # The parsed tree may have been handed out in a snapshot; edit a copy.
                    entry.tree = entry.tree.copy()
                applied = entry.text
                for edit in edits:
                    applied = apply_edit(applied, entry.tree, edit)
                if text is not None and applied != text:
                    log.warning("edits to %s do not give its text; parsing it afresh", uri)
                    entry.tree = None
                entry.text = applied if text is None else text
            elif text is not None:
                entry.text = text
                entry.tree = None
            entry.dirty = True
            entry.version += 1
            return entry.text

    def close(self, uri: str) -> None:
        """Stop tracking a document; unknown URIs are ignored."""
        with self._lock:
            self._docs.pop(uri, None)

    def uris(self) -> list[str]:
        with self._lock:
            return list(self._docs)

    def text(self, uri: str) -> str | None:
        with self._lock:
            entry = self._docs.get(uri)
            return None if entry is None else entry.text

    def tree(self, uri: str) -> ts.Tree | None:
        """The up-to-date tree (parsing incrementally if needed); None if unknown or plain."""
        doc = self.document(uri)
        return None if doc is None else doc.tree

    def document(self, uri: str) -> ParsedDocument | None:
        """Snapshot of a document with an up-to-date tree."""
        with self._lock:
            entry = self._docs.get(uri)
            if entry is None:
                return None
            if entry.dirty:
                entry.tree = parse(entry.text, entry.language, entry.tree)
                entry.dirty = False
            return ParsedDocument(
                uri, entry.text, entry.language, entry.tree, entry.version, SourceText(entry.text)
            )
