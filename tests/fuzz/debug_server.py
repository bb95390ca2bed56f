"""`python -m tests.fuzz.debug_server serve ...`: the real `airgap-lsp` command line, plus one
request for the fuzzer that shows the server's own copy of a document.

`airgap/debugDocument {uri}` answers with the text as the handlers see it (looked up exactly as
they look documents up, through `AirgapServer.document`) and the text the syntax trees are
parsed from, both as base64 of UTF-16-LE with lone surrogates kept, so that no character is
changed on the wire, and whether the two are the very same string (one text per document);
`null` when the server has no such document. Nothing else differs from `airgap-lsp serve`: the
request is added to `lsp.server.register`, and the CLI runs as usual. Editors never see it
(it exists only in this test module).
"""

from __future__ import annotations

import base64
import sys
from typing import Any

DEBUG_DOCUMENT = "airgap/debugDocument"


def _wire(text: str | None) -> str | None:
    if text is None:
        return None
    return base64.b64encode(text.encode("utf-16-le", "surrogatepass")).decode("ascii")


def register_debug(server: Any) -> None:
    @server.feature(DEBUG_DOCUMENT)
    def debug_document(ls: Any, params: Any) -> dict[str, Any] | None:
        uri = getattr(params, "uri", None)
        if uri is None and isinstance(params, dict):
            uri = params.get("uri")
        uri = str(uri or "")
        doc = ls.document(uri)
        if doc is None:
            return None
        context = None
        for key in (getattr(doc, "key", None), doc.uri, uri):  # however the context keys it
            if key is not None and context is None:
                context = ls.context.text(key)
        return {
            "version": doc.version,
            "languageId": doc.language_id,
            "text16": _wire(doc.source),
            "context16": _wire(context),
            # The syntax trees are kept for the document's own text, not for a copy of it.
            "oneText": context is None or context is doc.source,
        }


def install() -> None:
    """Make every server `lsp.server.create_server` builds answer the debug request too."""
    import airgap_lsp.lsp.server as server_module

    register = server_module.register

    def register_with_debug(server: Any) -> None:
        register(server)
        register_debug(server)

    server_module.register = register_with_debug


def main() -> int:
    install()
    from airgap_lsp.lsp.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
