"""Log routing in one process: info and debug to the client (from any thread, buffered until
the client is there), warnings and errors to stderr only, pygls' own records never sent."""

from __future__ import annotations

import asyncio
import logging
import threading

from lsprotocol import types

from airgap_lsp.lsp.logs import ClientLog


class FakeServer:
    def __init__(self) -> None:
        self.sent: list[types.LogMessageParams] = []

    def window_log_message(self, params: types.LogMessageParams) -> None:
        self.sent.append(params)
        logging.getLogger("lsp.test").info("sending logs this, which must not loop")


async def test_client_log_routes_by_level_and_thread():
    server = FakeServer()
    handler = ClientLog(server)
    log = logging.getLogger("lsp.test")
    log.setLevel(logging.DEBUG)
    pygls = logging.getLogger("pygls.protocol")
    pygls_level = pygls.level
    pygls.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        log.info("before initialize")
        assert server.sent == []
        handler.connect()
        await asyncio.sleep(0)
        assert [p.message for p in server.sent] == ["lsp.test: before initialize"]
        thread = threading.Thread(target=lambda: log.debug("from the model thread"))
        thread.start()
        thread.join()
        log.warning("a warning")  # stderr's, not the client's
        logging.getLogger("pygls.protocol").info("Sending data: ...")
        for _ in range(20):
            await asyncio.sleep(0.01)
        messages = [(p.type, p.message) for p in server.sent]
        assert messages == [
            (types.MessageType.Info, "lsp.test: before initialize"),
            (types.MessageType.Log, "lsp.test: from the model thread"),
        ]
    finally:
        root.removeHandler(handler)
        pygls.setLevel(pygls_level)


def test_tell_user_logs_at_the_level_of_the_message(caplog):
    from airgap_lsp.lsp.server import create_server

    server = create_server()
    shown: list[types.ShowMessageParams] = []
    server.window_show_message = shown.append  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.INFO, logger="airgap_lsp.lsp.server"):
            server.tell_user("Fix with AI: cancelled", types.MessageType.Info)
            server.tell_user("an option was ignored")
            server.tell_user("cannot load the model", types.MessageType.Error)
    finally:
        server.worker.close()
    records = [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name == "airgap_lsp.lsp.server"
    ]
    assert records == [
        (logging.INFO, "Fix with AI: cancelled"),
        (logging.WARNING, "an option was ignored"),
        (logging.ERROR, "cannot load the model"),
    ]
    assert len(shown) == 3
