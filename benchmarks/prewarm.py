"""The first suggestion in a file just opened, with and without pre-warming at the cursor.

A realistic first request: the user opens a file (a HumanEval+ prompt, its body still to
write), the cursor rests at the body's first line for a moment (`--rest-s`, reading the
docstring), then the editor asks for a suggestion there. Our clients send `airgap/cursor` when
the cursor rests; other clients do not. Both ways run in one server with the default models,
alternating task by task (each task a new document, so no prompt is cached from another):
"cold" asks without a hint, "pre-warmed" sends the hint when the file opens. Reported: the
latency of the request (from asking to the answer) and whether a suggestion came.

    python -m benchmarks.prewarm [--tasks 10] [--rest-s 3] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from benchmarks.harness import load_humaneval_plus, markdown_table
from benchmarks.harness.progress import Progress
from benchmarks.harness.revision import git_revision
from benchmarks.harness.stats import percentile


async def run(tasks: int, rest_s: float, offset: int) -> dict[str, Any]:
    client = LanguageClient("airgap-prewarm", "1")
    ready = asyncio.Event()

    @client.feature("airgap/status")
    def status(params: Any) -> None:
        state = params.get("state") if isinstance(params, dict) else getattr(params, "state", "")
        if state == "ready":
            ready.set()

    await client.start_io(sys.executable, "-m", "airgap_lsp.lsp", "serve", "--log-level", "warning")
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                text_document=types.TextDocumentClientCapabilities(
                    inline_completion=types.InlineCompletionClientCapabilities()
                )
            )
        )
    )
    client.initialized(types.InitializedParams())
    await asyncio.wait_for(ready.wait(), 600)
    rows: list[dict[str, Any]] = []
    humaneval = load_humaneval_plus()[offset : offset + tasks]
    with Progress(len(humaneval), "tasks") as progress:
        for i, task in enumerate(humaneval):
            way = "pre-warmed" if i % 2 == 0 else "cold"
            text = task.prompt + "    \n"
            line = text.count("\n") - 1
            uri = f"file:///prewarm/{task.task_id.replace('/', '_')}.py"
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text))
            )
            if way == "pre-warmed":
                client.protocol.notify(
                    "airgap/cursor",
                    {
                        "textDocument": {"uri": uri, "version": 1},
                        "position": {"line": line, "character": 4},
                    },
                )
            await asyncio.sleep(rest_s)
            t0 = time.monotonic()
            result = await client.text_document_inline_completion_async(
                types.InlineCompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=line, character=4),
                    context=types.InlineCompletionContext(
                        trigger_kind=types.InlineCompletionTriggerKind.Automatic
                    ),
                )
            )
            ms = (time.monotonic() - t0) * 1000
            items = result.items if isinstance(result, types.InlineCompletionList) else result
            rows.append(
                {"task": task.task_id, "way": way, "ms": round(ms, 1), "shown": bool(items)}
            )
            client.text_document_did_close(
                types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri))
            )
            progress.advance(status=f"{way} {ms:.0f} ms")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    summary = {}
    for way in ("cold", "pre-warmed"):
        ms = [r["ms"] for r in rows if r["way"] == way]
        summary[way] = {
            "n": len(ms),
            "p50_ms": round(percentile(ms, 50), 1),
            "max_ms": max(ms),
            "shown": sum(r["shown"] for r in rows if r["way"] == way),
        }
    return {"rows": rows, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--rest-s", type=float, default=3.0)
    parser.add_argument("--offset", type=int, default=20, help="first HumanEval+ task used")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.tasks, args.rest_s, args.offset))
    result |= {
        "benchmark": "prewarm",
        "revision": git_revision(),
        "rest_s": args.rest_s,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prewarm.json").write_text(json.dumps(result, indent=2) + "\n")
    summary = result["summary"]
    lines = [
        f"First suggestion in a file just opened, cursor resting {args.rest_s} s "
        "before the editor asks (one server, default models, alternating).",
        "",
        markdown_table(
            ["way", "n", "p50 ms", "max ms", "shown"],
            [[w, s["n"], s["p50_ms"], s["max_ms"], s["shown"]] for w, s in summary.items()],
        ).rstrip("\n"),
    ]
    (args.out / "prewarm.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
