"""One rule for related open documents; closing a document tells the definition cache and
the ring of recent chunks."""

from __future__ import annotations

from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.context import TextEdit
from airgap_lsp.context.assemble import ContextRequest, DefinitionCache, collect_context


def _provider(*docs: tuple[str, str, str, str]) -> ContextProvider:
    provider = ContextProvider()
    for uri, path, language_id, text in docs:
        provider.open(uri, path, language_id, text)
    return provider


def test_related_documents_share_the_language_family_or_the_language_id():
    p = _provider(
        ("file:///w/a.ts", "/w/a.ts", "typescript", "export const a = 1\n"),
        ("file:///w/b.js", "/w/b.js", "javascript", "const b = 2\n"),
        ("file:///w/c.py", "/w/c.py", "python", "c = 3\n"),
        ("file:///w/n.md", "/w/n.md", "markdown", "# notes\n"),
        ("file:///w/m.md", "/w/m.md", "markdown", "# more\n"),
    )
    assert [d.path for d in p.related("file:///w/a.ts", "typescript", "/w/a.ts")] == ["/w/b.js"]
    assert p.related("file:///w/c.py", "python", "/w/c.py") == []
    assert [d.path for d in p.related("file:///w/n.md", "markdown", "/w/n.md")] == ["/w/m.md"]


def test_closing_a_document_forgets_its_definitions():
    other = "def helper(x):\n    return x\n"
    p = _provider(("file:///w/b.py", "/w/b.py", "python", other))
    text = "def main():\n    helper(1)\n"
    p.collect("file:///w/a.py", text, len(text), "/w/a.py", "python", len, 2048, 1)
    assert p.definitions.document(("/w/b.py", "python"), other) is not None
    p.close("file:///w/b.py")
    assert p.definitions.document(("/w/b.py", "python"), other) is None


def test_the_cache_changes_nothing_but_time():
    other = "def helper(x):\n    return x\n"
    text = "import b\n\ndef main():\n    helper(1)\n"
    p = _provider(("file:///w/b.py", "/w/b.py", "python", other))
    docs = p.related("file:///w/a.py", "python", "/w/a.py")

    def request(cache: DefinitionCache | None) -> ContextRequest:
        return ContextRequest(
            text,
            len(text),
            "/w/a.py",
            len,
            language_id="python",
            open_documents=docs,
            definitions=cache,
        )

    cache = DefinitionCache()
    plain = collect_context(request(None))
    first, second = collect_context(request(cache)), collect_context(request(cache))
    assert (
        (plain.prefix, plain.files) == (first.prefix, first.files) == (second.prefix, second.files)
    )


def test_closing_a_document_takes_its_edits_out_of_other_documents_prompts():
    # The latency suite types a body in each file and closes it: with those earlier files'
    # edits in the next file's prompt the 1.5B answered HumanEval/2 with its line twice.
    p = _provider(("file:///w/b.py", "/w/b.py", "python", "x = 1\n"))
    p.change("file:///w/b.py", [TextEdit(6, 6, "def puzzle(grid):\n    return grid[0]\n")])
    p.open("file:///w/c.py", "/w/c.py", "python", "y = 2\n")
    p.change("file:///w/c.py", [TextEdit(6, 6, "def still_open(z):\n    return z\n")])
    text = "def main():\n    pass\n"

    def files() -> list[str]:
        ctx = p.collect("file:///w/a.py", text, len(text), "/w/a.py", "python", len, 4096, 1)
        return [f.path for f in ctx.files]

    assert "/w/b.py" in files()
    p.close("file:///w/b.py")
    assert "/w/b.py" not in files()
    assert "/w/c.py" in files()  # an open document still counts
