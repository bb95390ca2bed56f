"""The offline proof: a full session with no network, and a compiled runtime that cannot reach one.

Owns three checks, shared by tests/offline/test_offline.py and benchmarks/robustness.py:

* `network_namespace_available`: `unshare -rn` gives a network namespace whose only interface
  is a loopback that is down (so even a connection from C code has nowhere to go);
* `run_offline_session`: the real server (`python -m tests.offline.audited serve`, an audit
  hook refusing and recording every Python-level network attempt) in such a namespace goes
  through a whole session: workspace indexing of a small folder, open, inline completion,
  completion, every code action listed (resolved or run as its command), a configuration
  change that reloads the model, save, shutdown. It reports the attempts recorded (must be
  0), the workspace files the indexer opened, and every response;
* `llama_libraries`: the compiled llama.cpp libraries' NEEDED entries and imported symbols,
  which must name no curl, TLS or socket function.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.rpc import Connection

NETWORK_LIBRARIES = re.compile(r"curl|ssl|crypto|gnutls|nghttp|ngtcp|quic|nss3|mbedtls", re.I)
NETWORK_SYMBOLS = re.compile(
    r"^(connect|socket|getaddrinfo|gethostbyname.*|gethostbyaddr|sendto|bind|curl_.*|SSL_.*)$"
)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class OfflineResult:
    namespace: bool
    connections: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    indexed_files: list[str] = field(default_factory=list)
    responses: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    messages_to_user: list[str] = field(default_factory=list)
    reloaded: bool = False
    exit_status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "networkNamespace": self.namespace,
            "connections": self.connections,
            "attempts": self.attempts,
            "indexedFiles": len(self.indexed_files),
            "requests": sorted(self.responses),
            "errors": self.errors,
            "reloaded": self.reloaded,
            "exitStatus": self.exit_status,
        }


def network_namespace_available() -> tuple[bool, str]:
    """Whether `unshare -rn` works here, and why not (the kernel or a container may refuse
    unprivileged user namespaces)."""
    if shutil.which("unshare") is None:
        return False, "the unshare command is not installed"
    probe = subprocess.run(
        ["unshare", "-rn", "cat", "/proc/net/dev"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        return False, f"unshare -rn refused: {probe.stderr.strip()[:300]}"
    interfaces = [
        line.split(":", 1)[0].strip() for line in probe.stdout.splitlines()[2:] if ":" in line
    ]
    if interfaces != ["lo"]:
        return False, f"the new namespace has interfaces {interfaces}"
    return True, ""


def no_route_in_namespace() -> str:
    """The error a TCP connection gets inside a fresh namespace (to show it is really cut)."""
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 9), timeout=3)\n"
        "    print('connected')\n"
        "except OSError as e:\n"
        "    print(type(e).__name__, e.errno)\n"
    )
    out = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    return out.stdout.strip()


SAMPLE = """\
import os


def add(a, b):
    return a + b


def mean(values):
    total = 0
    for v in values:
        total += v
    return total / len(values)
