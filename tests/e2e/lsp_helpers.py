"""Helpers for end-to-end tests that talk to the real server process over stdio."""

from __future__ import annotations

import os
import sys
from typing import Any

from lsprotocol import types

SERVER = [sys.executable, "-m", "airgap_lsp.lsp", "serve", "--log-level", "info"]


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRGAP_LSP_FAKE")}
    env.update(extra)
    return env


def open_doc(client: Any, uri: str, text: str, language: str = "python", version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=version, text=text
            )
        )
    )


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )


def items_of(result: Any) -> list[types.InlineCompletionItem]:
    if result is None:
        return []
    return list(result.items if isinstance(result, types.InlineCompletionList) else result)


def text_of(item: types.InlineCompletionItem) -> str:
    insert = item.insert_text
    return insert if isinstance(insert, str) else insert.value
