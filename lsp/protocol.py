"""JSON-RPC's rules for messages that cannot be used, which pygls 2.1 leaves out.

Owns reading a message into its lsprotocol type and what happens when that fails. pygls turns
each message into its type inside `json.loads` (`structure_message`, the object hook) and,
when that raises, logs a traceback and shows the user "Error in server: Invalid Params" while
the request stays unanswered forever; it also requires `params`, which JSON-RPC lets a request
or notification leave out, and drops requests that arrive after `shutdown`. Here:

* a request with an id gets exactly one response: InvalidParams (-32602) when its params do not
  validate, InvalidRequest (-32600) when the message itself is not a JSON-RPC 2.0 request or
  it arrives after `shutdown`;
* a message without `params` has `params: null`, so a method that needs none answers and one
  that needs them gets InvalidParams;
* an unusable notification or response is logged at warning and dropped; the user sees no
  message for what a client sent wrong.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from cattrs import transform_error
from cattrs.errors import ClassValidationError
from lsprotocol.types import EXIT, ResponseError, ResponseErrorMessage
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)

log = logging.getLogger(__name__)

VERSION = "2.0"


@dataclass
class Unusable:
    """A message that could not be read into its type, and why."""

    data: dict[str, Any]
    reason: str


class Protocol(LanguageServerProtocol):
    """pygls' protocol with JSON-RPC's rules for unusable messages (see the module docstring)."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        if "jsonrpc" not in data:
            return data  # an object inside the message: json.loads calls this for each one
        try:
            return self._structure(data)
        except Exception as exc:  # whatever the converter raised: told once, as a warning
            return Unusable(data, _reason(exc))

    def _structure(self, data: dict[str, Any]) -> Any:
        # pygls' JsonRPCProtocol.structure_message, minus its traceback log and with `params`
        # optional.
        if data["jsonrpc"] != VERSION:
            raise ValueError(f"not JSON-RPC {VERSION} (jsonrpc: {data['jsonrpc']!r})")
        structure = self._converter.structure
        if "id" in data:
            if "error" in data:
                return structure(data, ResponseErrorMessage)
            if "method" in data:
                data = {"params": None, **data}
                request_type = self.get_message_type(data["method"]) or JsonRPCRequestMessage
                return structure(data, request_type)
            response_type = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
            return structure(data, response_type)
        data = {"params": None, **data}
        notification_type = self.get_message_type(data.get("method", "")) or JsonRPCNotification
        return structure(data, notification_type)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, Unusable):
            self._refuse(message.data, message.reason)
        elif isinstance(message, dict):  # no "jsonrpc": the object hook left it as it came
            self._refuse(message, f"not JSON-RPC {VERSION} (no jsonrpc member)")
        elif not hasattr(message, "jsonrpc"):  # a JSON array, number or string: no id
            log.warning("ignored a message that is not a JSON object: %.200r", message)
        elif self._shutdown and _is_request(message) and message.method != EXIT:
            log.warning("%s (id %r) after shutdown: refused", message.method, message.id)
            error = JsonRpcInvalidRequest("the server is shutting down")
            self._send_response(message.id, error=_response_error(error))
        else:
            super().handle_message(message)

    def cancel_pending(self) -> None:
        """Cancel every pending request future but the current request's. pygls does the same
        at shutdown, but over the live dict, which cancelling changes: with a request to the
        client still unanswered (a code action's applyEdit), shutdown failed with "dictionary
        changed size during iteration" (found by fuzzing). Over a copy, pygls' loop then finds
        nothing left to cancel."""
        current = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()

    def _refuse(self, data: dict[str, Any], reason: str) -> None:
        method = data.get("method")
        if "id" not in data:
            log.warning("invalid params for %.100s (a notification; ignored): %s", method, reason)
            return
        rid = data["id"]
        if method is None:  # a response or error from the client
            log.warning("ignored a response to id %.100r: %s", rid, reason)
            return
        valid_id = isinstance(rid, int | str) and not isinstance(rid, bool)
        request = data.get("jsonrpc") == VERSION and isinstance(method, str) and valid_id
        error: JsonRpcInvalidParams | JsonRpcInvalidRequest
        if request:
            log.warning("invalid params for %s (id %r): %s", method, rid, reason)
            error = JsonRpcInvalidParams(f"invalid params for {method}: {reason}")
        else:
            log.warning("invalid request %.100r (id %.100r): %s", method, rid, reason)
            error = JsonRpcInvalidRequest(f"invalid request: {reason}")
        self._send_response(rid if valid_id else None, error=_response_error(error))  # type: ignore[arg-type]


def _is_request(message: Any) -> bool:
    return getattr(message, "id", None) is not None and hasattr(message, "method")


def _response_error(exc: JsonRpcInvalidParams | JsonRpcInvalidRequest) -> ResponseError:
    return ResponseError(code=exc.code, message=exc.message)


def _reason(exc: Exception) -> str:
    """What was wrong, in a line (cattrs names the path of each bad field)."""
    if isinstance(exc, ClassValidationError):
        problems = transform_error(exc)
        text = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:500]
