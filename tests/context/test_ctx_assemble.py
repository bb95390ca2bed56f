from __future__ import annotations

import pytest
from ctx_helpers import count_tokens, split_cursor

from airgap_lsp.context import ChunkRing, ContextRequest, OpenDocument, collect_context

LONG_PY = (
    "import os\nfrom shop.pricing import apply_discount\n\n\n"
    + "".join(f"def filler_{i}(x):\n    return x + {i}\n\n\n" for i in range(60))
    + "class Checkout:\n    def total(self, cart):\n"
    + "".join(f"        step_{i} = cart.items[{i}].price\n" for i in range(40))
    + "        return apply_discount(█)\n\n\ndef after():\n    return 0\n"
)
PRICING = (
    "def apply_discount(amount_cents, *, code, floor_cents=0):\n"
    '    """Apply a discount code."""\n'
    "    return max(amount_cents - 10, floor_cents)\n"
)
OTHER = "def unrelated_helper(a):\n    return a\n" * 30


def _request(budget: int, **kw) -> ContextRequest:
    text, offset = split_cursor(LONG_PY)
    kw.setdefault(
        "open_documents",
        [
            OpenDocument("shop/pricing.py", PRICING, "python"),
            OpenDocument("shop/other.py", OTHER, "python"),
        ],
    )
    return ContextRequest(
        text, offset, "shop/checkout.py", count_tokens, budget=budget, language_id="python", **kw
    )


def _total(req: ContextRequest, ctx) -> int:
    files = sum(
        count_tokens(f.path + "\n") + req.file_overhead_tokens + count_tokens(f.text)
        for f in ctx.files
    )
    return count_tokens(ctx.prefix) + count_tokens(ctx.suffix) + files


@pytest.mark.parametrize("budget", [40, 97, 256, 501, 1024, 3000])
def test_budget_respected_to_the_token(budget):
    ring = ChunkRing()
    ring.add("shop/cart.py", "class Cart:\n    items: list\n" * 10, 0)
    req = _request(budget, ring=ring)
    ctx = collect_context(req)
    assert _total(req, ctx) <= budget
    extra = int(budget * req.extra_fraction)
    assert ctx.report.extra_tokens <= extra
    assert count_tokens(ctx.prefix) == ctx.report.prefix_tokens
    assert ctx.report.prefix_tokens + ctx.report.suffix_tokens <= budget - extra
    assert ctx.report.prefix_tokens > ctx.report.suffix_tokens


def test_windows_are_line_aligned_and_contain_the_cursor_line():
    req = _request(400)
    ctx = collect_context(req)
    assert ctx.prefix.endswith("        return apply_discount(")
    assert ctx.suffix.startswith(")\n")
    assert req.text[ctx.window_start - 1] == "\n"
    assert req.text[ctx.window_end - 1] == "\n"
    # The window start sits on a multiple of 8 lines, so it survives small cursor moves.
    assert req.text.count("\n", 0, ctx.window_start) % 8 == 0


def test_head_has_imports_and_scope_headers_above_the_window():
    ctx = collect_context(_request(400))
    head = ctx.prefix.split("# ...\n")
    assert head[0] == "import os\nfrom shop.pricing import apply_discount\n"
    assert head[1] == "class Checkout:\n    def total(self, cart):\n"
    kinds = [(p.kind, p.line) for p in ctx.report.included if p.path == "shop/checkout.py"]
    assert kinds == [("import", 0), ("import", 1), ("scope", 244), ("scope", 245)]


def test_definition_and_files_ordering_is_stable_across_keystrokes():
    req = _request(
        1500,
        open_documents=[
            OpenDocument("shop/pricing.py", PRICING * 40, "python"),
            OpenDocument("shop/other.py", OTHER, "python"),
        ],
    )
    ctx = collect_context(req)
    paths = [f.path for f in ctx.files]
    assert paths == ["shop/other.py", "shop/pricing.py"]
    assert any(p.kind == "definition" and p.path == "shop/pricing.py" for p in ctx.report.included)
    # Type one more character: the extra files (the prompt's cacheable start) do not change.
    text = req.text[: req.offset] + "a" + req.text[req.offset :]
    later = collect_context(
        ContextRequest(
            text,
            req.offset + 1,
            req.path,
            count_tokens,
            budget=1500,
            language_id="python",
            open_documents=req.open_documents,
        )
    )
    assert later.files == ctx.files


