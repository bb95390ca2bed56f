"""`airgap-lsp demo`: the real server as a subprocess, driven over stdio as an editor would.

Owns the demo script: start `airgap-lsp serve`, initialize like a client with inline
completion, open a sample file, ask for ghost text at the cursor, print what the editor would
show with latency and speed, then type the first characters of the suggestion and ask again
(the warm path an editor sees while the user types), and last ask at a new place where the
cursor rested a moment first (pre-warmed, as with our editor clients' cursor hints).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

SAMPLE = (
    '''from typing import List


def moving_average(values: List[float], window: int) -> List[float]:
    """Return the averages of every run of `window` consecutive values, in order.

    >>> moving_average([1.0, 2.0, 3.0, 4.0], 2)
    [1.5, 2.5, 3.5]
    >>> moving_average([5.0], 3)
    []
    """
'''
    + "    \n"
)
SAMPLE_LINE, SAMPLE_COL = 11, 4  # 0-based: the empty body line, after its indentation
# A second place the cursor rests at before the user asks there (pre-warming).
RESTING = (
    "def word_counts(text: str) -> dict:\n"
    '    """Count how often each lower-cased word occurs in `text`."""\n'
    "    \n"
)
RESTING_LINE, RESTING_COL = 2, 4
REST_S = 3.0  # how long the cursor rests there before the user asks

DIM, BOLD, RESET = "\033[2m", "\033[1m", "\033[0m"


def _style(text: str, code: str) -> str:
    return f"{code}{text}{RESET}" if sys.stdout.isatty() else text


async def _demo(args: argparse.Namespace) -> int:
    if args.file:
        path = Path(args.file).resolve()
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        line = (args.line or len(lines)) - 1
        col = min(args.col - 1, len(lines[line])) if line < len(lines) else 0
    else:
        path = Path.cwd() / "moving_average.py"
        text, line, col = SAMPLE, SAMPLE_LINE, SAMPLE_COL
    uri = path.as_uri()
    status: dict[str, Any] = {}
    ready = asyncio.Event()
    client = LanguageClient("airgap-demo", "1")

    @client.feature("airgap/status")
    def on_status(params: Any) -> None:
        state = getattr(params, "state", None) or (
            params.get("state") if isinstance(params, dict) else None
        )
        status["state"] = state
        status["message"] = getattr(params, "message", "")
        status["last"] = getattr(params, "lastCompletion", None)
        if state in ("ready", "error"):
            ready.set()

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def on_message(params: types.ShowMessageParams) -> None:
        print(f"[server] {params.message}", file=sys.stderr)

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def on_progress_create(_params: Any) -> None:
        return None

    @client.feature(types.PROGRESS)
    def on_progress(params: types.ProgressParams) -> None:
        value = params.value
        message = getattr(value, "message", None) or getattr(value, "title", None)
        if message:
            print(f"[progress] {message}", file=sys.stderr)

    t_start = time.monotonic()
    await client.start_io(sys.executable, "-m", "airgap_lsp.lsp", "serve", "--log-level", "warning")
    await client.initialize_async(
        types.InitializeParams(
            process_id=None,
            root_uri=path.parent.as_uri(),
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True),
                text_document=types.TextDocumentClientCapabilities(
                    inline_completion=types.InlineCompletionClientCapabilities()
                ),
            ),
        )
    )
    client.initialized(types.InitializedParams())
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), args.timeout)
    except TimeoutError:
        print("error: the server did not get ready in time", file=sys.stderr)
        return 1
    if status.get("state") == "error":
        print(f"error: {status.get('message')}", file=sys.stderr)
        return 1
    load_s = time.monotonic() - t_start
    print(_style(f"server ready in {load_s:.1f} s ({status.get('message')})", BOLD))

    async def ask(cur_line: int, cur_col: int) -> tuple[str | None, float]:
        t0 = time.monotonic()
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=cur_line, character=cur_col),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            )
        )
        ms = (time.monotonic() - t0) * 1000
        items = result.items if isinstance(result, types.InlineCompletionList) else result or []
        if not items:
            return None, ms
        insert = items[0].insert_text
        return (insert if isinstance(insert, str) else insert.value), ms

    suggestion, first_ms = await ask(line, col)
    lines = text.split("\n")
    before = "\n".join([*lines[:line], lines[line][:col]])
    after = lines[line][col:]
    print(_style(f"--- {path.name}: ghost text at line {line + 1}, column {col + 1} ---", BOLD))
    print(before + _style(suggestion or "(no suggestion)", DIM) + after)
    print(_style("---", BOLD))
    print(f"first request: {first_ms:.0f} ms end to end through the LSP")
    await asyncio.sleep(0.05)  # the status notification follows the response
    last = status.get("last")
    if last is not None:
        get = (lambda k: getattr(last, k, None)) if not isinstance(last, dict) else last.get
        print(
            f"  prompt {get('promptTokens')} tokens in {get('promptMs')} ms; "
            f"{get('generatedTokens')} tokens generated in {get('predictMs')} ms = "
            f"{get('tokensPerSecond')} tok/s; drafts accepted {get('accepted')}/{get('drafted')}"
        )
    if suggestion:
        # The user types the first word of the suggestion; the editor asks again.
        typed = suggestion[: max(1, len(suggestion.split()[0]) if suggestion.split() else 1)]
        new_text = before + typed + after + "\n" + "\n".join(lines[line + 1 :])
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=new_text)],
            )
        )
        typed_lines = typed.split("\n")
        new_line = line + len(typed_lines) - 1
        new_col = (col if len(typed_lines) == 1 else 0) + len(typed_lines[-1])
        second, second_ms = await ask(new_line, new_col)
        print(
            f"after typing {typed!r}: {second_ms:.0f} ms "
            f"({'continues: ' + repr(second[:40]) if second else 'no suggestion'})"
        )
    if suggestion:
        # Another place: the cursor rests there a moment first (our editor clients send
        # `airgap/cursor`), and the server prepares the suggestion while the user reads.
        uri = path.with_name("word_counts.py").as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, RESTING))
        )
        where = {"line": RESTING_LINE, "character": RESTING_COL}
        client.protocol.notify(
            "airgap/cursor", {"textDocument": {"uri": uri, "version": 1}, "position": where}
        )
        await asyncio.sleep(REST_S)
        warm, warm_ms = await ask(RESTING_LINE, RESTING_COL)
        print(
            f"a new place where the cursor rested {REST_S:.0f} s first (pre-warmed): "
            f"{warm_ms:.0f} ms, against {first_ms:.0f} ms cold above "
            f"({'shows: ' + repr(warm[:40]) if warm else 'no suggestion'})"
        )
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return 0 if suggestion else 1


def run_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))
