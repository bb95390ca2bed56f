"""Warming a document's prompt on open: the real model (through the supervised engine process)
evaluates the prompt's shared head and the file's start before anyone asks; the first request
then evaluates only its own tail, and a warm that a request pre-empts stops early and keeps the
pieces it finished."""

from __future__ import annotations

import pytest

from airgap_lsp.completion.completer import WARM_PIECE, CompletionRequest

pytestmark = pytest.mark.model


def _request(key: str, text: str, offset: int) -> CompletionRequest:
    return CompletionRequest(key=key, text=text, offset=offset, path=key, language="python")


def test_the_first_request_in_a_warmed_document_evaluates_only_its_tail(
    plain_backend, humaneval_plus
):
    task = next(t for t in humaneval_plus if t["task_id"] == "HumanEval/2")
    text = task["prompt"] + "    "
    cold = plain_backend.complete(_request("cold.py", text, len(text)), lambda: False)
    assert cold is not None and cold.reused_tokens < 16  # nothing of this file was cached

    warmed = plain_backend.warm(_request("warm.py", text, 0), lambda: False)
    assert warmed > 50  # the path and the whole (short) file
    first = plain_backend.complete(_request("warm.py", text, len(text)), lambda: False)
    assert first is not None
    # Everything the warm evaluated is the request's prompt head; only the FIM markers and
    # the code after the cursor are new.
    assert first.reused_tokens >= warmed - 1, (first.reused_tokens, warmed)
    assert first.prompt_tokens - first.reused_tokens <= 8

    # Warming again finds everything cached.
    assert plain_backend.warm(_request("warm.py", text, 0), lambda: False) <= 1


def test_a_request_pre_empts_a_warm_which_keeps_its_finished_pieces(
    plain_backend, humaneval_plus, monkeypatch
):
    text = "".join(t["prompt"] for t in humaneval_plus[10:16])  # longer than the file's start
    whole = plain_backend.warm(_request("reference.py", text, 0), lambda: False)
    assert whole > 2 * WARM_PIECE

    # Cancelled from the moment the second piece is sent to the engine (as a request would
    # cancel it): the engine stops inside that piece's evaluation.
    pieces: list[int] = []
    generate = plain_backend.engine.generate

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        pieces.append(len(args[1]))
        return generate(*args, **kwargs)

    monkeypatch.setattr(plain_backend.engine, "generate", counting)
    stopped = plain_backend.warm(_request("long.py", text, 0), lambda: len(pieces) >= 2)
    monkeypatch.undo()
    assert pieces == [WARM_PIECE, 2 * WARM_PIECE]
    # The first piece stays; the second, stopped inside its evaluation, leaves nothing.
    assert stopped == WARM_PIECE, (stopped, whole)
    # What it kept is cached: warming the same document again evaluates only the rest (and
    # the kept piece's last token once more: a prompt always evaluates its last token).
    rest = plain_backend.warm(_request("long.py", text, 0), lambda: False)
    assert rest == whole - WARM_PIECE + 1, (rest, whole)
