"""The open documents: their text under LSP line ends, their versions, and finding one by URI
however the client spells it.

Owns the server's copy of each open document. pygls' workspace keeps the documents and applies
each didChange before the server's handlers run; `Documents` is that workspace with two
changes: its documents are `Document`s, whose lines and positions come from `lsp.positions`
(pygls' own TextDocument splits lines with `str.splitlines`), and it keys them by `uri_key`,
so `file:///my%20project/a.py`, `file:///c%3A/x.py` and `file:///C:/x.py` all find their
document. Each `Document` records the code-point edits it applied, for the syntax trees, and
carries a serial that is new at every didOpen: an action listed before a close and reopen is
stale even when the version number matches.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument, Workspace

from airgap_lsp.context import TextEdit
from airgap_lsp.lsp.positions import LineIndex, encoding_name, split_lines

log = logging.getLogger(__name__)

_serials = itertools.count(1)
_DRIVE = re.compile(r"///[A-Za-z]:")


def uri_key(uri: str) -> str:
    """One key for every spelling of a URI: percent-escapes decoded (hex in either case), the
    scheme and a Windows drive letter in lower case."""
    key = unquote(uri)
    scheme, colon, rest = key.partition(":")
    if not colon:
        return key
    scheme = scheme.lower()
    if scheme == "file" and _DRIVE.match(rest):
        rest = rest[:3] + rest[3].lower() + rest[4:]
    return f"{scheme}:{rest}"


def file_path(uri: str) -> str | None:
    """The file system path of a `file:` URI; None for any other scheme (untitled:, git:...)."""
    return to_fs_path(uri) if uri_key(uri).startswith("file:") else None


class Document(TextDocument):
    """An open document whose lines end only at LSP line ends."""

    def __init__(
        self,
        uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Never None: pygls would read a None source from disk, on the event loop.
        super().__init__(uri, source or "", version, language_id, **kwargs)
        self.key = uri_key(uri)
        self.serial = next(_serials)
        self._index: LineIndex | None = None
        self._edits: list[TextEdit] | None = []

    @property
    def encoding(self) -> str:
        """The negotiated position encoding: "utf-16", "utf-8" or "utf-32"."""
        return encoding_name(self.position_codec.encoding)

    def index(self) -> LineIndex:
        """Line starts of the current text (built once per text)."""
        return self.index_of(self.source)

    def index_of(self, text: str) -> LineIndex:
        """Line starts of `text`, the document's text now or at an earlier moment; kept while
        it is the current text. Safe to call from another thread (a LineIndex is immutable)."""
        index = self._index
        if index is not None and index.text is text and index.encoding == self.encoding:
            return index
        index = LineIndex(text, self.encoding)
        if self._source is text:
            self._index = index
        return index

    @property
    def lines(self) -> Sequence[str]:
        return tuple(split_lines(self.source))

    def offset_at_position(self, client_position: types.Position) -> int:
        return self.index().offset(client_position.line, client_position.character)

    def position_at(self, offset: int) -> types.Position:
        line, character = self.index().position(offset)
        return types.Position(line=line, character=character)

    def range_at(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position_at(start), end=self.position_at(end))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        start = self.offset_at_position(change.range.start)
        end = self.offset_at_position(change.range.end)
        start, end = min(start, end), max(start, end)
        index = self.index()
        text = self._source = index.text[:start] + change.text + index.text[end:]
        self._index = index.edited(text, start, end, len(change.text))
        if self._edits is not None:
            self._edits.append(TextEdit(start, end, change.text))

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        super()._apply_full_change(change)
        self._edits = None

    def take_edits(self) -> list[TextEdit] | None:
        """The edits applied since the last call, in order (offsets in the text before each);
        None when the whole text was replaced meanwhile."""
        edits, self._edits = self._edits, []
        return edits


def open_document(workspace: Workspace, uri: str) -> Document | None:
    """The open document at `uri` (any spelling), or None."""
    doc = workspace.text_documents.get(uri_key(uri))
    return doc if isinstance(doc, Document) else None


class Documents(Workspace):
    """pygls' workspace holding `Document`s under `uri_key` keys."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> Document:
        return Document(
            doc_uri,
            source,
            version,
            language_id,
            sync_kind=self._sync_kind,
            position_codec=self.position_codec,
        )

    def get(self, uri: str) -> Document | None:
        return open_document(self, uri)

    def get_text_document(self, doc_uri: str) -> TextDocument:
        return self.get(doc_uri) or self._create_text_document(doc_uri)

    def put_text_document(
        self, text_document: types.TextDocumentItem, notebook_uri: str | None = None
    ) -> None:
        uri = text_document.uri
        self._text_documents[uri_key(uri)] = self._create_text_document(
            uri, text_document.text, text_document.version, text_document.language_id
        )
        if notebook_uri:
            self._cell_in_notebook[unquote(uri)] = unquote(notebook_uri)

    def remove_text_document(self, doc_uri: str) -> None:
        self._text_documents.pop(uri_key(doc_uri), None)
        self._cell_in_notebook.pop(unquote(doc_uri), None)

    def update_text_document(
        self,
        text_doc: types.VersionedTextDocumentIdentifier,
        change: types.TextDocumentContentChangeEvent,
    ) -> None:
        doc = self.get(text_doc.uri)
        if doc is None:  # a change to a document that is not open: nothing to apply it to
            log.warning("didChange for a document that is not open: %s", text_doc.uri)
            return
        doc.apply_change(change)
        doc.version = text_doc.version


def use_documents(protocol: Any) -> Documents:
    """Replace the workspace pygls made at `initialize` by a `Documents` with the same root,
    folders, sync kind and position encoding (call from the initialize handler, before any
    document is opened)."""
    old: Workspace = protocol.workspace
    if isinstance(old, Documents):
        return old
    documents = Documents(
        old.root_uri,
        getattr(old, "_sync_kind", types.TextDocumentSyncKind.Incremental),
        list(old.folders.values()),
        old.position_encoding,
    )
    # pygls builds its Workspace inside its own initialize handler and has no hook for
    # another class; its protocol keeps it in `_workspace`.
    protocol._workspace = documents
    return documents
