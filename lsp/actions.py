"""Code actions served by the local model (registered from lsp.server.register)."""

from __future__ import annotations

from typing import Any


def register_actions(server: Any) -> None:
    """Register the code-action methods on the server."""
