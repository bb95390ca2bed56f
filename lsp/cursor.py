"""Where the cursor rests: the `airgap/cursor` hint our own editor clients send.

LSP tells a server where the cursor is only inside requests. The Neovim plugin and the VS Code
extension also send the notification `airgap/cursor`
`{"textDocument": {"uri", "version"}, "position": {"line", "character"}}` (debounced: at most
one every 300 ms) when the cursor rests in normal mode or the selection changes, for documents
the server has open. It is a hint: kept as the last resting place of each open document and
ignored for a document the server does not have open, for another version than the one it has,
and for a position outside the text; other clients never send it and lose nothing. The server
pre-warms the suggestion for the place (`CompletionSession.prewarm`), and `airgap/status`
reports the latest one. Never imports pygls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

METHOD = "airgap/cursor"


@dataclass(frozen=True, slots=True)
class Hint:
    """What a client said, checked only for shape."""

    uri: str
    version: int
    line: int
    character: int


@dataclass(frozen=True, slots=True)
class Resting:
    """A resting place the server accepted: the document's key, its version and the offset
    in the text of that version."""

    key: str
    uri: str
    version: int
    line: int
    character: int
    offset: int
    at: float  # time.monotonic()

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "version": self.version,
            "position": {"line": self.line, "character": self.character},
        }


def _field(obj: Any, name: str) -> Any:
    """A field of params as pygls hands them over: a dict, or an object for methods it does
    not know."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse(params: Any) -> Hint | None:
    """The hint in a notification's params, or None when they are not of its shape."""
    doc, position = _field(params, "textDocument"), _field(params, "position")
    uri = _field(doc, "uri") if doc is not None else None
    version = _int(_field(doc, "version")) if doc is not None else None
    line = _int(_field(position, "line")) if position is not None else None
    character = _int(_field(position, "character")) if position is not None else None
    if not isinstance(uri, str) or version is None or line is None or character is None:
        return None
    return Hint(uri, version, line, character)


@dataclass(frozen=True, slots=True)
class OpenDocument:
    """What the server has of a document: its key, version, and where a position falls
    (None: not a position of its text)."""

    key: str
    version: int | None
    offset_of: Callable[[int, int], int | None]


class RestingPlaces:
    """The last resting place of each open document."""

    def __init__(self) -> None:
        self._by_key: dict[str, Resting] = {}
        self.latest: Resting | None = None
        self.ignored = 0

    def note(self, hint: Hint, doc: OpenDocument | None) -> Resting | None:
        """Keep the hint as the document's resting place; None (ignored) when the server does
        not have the document open, has another version of it, or the position is not in it."""
        why = ""
        offset = None
        if doc is None:
            why = "not open"
        elif doc.version != hint.version:
            why = f"version {hint.version}, the server has {doc.version}"
        else:
            offset = doc.offset_of(hint.line, hint.character)
            if offset is None:
                why = "not a position of the document"
        if doc is None or offset is None:
            self.ignored += 1
            log.debug("cursor hint for %s ignored: %s", hint.uri, why)
            return None
        resting = Resting(
            doc.key, hint.uri, hint.version, hint.line, hint.character, offset, time.monotonic()
        )
        self._by_key[doc.key] = resting
        self.latest = resting
        return resting

    def get(self, key: str) -> Resting | None:
        return self._by_key.get(key)

    def forget(self, key: str) -> None:
        """The document was closed."""
        self._by_key.pop(key, None)
        if self.latest is not None and self.latest.key == key:
            self.latest = None