"""
WORKSPACE = {
    "pkg/__init__.py": "",
    "pkg/stats.py": SAMPLE,
    "pkg/helpers.py": "def helper(x):\n    return x * 2\n",
    "lib/util.py": "class Cache:\n    def get(self, key):\n        return None\n",
    "README.md": "# sample\n",
}


def make_workspace(folder: Path) -> Path:
    for name, text in WORKSPACE.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def _capabilities() -> dict[str, Any]:
    return {
        "general": {"positionEncodings": ["utf-16"]},
        "textDocument": {
            "inlineCompletion": {},
            "codeAction": {
                "codeActionLiteralSupport": {
                    "codeActionKind": {"valueSet": ["", "quickfix", "refactor", "source"]}
                },
                "resolveSupport": {"properties": ["edit"]},
                "dataSupport": True,
            },
        },
        "workspace": {
            "applyEdit": True,
            "configuration": True,
            "workspaceEdit": {"documentChanges": True, "resourceOperations": ["create"]},
        },
        "window": {"workDoneProgress": True, "showDocument": {"support": True}},
    }


def run_offline_session(
    model: str,
    workspace: Path,
    log_dir: Path,
    use_namespace: bool = True,
    actions: bool = True,
    timeout: float = 120.0,
) -> OfflineResult:
    """One whole session against the audited server; see the module docstring."""
    audit_log = log_dir / "audit.jsonl"
    audit_log.write_text("")
    argv = [sys.executable, "-m", "tests.offline.audited", "serve", "--log-level", "warning"]
    if use_namespace:
        argv = ["unshare", "-rn", *argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRGAP_LSP_FAKE")}
    env.update(AIRGAP_AUDIT_LOG=str(audit_log), AIRGAP_AUDIT_WATCH=str(workspace))
    result = OfflineResult(namespace=use_namespace)
    config: dict[str, Any] = {
        "models": {"target": model, "draft": ""},
        "completion": {"maxTokens": 8, "shaping": False},
    }

    def answer(method: str, params: Any) -> Any:
        if method == "workspace/configuration":
            return [config for _ in (params or {}).get("items") or []]
        if method == "workspace/applyEdit":
            return {"applied": True}
        if method == "window/showDocument":
            return {"success": True}
        if method == "window/showMessageRequest":
            return None
        return None

    conn = Connection(
        argv, env, cwd=str(ROOT), on_request=answer, stderr_path=str(log_dir / "stderr")
    )
    deadline = time.monotonic() + timeout

    def call(method: str, params: Any) -> Any:
        response = conn.call(method, params, timeout=max(1.0, deadline - time.monotonic()))
        result.responses.setdefault(method, []).append(response)
        if response is None:
            result.errors.append(f"{method}: no response")
            return None
        if "error" in response:
            result.errors.append(f"{method}: {response['error']}")
            return None
        return response.get("result")

    try:
        root_uri = workspace.as_uri()
        call(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root_uri,
                "workspaceFolders": [{"uri": root_uri, "name": "sample"}],
                "capabilities": _capabilities(),
                "initializationOptions": config,
            },
        )
        conn.notify("initialized", {})
        uri = (workspace / "pkg" / "stats.py").as_uri()
        doc = {"uri": uri, "languageId": "python", "version": 1, "text": SAMPLE}
        conn.notify("textDocument/didOpen", {"textDocument": doc})
        ident = {"uri": uri}
        cursor = {"line": 5, "character": 4}
        call(
            "textDocument/inlineCompletion",
            {"textDocument": ident, "position": cursor, "context": {"triggerKind": 1}},
        )
        call("textDocument/completion", {"textDocument": ident, "position": cursor})
        if actions:
            _every_action(call, ident)
        # A configuration change that reloads the model (another context size).
        config["models"] = {"target": model, "draft": "", "contextSize": 1024}
        before = len(_statuses(conn, "ready"))
        conn.notify("workspace/didChangeConfiguration", {"settings": {"airgap": config}})
        result.reloaded = _wait(lambda: len(_statuses(conn, "ready")) > before, deadline)
        call(
            "textDocument/inlineCompletion",
            {"textDocument": ident, "position": cursor, "context": {"triggerKind": 2}},
        )
        conn.notify("textDocument/didSave", {"textDocument": ident})
        _wait(lambda: len(_opened(audit_log)) >= 3, deadline)
        call("shutdown", None)
        conn.notify("exit", None)
        result.exit_status = conn.wait_exit(15)
    finally:
        conn.kill()
    for line in audit_log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["event"] != "open":
            result.attempts.append(record)
    result.connections = len(result.attempts)
    result.indexed_files = sorted({p for p in _opened(audit_log) if os.path.isfile(p)})
    result.messages_to_user = [
        str((n.message.get("params") or {}).get("message"))
        for n in conn.notifications
        if n.message.get("method") == "window/showMessage"
    ]
    result.errors.extend(conn.violations)
    for rid, answers in conn.responses.items():
        if len(answers) != 1:
            result.errors.append(f"{len(answers)} responses to id {rid}")
    return result


def _every_action(call: Any, ident: dict[str, str]) -> None:
    """List the actions for a selection with a diagnostic, then run each: resolve the ones
    with data, execute the ones with a command (rewrite with an instruction)."""
    selection = {"start": {"line": 7, "character": 0}, "end": {"line": 11, "character": 30}}
    diagnostic = {"range": selection, "message": "division by zero when values is empty"}
    listed = call(
        "textDocument/codeAction",
        {"textDocument": ident, "range": selection, "context": {"diagnostics": [diagnostic]}},
    )
    for action in listed or []:
        if "data" in action:
            call("codeAction/resolve", action)
        elif action.get("command"):
            command = action["command"]
            arguments = list(command.get("arguments") or [])
            if command["command"] == "airgap.rewriteSelection":
                arguments.append("Simplify")
            call(
                "workspace/executeCommand",
                {"command": command["command"], "arguments": arguments},
            )


def _statuses(conn: Connection, state: str) -> list[Any]:
    return [
        n
        for n in list(conn.notifications)
        if n.message.get("method") == "airgap/status"
        and (n.message.get("params") or {}).get("state") == state
    ]


def _opened(audit_log: Path) -> list[str]:
    out = []
    for line in audit_log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["event"] == "open":
            out.append(record["path"])
    return out


def _wait(predicate: Any, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def llama_libraries() -> dict[str, dict[str, list[str]]]:
    """For each compiled llama.cpp library: its NEEDED entries and the network-related
    symbols it imports (both must be free of curl, TLS and sockets)."""
    import llama_cpp

    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    out: dict[str, dict[str, list[str]]] = {}
    for path in sorted(glob.glob(str(lib_dir / "*.so")) + glob.glob(str(lib_dir / "*.dylib"))):
        dynamic = subprocess.run(
            ["readelf", "-d", "-W", path], capture_output=True, text=True, check=True
        ).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
        symbols = subprocess.run(
            ["readelf", "--dyn-syms", "-W", path], capture_output=True, text=True, check=True
        ).stdout
        imported = []
        for line in symbols.splitlines():
            parts = line.split()
            if len(parts) >= 8 and parts[6] == "UND":
                name = parts[7].split("@")[0]
                if NETWORK_SYMBOLS.match(name):
                    imported.append(name)
        out[Path(path).name] = {
            "needed": needed,
            "networkLibraries": [n for n in needed if NETWORK_LIBRARIES.search(n)],
            "networkSymbols": sorted(set(imported)),
        }
    return out
