"""Shutdown while a request to the client is still unanswered (found by fuzzing)."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from airgap_lsp.lsp.server import create_server


def test_shutdown_with_a_request_to_the_client_pending():
    # A code action waits for the client's answer to workspace/applyEdit; the client shuts
    # the server down instead. pygls cancels pending futures while iterating the live dict,
    # and cancelling removes the entry: "dictionary changed size during iteration".
    server = create_server()
    protocol = server.protocol
    protocol._ctx_msg_id.set("shutdown-id")  # the shutdown request being handled
    pending: Future[object] = Future()
    protocol._request_futures["apply-edit"] = pending
    pending.add_done_callback(lambda _f: protocol._request_futures.pop("apply-edit", None))
    steps = protocol.lsp_shutdown(None)
    handler, args, _kwargs = next(steps)
    handler(*args)
    with pytest.raises(StopIteration):
        steps.send(None)
    assert pending.cancelled()