def test_highest_priority_definition_survives_a_tight_extra_budget():
    ring = ChunkRing()
    ring.add("shop/cart.py", "class Cart:\n    items: list\n", 0)
    ctx = collect_context(_request(100, ring=ring))  # 40 tokens for extra files
    assert [f.path for f in ctx.files] == ["shop/pricing.py"]
    assert ctx.files[0].text.startswith("def apply_discount(amount_cents, *, code, floor_cents=0):")
    assert ctx.report.skipped >= 2


def test_ring_chunks_come_last_oldest_first_and_skip_the_window():
    text, offset = split_cursor(LONG_PY)
    ring = ChunkRing()
    ring.add("shop/a.py", "alpha = 1\nalpha_two = 2", 0)
    ring.add("shop/checkout.py", "        return apply_discount(", text[:offset].count("\n"))
    ring.add("shop/b.py", "beta = 1\nbeta_two = 2", 0)
    ctx = collect_context(_request(4000, ring=ring))
    assert [f.path for f in ctx.files][-2:] == ["shop/a.py", "shop/b.py"]
    assert not any(f.path == "shop/checkout.py" for f in ctx.files)


def test_near_copies_of_the_code_around_the_cursor_are_left_out():
    """Another file's copy of the lines being written (a duplicated file, an earlier version
    under another name) pulls the model into repeating it: a ring chunk or a small open
    document that similar to the cursor's surroundings stays out; others stay in."""
    text, offset = split_cursor(LONG_PY)
    row = text[:offset].count("\n")
    around = "\n".join(text.split("\n")[row - 10 : row + 4])
    ring = ChunkRing()
    ring.add("shop/checkout_copy.py", around, row - 10)
    ring.add("shop/a.py", "alpha = 1\nalpha_two = 2", 0)
    docs = [
        OpenDocument("shop/pricing.py", PRICING, "python"),
        OpenDocument("shop/checkout_old.py", around, "python"),
    ]
    ctx = collect_context(_request(4000, ring=ring, open_documents=docs))
    paths = [f.path for f in ctx.files]
    assert "shop/a.py" in paths and "shop/pricing.py" in paths
    assert "shop/checkout_copy.py" not in paths
    # The copy's definitions may stay (`def after():...`), its lines not.
    assert not any("step_35 = cart.items[35].price" in f.text for f in ctx.files)


def test_other_files_merely_viewed_stay_out_their_edits_come_in():
    ring = ChunkRing()
    ring.add("shop/viewed.py", "def unrelated_puzzle(grid):\n    return grid[0]", 0, kind="view")
    ring.add("shop/edited.py", "def being_written(x):\n    return x * 2", 0, kind="edit")
    ctx = collect_context(_request(4000, ring=ring))
    paths = [f.path for f in ctx.files]
    assert "shop/edited.py" in paths and "shop/viewed.py" not in paths


def test_unknown_language_degrades_to_plain_text():
    text = "Dear team,\n\nthe build is █ again.\nRegards\n"
    plain, offset = split_cursor(text)
    ring = ChunkRing()
    ring.add("notes/todo.txt", "fix the build\nship it", 0)
    ctx = collect_context(
        ContextRequest(
            plain,
            offset,
            "notes/mail.txt",
            count_tokens,
            budget=200,
            language_id="plaintext",
            ring=ring,
            open_documents=[OpenDocument("notes/other.txt", "x", "plaintext")],
        )
    )
    assert ctx.prefix == "Dear team,\n\nthe build is "
    assert ctx.suffix == " again.\nRegards\n"
    assert [f.path for f in ctx.files] == ["notes/todo.txt"]
    assert ctx.report.language is None and ctx.report.elapsed_ms >= 0


def test_workspace_root_makes_paths_relative(tmp_path):
    req = ContextRequest(
        "x = 1\n",
        6,
        str(tmp_path / "a.py"),
        count_tokens,
        budget=300,
        language_id="python",
        workspace_root=str(tmp_path),
        open_documents=[OpenDocument(str(tmp_path / "pkg" / "b.py"), "y = 2\n")],
    )
    ctx = collect_context(req)
    assert [f.path for f in ctx.files] == ["pkg/b.py"]
