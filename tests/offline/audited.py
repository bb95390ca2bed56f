"""`python -m tests.offline.audited ARGS`: the airgap-lsp command line under an audit hook.

Every network attempt made through Python (connect, name lookup, bind, sendto, urllib,
http.client, the other stdlib clients) is refused with PermissionError and recorded as one
JSON line in $AIRGAP_AUDIT_LOG. Files opened under $AIRGAP_AUDIT_WATCH are recorded too, so a
test can see that the workspace really was indexed during the session. The log file is opened
before the hook is installed: writing to it raises no audit event.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

NETWORK_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "urllib.Request",
        "http.client.connect",
        "ftplib.connect",
        "smtplib.connect",
        "poplib.connect",
        "imaplib.open",
        "nntplib.connect",
        "webbrowser.open",
    }
)


def install(log_path: str, watch: str | None) -> None:
    log = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (kept open)
    roots = (watch, os.path.realpath(watch)) if watch else ()

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in NETWORK_EVENTS:
            log.write(json.dumps({"event": event, "args": repr(args)[:300]}) + "\n")
            raise PermissionError(f"airgap audit: network access refused ({event})")
        if roots and event == "open" and args and isinstance(args[0], str | bytes):
            path = os.fsdecode(args[0])
            if path.startswith(roots):
                log.write(json.dumps({"event": "open", "path": path}) + "\n")

    sys.addaudithook(hook)


def main() -> int:
    install(os.environ["AIRGAP_AUDIT_LOG"], os.environ.get("AIRGAP_AUDIT_WATCH"))
    if os.environ.get("AIRGAP_AUDIT_DEBUG_REQUEST") == "1":  # the fuzzer's document view
        from tests.fuzz.debug_server import install as install_debug

        install_debug()
    from airgap_lsp.lsp.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
