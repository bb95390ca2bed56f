"""Where generated tests go, what the server reads on the way, and clients that never answer:
the real server over stdio with a canned model (tests.actions.canned_server).
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from airgap_lsp.completion.actions import DOCSTRING, TESTS, python_module
from tests.actions.canned_client import (
    actions_at,
    kind_of,
    message_containing,
    open_doc,
    range_of,
    resolve,
    session,
)

MODULE = "def add(a, b):\n    return a + b\n"
GUARD_S = 20.0  # an answer later than this means the server hung


def _uri(path: Path) -> str:
    uri = from_fs_path(str(path))
    assert uri is not None
    return uri


def _created(edit: types.WorkspaceEdit | None) -> list[types.CreateFile]:
    changes = edit.document_changes if edit is not None else None
    return [c for c in changes or [] if isinstance(c, types.CreateFile)]


async def _tests_edit(
    module: Path, folders: list[Path], text: str = MODULE
) -> tuple[types.WorkspaceEdit | None, list[str]]:
    """Resolve 'Generate unit tests' for `module`: the edit and the messages shown."""
    async with session(folders=[_uri(f) for f in folders]) as client:
        open_doc(client, _uri(module), text)
        actions = await actions_at(client, _uri(module), range_of(text, 4, 4))
        resolved = await resolve(client, actions, TESTS)
        await asyncio.sleep(0.1)
        return resolved.edit, [m.message for m in client.messages]


def _inside(uri: str, root: Path) -> bool:
    path = to_fs_path(uri)
    assert path is not None
    real = os.path.realpath(path)
    return real.startswith(os.path.realpath(root) + os.sep)


# -- where the tests file goes --------------------------------------------------------------


@pytest.mark.parametrize("uri", ["untitled:Untitled-1", "git:/w/calc.py?%7B%22ref%22%3A%22%22%7D"])
async def test_non_file_documents_never_become_paths(uri: str):
    async with session() as client:
        open_doc(client, uri, MODULE)
        actions = await actions_at(client, uri, range_of(MODULE, 4, 4))
        assert DOCSTRING in [kind_of(a) for a in actions]
        assert TESTS not in [kind_of(a) for a in actions]


async def test_tests_are_refused_for_a_file_outside_every_workspace_folder(tmp_path: Path):
    (tmp_path / "ws").mkdir()
    outside = tmp_path / "outside" / "calc.py"
    outside.parent.mkdir()
    outside.write_text(MODULE)
    edit, messages = await _tests_edit(outside, [tmp_path / "ws"])
    assert edit is None
    assert any("workspace folder" in m for m in messages), messages


async def test_a_tests_symlink_pointing_outside_is_not_followed(tmp_path: Path):
    ws, elsewhere = tmp_path / "ws", tmp_path / "elsewhere"
    ws.mkdir()
    elsewhere.mkdir()
    (ws / "tests").symlink_to(elsewhere, target_is_directory=True)
    (ws / "calc.py").write_text(MODULE)
    edit, messages = await _tests_edit(ws / "calc.py", [ws])
    created = _created(edit)
    assert created, messages
    assert all(_inside(c.uri, ws) for c in created), created


async def test_an_existing_tests_file_that_is_not_open_is_never_clobbered(tmp_path: Path):
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "calc.py").write_text(MODULE)
    (ws / "tests" / "test_calc.py").write_text("def test_kept():\n    pass\n")
    edit, messages = await _tests_edit(ws / "calc.py", [ws])
    assert edit is not None, messages
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit):
            path = to_fs_path(change.text_document.uri)
            # An unversioned edit of a file the editor has not opened could land anywhere.
            assert path is not None and not os.path.exists(path), change
    for create in _created(edit):
        options = create.options or types.CreateFileOptions()
        assert not options.overwrite and not options.ignore_if_exists, create
        path = to_fs_path(create.uri)
        assert path is not None and not os.path.exists(path), create
    assert edit.changes is None


# -- nothing blocks the event loop ------------------------------------------------------------


@pytest.mark.parametrize("fifo", ["tests/test_other.py", "tests/test_calc.py"])
async def test_a_fifo_in_the_workspace_does_not_hang_the_tests_action(tmp_path: Path, fifo: str):
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "calc.py").write_text(MODULE)
    os.mkfifo(ws / fifo)
    edit, messages = await asyncio.wait_for(_tests_edit(ws / "calc.py", [ws]), GUARD_S)
    assert edit is not None, messages
    for create in _created(edit):
        assert to_fs_path(create.uri) != str(ws / fifo)


async def test_listing_actions_of_a_huge_document_leaves_the_loop_free():
    uri = "file:///w/huge.py"
    text = "def add(a, b):\n    return a + b\n" * 160_000  # 5 MB
    async with session() as client:
        open_doc(client, uri, text)
        listing = asyncio.ensure_future(actions_at(client, uri, range_of(text, 4, 4)))
        ping = asyncio.ensure_future(client.protocol.send_request_async("airgap/actionStats", {}))
        done, _ = await asyncio.wait({listing, ping}, return_when=asyncio.FIRST_COMPLETED)
        assert ping in done and listing not in done  # answered while the document parses
        assert "Add docstring to `add` (AI)" in [a.title for a in await listing]


def test_python_module_stops_at_the_filesystem_root(monkeypatch: pytest.MonkeyPatch):
    # A machine with /__init__.py: every directory up to / looks like a package.
    monkeypatch.setattr(os.path, "isfile", lambda p: os.path.basename(p) == "__init__.py")
    result: list[str] = []
    worker = threading.Thread(
        target=lambda: result.append(python_module("/srv/app/pkg/mod.py")), daemon=True
    )
    worker.start()
    worker.join(5)
    assert result and result[0].endswith("pkg.mod"), result


# -- clients that never answer -------------------------------------------------------------------


async def _never(ls: Any, params: Any) -> None:
    await asyncio.Event().wait()


NEVER = {
    types.WINDOW_WORK_DONE_PROGRESS_CREATE: _never,
    types.WINDOW_SHOW_DOCUMENT: _never,
    types.WORKSPACE_APPLY_EDIT: _never,
    types.WINDOW_SHOW_MESSAGE_REQUEST: _never,
}


async def test_a_client_that_never_answers_does_not_hang_any_action():
    uri = "file:///w/silent.py"
    text = "def add(a, b):\n    x = a + b\n    return x\n"
    async with session(features=NEVER, env={"AIRGAP_CANNED_CLIENT_TIMEOUT_S": "1"}) as client:
        open_doc(client, uri, text)
        actions = await actions_at(client, uri, range_of(text, 4, 4))
        # Progress: window/workDoneProgress/create is never answered.
        resolved = await asyncio.wait_for(
            client.code_action_resolve_async(next(a for a in actions if kind_of(a) == DOCSTRING)),
            GUARD_S,
        )
        assert resolved.edit is not None, client.messages
        selection = range_of(text, text.index("    x"), text.index("    return"))

        async def command(name: str, *extra: Any) -> None:
            params = types.ExecuteCommandParams(command=name, arguments=[uri, selection, *extra])
            await asyncio.wait_for(client.workspace_execute_command_async(params), GUARD_S)

        await command("airgap.explain")  # window/showDocument never answered
        await message_containing(client, "It does what it says.")
        await command("airgap.rewriteSelection", "Rename x")  # workspace/applyEdit
        await message_containing(client, "did not answer")
        await command("airgap.rewriteSelection")  # window/showMessageRequest
