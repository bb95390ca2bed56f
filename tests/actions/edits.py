"""Applying a WorkspaceEdit to a text, as an editor would (ASCII texts: columns are indices)."""

from __future__ import annotations

from lsprotocol import types


def text_edits_for(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    out: list[types.TextEdit] = []
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri:
            out += [e for e in change.edits if isinstance(e, types.TextEdit)]
    out += list((edit.changes or {}).get(uri, []))
    return out


def _offset(text: str, position: types.Position) -> int:
    lines = text.splitlines(keepends=True)
    return sum(len(line) for line in lines[: position.line]) + position.character


def apply_workspace_edit(text: str, uri: str, edit: types.WorkspaceEdit) -> str:
    edits = text_edits_for(edit, uri)
    spans = sorted(
        ((_offset(text, e.range.start), _offset(text, e.range.end), e.new_text) for e in edits),
        reverse=True,
    )
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text
