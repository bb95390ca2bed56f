"""Stand-in language server for the editor-plugin tests.

Owns: a tiny pygls server that answers ``textDocument/inlineCompletion`` with
two deterministic items and sends ``airgap/status``, so the Neovim plugin can be
tested without the real airgap-lsp server or a model; it records the
``airgap/cursor`` hints it receives and returns them for ``stub/cursors``.
"""

from __future__ import annotations

import json
import sys
import time

from lsprotocol import types
from pygls.lsp.server import LanguageServer

# Item 1 is inserted at the cursor; item 2 carries a range so clients must cope
# with text that repeats what the user already typed.
TARGETS = ("result = a + b\n    return result", "return a + b")

server = LanguageServer("airgap-stub", "0.0.1")
# Reported in every status message so tests can check the client sent an object.
init_kind = "none"


def _status(state: str, latency: float | None) -> None:
    server.protocol.notify(
        "airgap/status",
        {
            "state": state,
            "message": f"stub init={init_kind}",
            "model": "stub-model",
            "modelSource": "ollama",
            "choice": "configured: ollama:stub:latest",
            "lastLatencyMs": latency,
        },
    )


@server.feature(types.INITIALIZE)
def _initialize(params: types.InitializeParams) -> None:
    global init_kind
    init_kind = type(params.initialization_options).__name__


@server.feature(types.INITIALIZED)
def _initialized(_params: types.InitializedParams) -> None:
    _status("ready", None)


# pygls only advertises inlineCompletionProvider when given options.
@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
def _inline(params: types.InlineCompletionParams) -> types.InlineCompletionList:
    started = time.perf_counter()
    doc = server.workspace.get_text_document(params.text_document.uri)
    pos = params.position
    line = doc.lines[pos.line] if pos.line < len(doc.lines) else ""
    before = line[: pos.character]
    typed = before.lstrip()
    indent = len(before) - len(typed)
    items: list[types.InlineCompletionItem] = []
    first, second = TARGETS
    if first.startswith(typed) and first != typed:
        items.append(types.InlineCompletionItem(insert_text=first[len(typed) :]))
    if second.startswith(typed) and second != typed:
        start = types.Position(line=pos.line, character=indent)
        items.append(
            types.InlineCompletionItem(insert_text=second, range=types.Range(start=start, end=pos))
        )
    _status("ready", round((time.perf_counter() - started) * 1000, 1))
    return types.InlineCompletionList(items=items)


# `airgap/cursor` hints as received, for the plugin's cursor test (asked for with `stub/cursors`).
cursors: list[dict] = []


@server.feature("airgap/cursor")
def _cursor(*args: object) -> None:  # pygls passes (server, params) to these
    params = args[-1]
    doc = getattr(params, "textDocument", None)
    pos = getattr(params, "position", None)
    cursors.append(
        {
            "uri": getattr(doc, "uri", None),
            "version": getattr(doc, "version", None),
            "line": getattr(pos, "line", None),
            "character": getattr(pos, "character", None),
            "at_ms": round(time.monotonic() * 1000),
        }
    )


@server.feature("stub/cursors")
def _cursors(*_args: object) -> list[dict]:
    return cursors


# `models --json` in the real CLI's shape: a present default, a missing default, an optional one.
MODELS = [
    {
        "name": "stub-model",
        "role": "target",
        "path": __file__,
        "state": "ready",
        "default": "target",
    },
    {
        "name": "stub-draft",
        "role": "draft",
        "path": "/nope/draft.gguf",
        "state": "missing",
        "default": "draft",
    },
    {
        "name": "stub-extra",
        "role": "either",
        "path": "/nope/extra.gguf",
        "state": "manual",
        "default": None,
    },
]

# Models found in other tools' stores, as `models --json` lists them beside the registry.
DISCOVERED = [
    {
        "name": "ollama:stub:latest",
        "source": "ollama",
        "usable": True,
        "problem": None,
        "location": "/nope/manifests/registry.ollama.ai/library/stub/latest",
        "architecture": "qwen35",
        "params": 9_000_000_000,
        "quantization": "Q4_K_M",
        "fim": True,
    },
    {
        "name": "ollama:broken:latest",
        "source": "ollama",
        "usable": False,
        "problem": "malformed manifest JSON",
        "location": "/nope/manifests/registry.ollama.ai/library/broken/latest",
    },
]
AUTO = {"target": "ollama:stub:latest", "draft": "", "reason": "stub reason"}

if __name__ == "__main__":
    if sys.argv[1:2] == ["models"]:
        listing = {"cacheDir": "/nope", "models": MODELS, "discovered": DISCOVERED}
        print(json.dumps({**listing, "speculation": [], "auto": AUTO}))
    else:
        server.start_io()
