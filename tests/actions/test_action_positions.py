"""Positions, URIs and versions of code-action edits, through the real server over stdio with a
canned model (tests.actions.canned_server): every range the server sends is checked against a
reference text model written from the LSP specification (tests.actions.canned_client).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.uris import from_fs_path

from airgap_lsp.completion.actions import DOCSTRING, FIX, TESTS
from tests.actions.canned_client import (
    ANSWER_S,
    actions_at,
    apply,
    caps,
    change_doc,
    edits_for,
    message_containing,
    open_doc,
    range_of,
    resolve,
    session,
)
from tests.e2e.lsp_helpers import inline_params, items_of

# A form feed, U+2028 and a CR-only line before the code: str.splitlines would break lines at
# the first two and LSP clients do not; the astral characters make UTF-16 columns differ from
# code points.
TEXT = (
    "import os\f# page two\n"
    "NOTE = 'a\u2028b'\n"
    "# an old Mac line\r"
    "S = '😀'  # astral\r\n"
    "\n"
    "def add(a, b):\n"
    "    return '😀😀' + a + b\n"
    "\n"
    "def total(xs):\n"
    "    t = 0\n"
    "    return totl\n"
)
DOCSTRING_LINE = '    """Canned docstring."""\n'


@pytest.mark.parametrize("client_name", ["visual-studio-code", "neovim"])
async def test_incremental_edits_and_action_ranges_follow_lsp_line_ends(client_name: str):
    # pytest-lsp's neovim negotiates UTF-8 positions, VS Code UTF-16.
    encoding = "utf-8" if client_name == "neovim" else "utf-16"
    uri = "file:///w/fields.py"
    async with session(caps(client_name)) as client:
        open_doc(client, uri, TEXT)
        text = TEXT
        # Edits after the form feed, the U+2028 and the CR-only line, after an emoji.
        at = text.index("a + b")
        text = change_doc(client, uri, 2, text, at, at + 5, "a - b", encoding)
        at = text.index("    t = 0")
        text = change_doc(client, uri, 3, text, at, at, "    # sum\n", encoding)
        at = text.index("def add")
        actions = await actions_at(client, uri, range_of(text, at + 4, at + 4, encoding))
        assert "Add docstring to `add` (AI)" in [a.title for a in actions]
        resolved = await resolve(client, actions, DOCSTRING)
        edits = edits_for(resolved.edit, uri)
        assert edits, client.messages
        expected = text.replace("def add(a, b):\n", "def add(a, b):\n" + DOCSTRING_LINE)
        assert apply(text, edits, encoding) == expected

        at = text.index("totl")
        problem = types.Diagnostic(
            range=range_of(text, at, at + 4, encoding), message="undefined name 'totl'"
        )
        actions = await actions_at(client, uri, problem.range, [problem])
        resolved = await resolve(client, actions, FIX)
        edits = edits_for(resolved.edit, uri)
        assert edits, client.messages
        assert apply(text, edits, encoding) == text.replace("return totl", "return t")


URIS = [
    "file:///w/my%20project/spaced.py",
    "file:///w/caf%C3%A9/%E6%97%A5%E6%9C%AC.py",
    "file:///c%3A/Users/me/project/win.py",
    "file:///C%3a/Users/me/project/upper.py",
]


@pytest.mark.parametrize("uri", URIS)
async def test_percent_encoded_uris_get_completions_and_actions(uri: str):
    text = "def add(a, b):\n    return a + b\n\nx = "
    async with session() as client:
        open_doc(client, uri, text)
        result = await asyncio.wait_for(
            client.text_document_inline_completion_async(inline_params(uri, 3, 4)), ANSWER_S
        )
        assert len(items_of(result)) == 1
        actions = await actions_at(client, uri, range_of(text, 4, 4))
        resolved = await resolve(client, actions, DOCSTRING)
        edits = edits_for(resolved.edit, uri)  # addressed to the URI as the client sent it
        assert apply(text, edits) == text.replace("\n", "\n" + DOCSTRING_LINE, 1)


async def test_a_document_is_found_however_its_uri_is_spelled():
    text = "def add(a, b):\n    return a + b\n\nx = "
    async with session() as client:
        open_doc(client, "file:///c%3A/Users/me/spelled.py", text)
        for spelling in ("file:///C:/Users/me/spelled.py", "file:///c%3a/Users/me/spelled.py"):
            result = await asyncio.wait_for(
                client.text_document_inline_completion_async(inline_params(spelling, 3, 4)),
                ANSWER_S,
            )
            assert len(items_of(result)) == 1, spelling


async def test_tests_of_an_encoded_uri_go_to_the_open_tests_document_with_its_version(
    tmp_path: Path,
):
    root = tmp_path / "my project"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    on_disk = "import os\n"
    (root / "tests" / "test_calc.py").write_text(on_disk)
    in_editor = "import calc\n\n\ndef test_old():\n    assert calc.add(1, 2) == 3\n# é😀\n"
    module_uri = from_fs_path(str(root / "calc.py"))
    tests_uri = from_fs_path(str(root / "tests" / "test_calc.py"))
    assert module_uri is not None and tests_uri is not None and "%20" in tests_uri
    async with session(folders=[from_fs_path(str(root))]) as client:
        text = (root / "calc.py").read_text()
        open_doc(client, module_uri, text)
        open_doc(client, tests_uri, in_editor, version=7)
        actions = await actions_at(client, module_uri, range_of(text, 4, 4))
        resolved = await resolve(client, actions, TESTS)
        assert resolved.edit is not None, client.messages
        changes = resolved.edit.document_changes or []
        targets = [c for c in changes if isinstance(c, types.TextDocumentEdit)]
        assert [t.text_document.uri for t in targets] == [tests_uri]
        assert targets[0].text_document.version == 7  # the editor's copy, not the disk's
        assert not [c for c in changes if isinstance(c, types.CreateFile)]
        new = apply(in_editor, edits_for(resolved.edit, tests_uri))
        assert new.startswith(in_editor) and "def test_add():" in new[len(in_editor) :]


# -- stale edits --------------------------------------------------------------------------------


@pytest.mark.parametrize("document_changes", [True, False])
async def test_resolve_refuses_when_the_document_changed_since_the_listing(
    document_changes: bool,
):
    uri = "file:///w/stale.py"
    text = "def add(a, b):\n    return a + b\n"
    async with session(caps(document_changes=document_changes)) as client:
        open_doc(client, uri, text)
        actions = await actions_at(client, uri, range_of(text, 4, 4))
        change_doc(client, uri, 2, text, 0, 0, "import os\n\n\n")
        resolved = await resolve(client, actions, DOCSTRING)
        assert resolved.edit is None
        await message_containing(client, "changed")


async def test_resolve_refuses_after_close_and_reopen_with_the_same_version():
    uri = "file:///w/reopened.py"
    text = "def add(a, b):\n    return a + b\n"
    async with session() as client:
        open_doc(client, uri, text)
        actions = await actions_at(client, uri, range_of(text, 4, 4))
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        open_doc(client, uri, text, version=1)
        resolved = await resolve(client, actions, DOCSTRING)
        assert resolved.edit is None
        await message_containing(client, "changed")


# -- small findings -----------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["", "\n", "   "])
async def test_a_diagnostic_with_an_empty_message_still_lists_its_fix(message: str):
    uri = "file:///w/empty.py"
    text = "def total(xs):\n    return totl\n"
    async with session() as client:
        open_doc(client, uri, text)
        at = text.index("totl")
        problem = types.Diagnostic(range=range_of(text, at, at + 4), message=message)
        actions = await actions_at(client, uri, problem.range, [problem])
        assert any(a.title.startswith("Fix with AI") for a in actions), actions


async def test_explanations_are_deleted_when_the_server_exits():
    uri = "file:///w/explained.py"
    text = "def add(a, b):\n    return a + b\n"
    async with session() as client:
        open_doc(client, uri, text)
        for _ in range(2):
            await asyncio.wait_for(
                client.workspace_execute_command_async(
                    types.ExecuteCommandParams(
                        command="airgap.explain",
                        arguments=[uri, range_of(text, 4, 4)],
                    )
                ),
                ANSWER_S,
            )
        shown = [d.uri for d in client.shown_documents]
        assert len(shown) == 2, client.messages
        paths = [d.removeprefix("file://") for d in shown]
        assert all(os.path.exists(p) for p in paths)
        await client.shutdown_session()
    assert not any(os.path.exists(p) for p in paths)
    assert not os.path.exists(os.path.dirname(paths[0]))
