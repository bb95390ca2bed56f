from __future__ import annotations

import os

from airgap_lsp.context import WorkspaceIndex


def _write(root, rel, text: str | bytes) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def _names(index: WorkspaceIndex) -> set[str]:
    return {os.path.basename(p) for p in index.files()}


def test_index_respects_gitignore_size_and_binary(tmp_path):
    _write(tmp_path, ".gitignore", "build/\n*.gen.py\n!keep.gen.py\n")
    _write(tmp_path, "pkg/core.py", "def plan_route(a, b):\n    return a\n")
    _write(tmp_path, "pkg/.gitignore", "secret_*.py\n")
    _write(tmp_path, "pkg/secret_keys.py", "def leaked():\n    pass\n")
    _write(tmp_path, "build/out.py", "def built():\n    pass\n")
    _write(tmp_path, "x.gen.py", "def generated():\n    pass\n")
    _write(tmp_path, "keep.gen.py", "def kept_generated():\n    pass\n")
    _write(tmp_path, "node_modules/lib/index.js", "function vendored() {}\n")
    _write(tmp_path, "big.py", "def huge():\n    pass\n" + "# pad\n" * 2000)
    _write(tmp_path, "blob.py", b"def binary():\n    pass\n\x00\x01\x02")
    _write(tmp_path, "notes.txt", "def not_code(): pass\n")
    index = WorkspaceIndex(max_file_bytes=4096)
    index.add_root(str(tmp_path))
    index.refresh()
    assert _names(index) == {"core.py", "keep.gen.py", "big.py", "blob.py"}
    assert [d.name for d in index.lookup("plan_route")] == ["plan_route"]
    assert index.lookup("kept_generated")
    for hidden in ("leaked", "built", "generated", "vendored", "huge", "binary", "not_code"):
        assert index.lookup(hidden) == (), hidden


def test_incremental_refresh_and_file_updates(tmp_path):
    core = _write(tmp_path, "core.go", "package core\n\nfunc Alpha() int { return 1 }\n")
    _write(tmp_path, "util.go", "package core\n\nfunc Beta() int { return 2 }\n")
    index = WorkspaceIndex()
    index.add_root(str(tmp_path))
    assert index.refresh() == 2
    assert index.refresh() == 0  # nothing changed: nothing re-parsed
    with open(core, "w") as f:
        f.write("package core\n\nfunc Gamma(x int) int { return x }\n\n")
    assert index.refresh() == 1
    assert index.lookup("Alpha") == ()
    assert index.lookup("Gamma")[0].text == "func Gamma(x int) int { ... }"
    os.remove(core)
    index.refresh()
    assert index.lookup("Gamma") == ()
    new = _write(tmp_path, "late.go", "package core\n\nconst Delta = 4\n")
    index.update_file(new)
    assert index.lookup("Delta")[0].text == "const Delta = 4"
    index.remove_file(new)
    assert index.lookup("Delta") == ()


def test_gitignore_change_and_prefix_lookup_and_background(tmp_path):
    _write(tmp_path, "a.rs", "pub fn frob_alpha() {}\npub fn frob_beta() {}\n")
    _write(tmp_path, "b.rs", "pub fn unrelated() {}\n")
    index = WorkspaceIndex()
    index.add_root(str(tmp_path))
    index.refresh_in_background().join(timeout=30)
    assert [d.name for d in index.lookup_prefix("frob_")] == ["frob_alpha", "frob_beta"]
    ignore = _write(tmp_path, ".gitignore", "a.rs\n")
    index.update_file(ignore)
    assert index.lookup_prefix("frob_") == ()
    assert _names(index) == {"b.rs"}
