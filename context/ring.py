"""Ring buffer of recently edited and viewed chunks of code (like llama.vim's extra context).

Chunks are a few dozen lines cut around a position. A new chunk that is near-identical
(line-overlap similarity ≥ `similarity`) to chunks already in the ring evicts them, so
repeatedly editing the same region keeps one fresh copy instead of many stale ones; the ring
keeps the `max_chunks` most recent chunks, oldest first.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Literal

ChunkKind = Literal["edit", "view"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """A chunk of a file: its path, zero-based first line, text and why it was recorded."""

    path: str
    start_line: int
    text: str
    kind: ChunkKind

    @property
    def end_line(self) -> int:
        return self.start_line + self.text.count("\n")


def similarity(a: str, b: str) -> float:
    """2·|common lines| / (|lines a| + |lines b|), counting repeated lines as a multiset."""
    la, lb = a.split("\n"), b.split("\n")
    common = sum((Counter(la) & Counter(lb)).values())
    return 2.0 * common / (len(la) + len(lb))


class ChunkRing:
    """Most recent chunks, near-duplicates evicted; thread-safe."""

    def __init__(
        self, max_chunks: int = 16, chunk_lines: int = 32, similarity: float = 0.9
    ) -> None:
        self.max_chunks = max_chunks
        self.chunk_lines = chunk_lines
        self.similarity = similarity
        self._chunks: list[Chunk] = []
        self._lock = threading.Lock()

    def add(self, path: str, text: str, start_line: int = 0, kind: ChunkKind = "edit") -> bool:
        """Record a chunk; returns False when it was too trivial to keep (blank)."""
        if not text.strip():
            return False
        chunk = Chunk(path, start_line, text, kind)
        with self._lock:
            self._chunks = [c for c in self._chunks if similarity(c.text, text) < self.similarity]
            self._chunks.append(chunk)
            if len(self._chunks) > self.max_chunks:
                del self._chunks[: len(self._chunks) - self.max_chunks]
        return True

    def add_around(self, path: str, document: str, line: int, kind: ChunkKind = "edit") -> bool:
        """Record the `chunk_lines` lines of `document` centred on zero-based `line`."""
        lines = document.split("\n")
        start = max(0, min(line - self.chunk_lines // 2, len(lines) - self.chunk_lines))
        text = "\n".join(lines[start : start + self.chunk_lines])
        return self.add(path, text, start, kind)

    def chunks(self) -> tuple[Chunk, ...]:
        """Snapshot of the ring, oldest first."""
        with self._lock:
            return tuple(self._chunks)

    def remove_path(self, path: str) -> None:
        """Forget every chunk of `path` (e.g. the file was deleted)."""
        with self._lock:
            self._chunks = [c for c in self._chunks if c.path != path]

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._chunks)
