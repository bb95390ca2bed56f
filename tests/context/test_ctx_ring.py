from __future__ import annotations

from airgap_lsp.context import ChunkRing
from airgap_lsp.context.ring import similarity

BLOCK = "\n".join(f"line {i} = compute({i})" for i in range(20))


def test_similarity_counts_shared_lines():
    assert similarity("a\nb\nc\nd", "a\nb\nc\nd") == 1.0
    assert similarity("a\nb", "c\nd") == 0.0
    assert similarity("a\nb\nc\nd", "a\nb\nc\nx") == 0.75


def test_near_duplicate_replaces_existing_chunk():
    ring = ChunkRing(max_chunks=4, similarity=0.9)
    ring.add("a.py", BLOCK, 0)
    ring.add("b.py", "other = 1\nthing = 2", 0)
    edited = BLOCK.replace("line 7 = compute(7)", "line 7 = compute(70)")  # 19/20 lines shared
    assert similarity(BLOCK, edited) >= 0.9
    ring.add("a.py", edited, 0)
    chunks = ring.chunks()
    assert [c.path for c in chunks] == ["b.py", "a.py"]
    assert chunks[-1].text == edited


def test_dissimilar_chunks_are_kept_and_oldest_dropped_when_full():
    ring = ChunkRing(max_chunks=3)
    for i in range(5):
        ring.add(f"f{i}.py", f"def f{i}():\n    return {i}\n", 10 * i)
    assert [c.path for c in ring.chunks()] == ["f2.py", "f3.py", "f4.py"]
    assert ring.chunks()[0].start_line == 20


def test_blank_chunk_ignored_and_add_around_cuts_centred_lines():
    ring = ChunkRing(chunk_lines=4)
    assert not ring.add("a.py", "  \n\n")
    doc = "\n".join(f"x{i}" for i in range(10))
    assert ring.add_around("a.py", doc, 5, kind="view")
    (chunk,) = ring.chunks()
    assert (chunk.start_line, chunk.text, chunk.kind) == (3, "x3\nx4\nx5\nx6", "view")
    assert chunk.end_line == 6
    ring.remove_path("a.py")
    assert len(ring) == 0
