"""The code context a completion request is built from, kept up to date as documents change.

Owns the long-lived context state of a server: syntax trees of open documents (parsed
incrementally on every change), the ring of recently edited and viewed chunks, and the
background index of workspace files; and turns a request into a `context.CodeContext` within
the prompt's token budget. Offsets are code points; nothing here knows LSP.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Tree

from airgap_lsp.context import (
    ChunkRing,
    CodeContext,
    ContextRequest,
    OpenDocument,
    SyntaxCache,
    TextEdit,
    WorkspaceIndex,
    collect_context,
    language_for,
)
from airgap_lsp.context.assemble import DefinitionCache, related_documents

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DocInfo:
    uri: str
    path: str
    language_id: str


class ContextProvider:
    """Thread-safe: documents change on the server's loop, context is read on the worker."""

    def __init__(self) -> None:
        self.syntax = SyntaxCache()
        self.ring = ChunkRing()
        self.index = WorkspaceIndex()
        self.definitions = DefinitionCache()
        self.roots: list[str] = []
        self._docs: dict[str, DocInfo] = {}
        self._lock = threading.Lock()

    # -- documents ----------------------------------------------------------------------------

    def open(self, uri: str, path: str, language_id: str, text: str) -> None:
        with self._lock:
            self._docs[uri] = DocInfo(uri, path, language_id)
        self.syntax.open(uri, text, language_for(language_id, path))
        self.ring.add_around(path, text, 0, kind="view")

    def change(self, uri: str, edits: Iterable[TextEdit], text: str | None = None) -> None:
        """The document changed by `edits` (offsets into the text before each) to `text`, the
        document's own text (`SyntaxCache.change`); no edits: `text` replaced it whole."""
        info = self._docs.get(uri)
        if info is None or self.syntax.text(uri) is None:
            return
        edits = list(edits)
        text = self.syntax.change(uri, edits, text=text)
        if edits:
            line = text.count("\n", 0, min(edits[-1].start, len(text)))
            self.ring.add_around(info.path, text, line, kind="edit")

    def text(self, uri: str) -> str | None:
        return self.syntax.text(uri)

    def close(self, uri: str) -> None:
        """Forget the document: its tree, the definitions kept for its path and its chunks in
        the ring. Edits of a closed file are finished work; what of it the code being written
        uses comes in through definitions. (Unrelated code misleads a small model: in the
        latency suite each body followed earlier files typed and closed, and with their edits
        in the prompt HumanEval/1 and /2 failed; HumanEval/2's model wrote its line twice.)"""
        with self._lock:
            info = self._docs.pop(uri, None)
        self.syntax.close(uri)
        if info is not None and not self._path_open(info.path):
            self.definitions.forget(info.path)
            self.ring.remove_path(info.path)

    def _path_open(self, path: str) -> bool:
        with self._lock:
            return any(d.path == path for d in self._docs.values())

    def related(self, uri: str, language_id: str, path: str) -> list[OpenDocument]:
        """The other open documents related to this one (`context.related_documents`, the one
        rule), in the order they were opened, with their current text and tree."""
        with self._lock:
            others = [d for d in self._docs.values() if d.uri != uri]
        out = []
        for d in related_documents(language_id or None, path, others):
            text = self.syntax.text(d.uri)
            if text is not None:
                out.append(OpenDocument(d.path, text, d.language_id, self.syntax.tree(d.uri)))
        return out

    def saved(self, path: str) -> None:
        """Re-index a saved file on the index's thread (never on the caller's)."""
        if any(path.startswith(root) for root in self.roots):
            self.index.schedule_update(path)

    # -- workspace ----------------------------------------------------------------------------

    def add_roots(self, roots: Sequence[str]) -> None:
        """Index workspace folders in the background (respecting .gitignore and size limits)."""
        for root in roots:
            if root and Path(root).is_dir() and root not in self.roots:
                self.roots.append(root)
                self.index.add_root(root)
        if self.roots:
            self.index.schedule_refresh()

    # -- requests -----------------------------------------------------------------------------

    def collect(
        self,
        uri: str,
        text: str,
        offset: int,
        path: str,
        language_id: str,
        count_tokens: Callable[[str], int],
        budget: int,
        file_overhead_tokens: int,
        extra_fraction: float = 0.4,
        suffix_fraction: float = 0.25,
    ) -> CodeContext:
        return collect_context(
            ContextRequest(
                text=text,
                offset=offset,
                path=path,
                count_tokens=count_tokens,
                budget=budget,
                language_id=language_id or None,
                tree=self.tree_for(uri, text),
                open_documents=self.related(uri, language_id, path),
                definitions=self.definitions,
                ring=self.ring,
                index=self.index if self.roots else None,
                workspace_root=self.roots[0] if self.roots else None,
                file_overhead_tokens=file_overhead_tokens,
                extra_fraction=extra_fraction,
                suffix_fraction=suffix_fraction,
            )
        )

    def tree_for(self, uri: str, text: str) -> Tree | None:
        """The current syntax tree of a document if `text` is its current text."""
        return self.syntax.tree(uri) if self.syntax.text(uri) == text else None
