"""Context collection speed on a generated 5,000-line Python file (p50/p95 in ms).

Each sample applies a one-character edit through `SyntaxCache` (incremental re-parse), then
runs `collect_context` at a cursor that jumps to a different function every time (the
worst case for the caches), with an open document, a chunk ring and a workspace index of
200 files. Run: python benchmarks/context_speed.py [--samples N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from airgap_lsp.context import (
    ChunkRing,
    ContextRequest,
    OpenDocument,
    SyntaxCache,
    TextEdit,
    WorkspaceIndex,
    collect_context,
    language_for,
)


def big_file(lines: int = 5000) -> tuple[str, int]:
    parts = ["import os\nimport json\nfrom typing import Any\n\n"]
    n = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(
            f'''class Widget{n}:
    """Widget number {n}."""

    def __init__(self, size: int) -> None:
        self.size = size

    def grow_{n}(self, amount: int, *, clamp: bool = False) -> int:
        """Grow it."""
        total = self.size + amount
        if clamp and total > 100:
            total = 100
        return total


def helper_{n}(value: int) -> int:
    w = Widget{n}(value)
    return w.grow_{n}(value, clamp=True) + helper_{max(n - 1, 0)}(value - 1) + lib_fn_{n % 200}(1)


'''
        )
        n += 1
    return "".join(parts), n


def count_tokens(text: str) -> int:
    return len(text) // 4 + text.count("\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    text, n = big_file()
    with tempfile.TemporaryDirectory() as root:
        for i in range(200):
            Path(root, f"lib{i}.py").write_text(
                f"def lib_fn_{i}(x, *, scale={i}):\n    '''Scale x.'''\n    return x * scale\n"
            )
        index = WorkspaceIndex()
        index.add_root(root)
        t0 = time.perf_counter()
        index.refresh()
        index_ms = (time.perf_counter() - t0) * 1000
        path = str(Path(root, "big.py"))
        cache = SyntaxCache()
        cache.open(path, text, language_for("python"))
        cache.tree(path)
        other = OpenDocument(str(Path(root, "other.py")), "def frob(a, b):\n    return a\n" * 50)
        ring = ChunkRing()
        ring.add_around(other.path, other.text, 10)
        times: list[float] = []
        for k in range(args.samples):
            current = cache.text(path) or ""
            off = current.index("\n", current.index(f"def helper_{(k * 37) % n}(") + 40)
            t0 = time.perf_counter()
            cache.change(path, [TextEdit(off, off, " ")])
            doc = cache.document(path)
            assert doc is not None
            collect_context(
                ContextRequest(
                    doc.text,
                    off + 1,
                    path,
                    count_tokens,
                    budget=2048,
                    language_id="python",
                    tree=doc.tree,
                    open_documents=[other],
                    ring=ring,
                    index=index,
                    workspace_root=root,
                )
            )
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"file: {text.count(chr(10))} lines; index of 200 files built in {index_ms:.0f} ms")
    print(
        f"edit + incremental parse + collect_context: p50 {statistics.median(times):.2f} ms, "
        f"p95 {p95:.2f} ms, max {times[-1]:.2f} ms over {len(times)} samples"
    )


if __name__ == "__main__":
    main()
