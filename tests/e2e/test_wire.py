"""The real server over stdio, driven by raw JSON-RPC (tests/fuzz/rpc.py): what a strict client
sees for the columns of each position encoding, for params that fail validation, for requests
without params and for positions inside a character.

The fake backend (AIRGAP_LSP_FAKE_BACKEND=1) serves completions and the fuzzer's debug request
(`airgap/debugDocument`) shows the server's copies of a document, so each test takes seconds.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.lsp_helpers import server_env
from tests.fuzz.rpc import Connection

ARGV = (sys.executable, "-m", "tests.fuzz.debug_server", "serve", "--log-level", "info")
INVALID_PARAMS = -32602
INVALID_REQUEST = -32600
ANSWER_S = 20.0
URI = "file:///w/a.py"


@contextlib.contextmanager
def session(tmp_path: Path, general: dict[str, Any] | None = None) -> Iterator[Connection]:
    caps: dict[str, Any] = {"textDocument": {"inlineCompletion": {}}}
    if general is not None:
        caps["general"] = general
    conn = Connection(
        ARGV,
        server_env(AIRGAP_LSP_FAKE_BACKEND="1"),
        stderr_path=str(tmp_path / "stderr.log"),
    )
    try:
        init = conn.call("initialize", {"processId": None, "rootUri": None, "capabilities": caps})
        assert init is not None and "result" in init, init
        conn.notify("initialized", {})
        yield conn
        response = conn.call("shutdown", None, ANSWER_S)
        assert response is not None and "error" not in response, response
        conn.notify("exit", None)
        assert conn.wait_exit(15) == 0
    finally:
        conn.kill()


def open_doc(conn: Connection, text: str, uri: str = URI, version: int = 1) -> None:
    item = {"uri": uri, "languageId": "python", "version": version, "text": text}
    conn.notify("textDocument/didOpen", {"textDocument": item})


def change(conn: Connection, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    rng = {
        "start": {"line": start[0], "character": start[1]},
        "end": {"line": end[0], "character": end[1]},
    }
    conn.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": URI, "version": 2},
            "contentChanges": [{"range": rng, "text": text}],
        },
    )


def server_texts(conn: Connection, uri: str = URI) -> tuple[str, str]:
    """(pygls' text, the syntax trees' text) of a document, as the server holds them."""
    response = conn.call("airgap/debugDocument", {"uri": uri}, ANSWER_S)
    assert response is not None and response.get("result"), response
    view = response["result"]

    def unwire(value: str) -> str:
        return base64.b64decode(value).decode("utf-16-le", "surrogatepass")

    assert view["oneText"] is True, "the syntax trees keep a copy of the document's text"
    return unwire(view["text16"]), unwire(view["context16"])


def shown_messages(conn: Connection) -> list[str]:
    return [
        str((n.message.get("params") or {}).get("message"))
        for n in conn.notifications
        if n.message.get("method") == "window/showMessage"
    ]


def request_ids(conn: Connection) -> set[Any]:
    return {m["id"] for m in conn.sent if "method" in m and "id" in m}


def responses_to(conn: Connection, rid: int) -> list[dict[str, Any]]:
    return [r.message for r in conn.responses.get(rid, [])]


# -- 1. columns in the negotiated encoding, with or without positionEncodings ------------------


@pytest.mark.parametrize(
    ("general", "end_column"),
    [
        (None, 5),  # no `general` at all: UTF-16, the emoji is two units
        ({}, 5),  # `general` without positionEncodings: UTF-16
        ({"positionEncodings": ["utf-16"]}, 5),
        ({"positionEncodings": ["utf-8", "utf-16"]}, 7),  # 4 bytes for the emoji
        ({"positionEncodings": ["utf-32"]}, 4),  # one code point
    ],
    ids=["no-general", "no-encodings", "utf-16", "utf-8", "utf-32"],
)
def test_an_emoji_counts_in_the_negotiated_encoding(
    tmp_path: Path, general: dict[str, Any] | None, end_column: int
):
    with session(tmp_path, general) as conn:
        open_doc(conn, "ab😀cd")
        change(conn, (0, 1), (0, end_column), "")  # deletes "b😀c"
        assert server_texts(conn) == ("ad", "ad")
        # And back from offsets to columns: the suggestion after "a" sits at column 1.
        rid = conn.request("textDocument/inlineCompletion", _inline(0, 1))
        response = conn.wait(rid, ANSWER_S)
        assert response is not None and "result" in response, response


def _inline(line: Any, character: Any, uri: str = URI) -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1},
    }


# -- 2, 3. every request with an id gets exactly one response; garbage is logged, not shown ------


BAD_POSITIONS = [{"line": -1, "character": 0}, {}, {"line": 0}, {"line": 0, "character": -5}]


def test_params_that_fail_validation_get_invalid_params(tmp_path: Path):
    with session(tmp_path) as conn:
        open_doc(conn, "x = 1\n")
        ids = []
        for position in BAD_POSITIONS:
            params = {"textDocument": {"uri": URI}, "position": position}
            ids.append(conn.request("textDocument/completion", params))
            ids.append(
                conn.request(
                    "textDocument/inlineCompletion", {**params, "context": {"triggerKind": 1}}
                )
            )
        ids.append(conn.request("textDocument/completion", {"textDocument": 5}))
        ids.append(conn.request("textDocument/completion", None))  # needs params, has none
        ids.append(conn.request("textDocument/codeAction", {"range": "everything"}))
        for rid in ids:
            response = conn.wait(rid, ANSWER_S)
            assert response is not None, f"request {rid} unanswered"
            assert response.get("error", {}).get("code") == INVALID_PARAMS, response
        # The server keeps serving, and the user saw no popup.
        rid = conn.request("textDocument/inlineCompletion", _inline(0, 5))
        response = conn.wait(rid, ANSWER_S)
        assert response is not None and response["result"]["items"], response
        time.sleep(0.2)
        assert all(len(responses_to(conn, rid)) == 1 for rid in ids)
        assert shown_messages(conn) == []
    stderr = (tmp_path / "stderr.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "invalid params for textDocument/completion" in stderr, stderr[-3000:]


def test_a_notification_that_fails_validation_is_logged_not_shown(tmp_path: Path):
    with session(tmp_path) as conn:
        open_doc(conn, "x = 1\n")
        conn.notify("textDocument/didChange", {"textDocument": {"uri": URI}, "contentChanges": 5})
        conn.notify("textDocument/didOpen", {"textDocument": {"uri": 7}})
        conn.notify("textDocument/didClose", None)  # needs params, has none
        conn.send({"jsonrpc": "2.0", "id": 99})  # a response to a request never sent
        assert server_texts(conn) == ("x = 1\n", "x = 1\n")  # still serving, nothing applied
        time.sleep(0.2)
        assert shown_messages(conn) == []
        assert set(conn.responses) <= request_ids(conn)  # no answer to a notification
    stderr = (tmp_path / "stderr.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "invalid params for textDocument/didChange" in stderr, stderr[-3000:]


def test_a_request_without_params_is_answered(tmp_path: Path):
    with session(tmp_path) as conn:
        # JSON-RPC lets a request leave out `params`: methods that need none answer.
        for method in ("airgap/stats", "airgap/actionStats"):
            rid = conn.request(method, None)
            response = conn.wait(rid, ANSWER_S)
            assert response is not None and isinstance(response.get("result"), dict), response
        # An unknown method without params: MethodNotFound, once.
        rid = conn.request("airgap/nope", None)
        response = conn.wait(rid, ANSWER_S)
        assert response is not None and response["error"]["code"] == -32601, response
        time.sleep(0.2)
        assert len(responses_to(conn, rid)) == 1
        assert shown_messages(conn) == []
    stderr = (tmp_path / "stderr.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in stderr, stderr[-3000:]


def test_a_request_that_is_not_json_rpc_2_or_comes_after_shutdown_gets_invalid_request(
    tmp_path: Path,
):
    conn = Connection(
        ARGV, server_env(AIRGAP_LSP_FAKE_BACKEND="1"), stderr_path=str(tmp_path / "stderr.log")
    )
    try:
        assert conn.call("initialize", {"processId": None, "capabilities": {}}) is not None
        conn.notify("initialized", {})
        conn.send({"jsonrpc": "1.0", "id": 50, "method": "airgap/stats"})
        conn.send({"id": 51, "method": "airgap/stats"})
        for rid in (50, 51):
            response = conn.wait(rid, ANSWER_S)
            assert response is not None and response["error"]["code"] == INVALID_REQUEST
        response = conn.call("shutdown", None, ANSWER_S)
        assert response is not None and "error" not in response, response
        response = conn.call("airgap/stats", {}, ANSWER_S)  # LSP: InvalidRequest after shutdown
        assert response is not None and response["error"]["code"] == INVALID_REQUEST, response
        conn.notify("exit", None)
        assert conn.wait_exit(15) == 0
        assert shown_messages(conn) == []
    finally:
        conn.kill()


# -- 4. a cursor inside a character -----------------------------------------------------------


def test_no_suggestion_splits_a_character(tmp_path: Path):
    with session(tmp_path) as conn:
        open_doc(conn, "s = '😀'\n")
        # Column 6 is between the two UTF-16 units of the emoji: no cursor of the document.
        for method in ("textDocument/inlineCompletion", "textDocument/completion"):
            response = conn.wait(conn.request(method, _inline(0, 6)), ANSWER_S)
            assert response is not None and "result" in response, response
            assert response["result"]["items"] == [], response
        # Columns 5 and 7, either side of the emoji, get suggestions at themselves.
        for column in (5, 7):
            response = conn.wait(
                conn.request("textDocument/inlineCompletion", _inline(0, column)), ANSWER_S
            )
            assert response is not None, column
            (item,) = response["result"]["items"]
            at = {"line": 0, "character": column}
            assert item["range"] == {"start": at, "end": at}
        # An edit whose range starts inside the emoji starts at the emoji (VS Code and gopls
        # read such a column the same way): the emoji is replaced whole, never split.
        change(conn, (0, 6), (0, 7), "X")
        assert server_texts(conn) == ("s = 'X'\n", "s = 'X'\n")
