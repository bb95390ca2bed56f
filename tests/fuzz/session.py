"""One fuzzing session against the real server process over stdio, with its oracles.

Owns a session's script (random steps drawn from a seeded generator), the reference state the
oracles compare against (`textmodel`: every document's text and version history as the client
sent it), and the checks:

* exactly one response per request id, and no response to an id never sent;
* no error response to a well-formed request (cancelled requests may answer RequestCancelled;
  deliberately malformed ones may answer any error);
* no exception reported by the server (an Error `window/showMessage` other than a missing-model
  message the session provoked, a traceback on stderr) and no framing violation on stdout;
* the server's copy of every open document (pygls' and the context copy, read through the
  debug-only `airgap/debugDocument`) equals the reference text, and a closed one is gone;
* every range the server returns lies inside the document it refers to (the text when the
  request was sent, or the version a versioned edit names) and round-trips through offsets;
  a completion item's edit is on one line and contains the cursor; an edit never goes out for
  a document that changed since its action was listed; generated files stay in the workspace;
* the server answers `shutdown` and exits with status 0 after `exit`.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from benchmarks.harness.processes import child_processes
from tests.fuzz import inputs
from tests.fuzz.rpc import SILENT, Connection, ServerRequestError
from tests.fuzz.textmodel import (
    Pos,
    line_spans,
    offset_of,
    position_of,
    round_trips,
    same_text,
    units,
)

# Generous: the machine is shared, and a code action on the random model may write its 1,024
# tokens; a hung server is what these catch.
REQUEST_TIMEOUT = 30.0
ACTION_TIMEOUT = 60.0
START_TIMEOUT = 60.0
MODEL_ACTIONS = ("codeAction/resolve", "workspace/executeCommand")


def engine_children(server_pid: int) -> list[int]:
    """The server's engine child processes (`airgap_lsp.completion.engine_child`)."""
    return [pid for pid, cmdline in child_processes({server_pid}) if b"engine_child" in cmdline]


REQUEST_CANCELLED = -32800
DEBUG_DOCUMENT = "airgap/debugDocument"

ROOT = Path(__file__).resolve().parents[2]
# The real command line, with the debug request added (tests/fuzz/debug_server.py).
SERVER_ARGV = (sys.executable, "-m", "tests.fuzz.debug_server", "serve", "--log-level", "warning")


@dataclass
class Failure:
    category: str
    kind: str
    detail: str
    trace: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "kind": self.kind, "detail": self.detail[:2000]}


@dataclass
class SessionResult:
    seed: int
    messages: int = 0
    requests: int = 0
    seconds: float = 0.0
    encoding: str = "utf-16"
    failures: list[Failure] = field(default_factory=list)
    categories: Counter[str] = field(default_factory=Counter)
    failed_categories: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)  # oracle checks that ran
    trace_path: str | None = None


@dataclass
class Doc:
    uri: str
    language: str
    text: str
    version: int
    history: dict[int, str] = field(default_factory=dict)
    open: bool = True
    generation: int = 0  # bumped on every reopen
    log: list[dict[str, Any]] = field(default_factory=list)  # messages that built this text


@dataclass
class Pending:
    rid: int
    method: str
    category: str
    uri: str | None = None
    version: int | None = None
    text: str | None = None
    position: Pos | None = None
    position_ok: bool = True
    malformed: bool = False
    cancelled: bool = False
    listing_version: int | None = None
    listing_generation: int | None = None
    sent_at: float = 0.0
    generation: int | None = None
    done: bool = False
    duplicate_reported: bool = False


def workspace_uri(root: str) -> str:
    return Path(root).as_uri()


def path_of(uri: str) -> str | None:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else None


class Session:
    """Drives one server process through `steps` random steps and collects failures."""

    def __init__(
        self,
        seed: int,
        model: str,
        workspace: str,
        steps: int = 60,
        argv: tuple[str, ...] = SERVER_ARGV,
        env: dict[str, str] | None = None,
        log_dir: str | None = None,
        cwd: str | None = None,
        deadline: float | None = None,
        hard_deadline: float | None = None,
    ) -> None:
        """`deadline` (time.monotonic) ends the steps early; no wait goes past `hard_deadline`
        (what is unanswered then is a failure)."""
        self.deadline = deadline
        self.hard_deadline = hard_deadline
        self.seed = seed
        self.cwd = cwd or str(ROOT)
        self.rng = random.Random(seed)
        self.model = model
        self.root = workspace
        self.steps = steps
        self.argv = argv
        self.env = env
        self.log_dir = log_dir
        self.docs: dict[str, Doc] = {}
        self.pending: dict[int, Pending] = {}
        self.actions: list[tuple[dict[str, Any], int, int]] = []  # action, version, generation
        self.commands: list[dict[str, Any]] = []
        self.progress_tokens: list[Any] = []
        # What the script draws from is updated only at syncs, in request order, so that a
        # seed gives the same messages however fast the server answers.
        self.progress_pool: list[Any] = []
        self.since_sync: list[Pending] = []
        self.listed: dict[int, tuple[Pending, Any]] = {}
        self.config: Any = {"models": {"target": model, "draft": ""}}
        self.result = SessionResult(seed)
        self.encoding = "utf-16"
        self.flags: dict[str, bool] = {}
        self.silent_progress = False
        self.lone_surrogates = self.rng.random() < 0.35
        self.uri_count = 0
        self.stderr_path = ""
        self.reported: set[tuple[str, str, str]] = set()
        self.provoked_missing_model = False
        self.killed_engine = False  # the user is then told the model process stopped

    # -- running -----------------------------------------------------------------------------

    def run(self) -> SessionResult:
        t0 = time.monotonic()
        log_dir = self.log_dir or os.environ.get("TMPDIR", "/tmp")
        self.stderr_path = os.path.join(log_dir, f"airgap-fuzz-{self.seed}.stderr")
        env = dict(self.env if self.env is not None else os.environ)
        env = {k: v for k, v in env.items() if not k.startswith("AIRGAP_LSP_FAKE")}
        self.conn = Connection(
            self.argv,
            env,
            cwd=self.cwd,
            on_request=self._on_server_request,
            stderr_path=self.stderr_path,
        )
        try:
            if self._initialize():
                for _ in range(self.steps):
                    if self.deadline is not None and time.monotonic() > self.deadline:
                        break
                    if self.conn.closed:
                        self.fail("session", "server_exited", "the server closed its output")
                        break
                    self._step()
                    self._check_responses()
                self._sync()
                self._shutdown()
        finally:
            self.conn.kill()
            self._check_server_reports()
            for v in self.conn.violations:
                self.fail("session", "protocol_violation", v)
            self.result.messages = (
                len(self.conn.sent)
                + sum(len(r) for r in self.conn.responses.values())
                + len(self.conn.notifications)
                + len(self.conn.server_requests)
            )
            self.result.seconds = time.monotonic() - t0
            self.result.encoding = self.encoding
            if self.result.failures:
                self.result.trace_path = self._write_trace(log_dir)
        return self.result

    def fail(self, category: str, kind: str, detail: str, uri: str | None = None) -> None:
        key = (category, kind, uri or detail[:80])
        if key in self.reported:  # one failure per kind and document in a session
            return
        self.reported.add(key)
        trace = self.docs[uri].log[-40:] if uri in self.docs else self.conn.sent[-10:]
        self.result.failures.append(Failure(category, kind, detail, list(trace)))
        self.result.failed_categories[category] += 1

    def _count(self, category: str, text: str = "") -> None:
        self.result.categories[category] += 1
        for feature in inputs.features(text):
            self.result.categories[feature] += 1

    def _request(self, method: str, params: Any, category: str, **info: Any) -> Pending:
        self._count(category)
        rid = self.conn.request(method, params, ascii_only=self.rng.random() < 0.5)
        pending = Pending(rid, method, category, sent_at=time.monotonic(), **info)
        self.pending[rid] = pending
        self.since_sync.append(pending)
        self.result.requests += 1
        if self.rng.random() < 0.4 and method != "initialize":
            # A user who pauses: the answer comes before the next keystroke (requests sent
            # back to back mostly supersede each other and answer empty).
            self.conn.wait(rid, self._time_left(pending))
        return pending

    def _time_left(self, p: Pending, timeout: float | None = None) -> float:
        if timeout is None:
            timeout = ACTION_TIMEOUT if p.method in MODEL_ACTIONS else REQUEST_TIMEOUT
        end = p.sent_at + timeout
        if self.hard_deadline is not None:
            end = min(end, self.hard_deadline)
        return max(0.05, end - time.monotonic())

    def _notify(self, method: str, params: Any, category: str, text: str = "") -> None:
        self._count(category, text)
        self.conn.notify(method, params, ascii_only=self.rng.random() < 0.5)

    def _write_trace(self, log_dir: str) -> str:
        path = os.path.join(log_dir, f"airgap-fuzz-{self.seed}.trace.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for message in self.conn.sent:
                f.write(json.dumps(message) + "\n")
        return path

    # -- lifecycle ---------------------------------------------------------------------------

    def _initialize(self) -> bool:
        caps, self.flags = inputs.client_capabilities(self.rng)
        self.silent_progress = self.flags["progress"] and self.rng.random() < 0.03
        if self.silent_progress:
            self._count("client_never_answers_progress")
        options: dict[str, Any] = {
            "models": {"target": self.model, "draft": "", "contextSize": 2048},
            # Shaping off: the random model's text would be trimmed to nothing, and the range
            # oracles need suggestions to check.
            "completion": {"maxTokens": self.rng.choice((4, 8, 16)), "shaping": False},
        }
        root_uri = workspace_uri(self.root)
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "rootUri": root_uri,
            "capabilities": caps,
            "initializationOptions": options,
        }
        if self.rng.random() < 0.5:
            params["workspaceFolders"] = [{"uri": root_uri, "name": "fuzz"}]
        self.config = options
        init = self._request("initialize", params, "initialize")
        response = self.conn.wait(init.rid, self._time_left(init, START_TIMEOUT))
        init.done = True
        if response is None or "result" not in response:
            self.fail("session", "initialize_failed", f"initialize answered {response!r}")
            return False
        caps_out = response["result"].get("capabilities", {})
        self.encoding = caps_out.get("positionEncoding") or "utf-16"
        offered = caps["general"].get("positionEncodings") or ["utf-16"]
        if self.encoding not in [*offered, "utf-16"]:
            self.fail("session", "bad_position_encoding", f"{self.encoding} not in {offered}")
        self._count(f"position_encoding_{self.encoding}")
        self._notify("initialized", {}, "initialize")
        return True

    def _shutdown(self) -> None:
        pending = self._request("shutdown", None, "shutdown")
        response = self.conn.wait(pending.rid, 15.0)  # past any deadline: it must be asked
        pending.done = True
        if response is None or "error" in response:
            self.fail("session", "shutdown_failed", f"shutdown answered {response!r}")
            return
        self._notify("exit", None, "shutdown")
        code = self.conn.wait_exit(15)
        if code != 0:
            self.fail("session", "exit_status", f"exit status {code!r} after shutdown + exit")

    # -- steps -------------------------------------------------------------------------------

    def _step(self) -> None:
        rng = self.rng
        open_docs = [d for d in self.docs.values() if d.open]
        closed = [d for d in self.docs.values() if not d.open]
        busy = sum(1 for p in self.since_sync if p.method in MODEL_ACTIONS)
        choices: list[tuple[float, Any]] = [
            (8 if len(open_docs) < 5 else 1, self._open),
            (30 if open_docs else 0, self._change),
            (3 if open_docs else 0, self._close),
            (3 if closed else 0, self._reopen),
            (12 if open_docs else 0, self._inline_completion),
            (6 if open_docs else 0, self._completion),
            (9 if open_docs else 0, self._code_action),
            (6 if self.actions and busy < 2 else 0, self._resolve),
            (5 if open_docs and busy < 2 else 0, self._execute_command),
            (5 if self.since_sync else 0, self._cancel),
            (3, self._configuration),
            (2 if open_docs else 0, self._save),
            (4, self._odd_message),
            (4, self._sync),
            (1, self._kill_engine),
        ]
        total = sum(w for w, _ in choices)
        pick = rng.random() * total
        for weight, action in choices:
            pick -= weight
            if pick < 0 and weight > 0:
                action()
                return

    def _kill_engine(self) -> None:
        """Kill the engine's child process as a native crash or the OOM killer would: every
        request must still get its one answer, and the server must go on serving."""
        pids = engine_children(self.conn.proc.pid)
        if not pids:
            return
        sig = self.rng.choice((signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT))
        try:
            os.kill(pids[0], sig)
        except ProcessLookupError:
            return
        self.killed_engine = True
        self._count(f"kill_engine_{sig.name}")

    def _pick_doc(self) -> Doc:
        return self.rng.choice([d for d in self.docs.values() if d.open])

    def _valid_offset(self, text: str) -> int:
        o = self.rng.randint(0, len(text))
        if 0 < o < len(text) and text[o - 1] == "\r" and text[o] == "\n":
            o -= 1
        return o

    def _pos(self, text: str, offset: int) -> Pos:
        return position_of(text, offset, self.encoding)

    def _record(self, doc: Doc, message: dict[str, Any]) -> None:
        doc.log.append(message)

    def _open(self, doc: Doc | None = None) -> None:
        rng = self.rng
        if doc is None:
            self.uri_count += 1
            uri, kind = inputs.uri_for(rng, self.root, self.uri_count)
            if uri in self.docs:
                return
            language = rng.choice(inputs.LANGUAGES)
            doc = Doc(uri, language, inputs.document(rng, self.lone_surrogates), rng.randint(0, 3))
            self.docs[uri] = doc
            self._count(kind)
            category = "open"
        else:
            doc.text = inputs.document(rng, self.lone_surrogates)
            doc.version = rng.randint(0, 3)
            doc.open = True
            doc.generation += 1
            doc.history = {}
            category = "close_reopen"
        doc.history[doc.version] = doc.text
        item = {"uri": doc.uri, "languageId": doc.language, "version": doc.version}
        item["text"] = doc.text
        params = {"textDocument": item}
        self._record(doc, {"method": "textDocument/didOpen", "params": params})
        self._notify("textDocument/didOpen", params, category, doc.text)

    def _reopen(self) -> None:
        doc = self.rng.choice([d for d in self.docs.values() if not d.open])
        self._open(doc)

    def _close(self) -> None:
        doc = self._pick_doc()
        doc.open = False
        params = {"textDocument": {"uri": doc.uri}}
        self._record(doc, {"method": "textDocument/didClose", "params": params})
        self._notify("textDocument/didClose", params, "close_reopen")

    def _change(self) -> None:
        rng = self.rng
        doc = self._pick_doc()
        changes: list[dict[str, Any]] = []
        text = doc.text
        category = "change_incremental"
        added = ""
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            if rng.random() < 0.05:
                text = inputs.document(rng, self.lone_surrogates)
                changes.append({"text": text})
                category = "change_full"
                added += text
                continue
            a = self._valid_offset(text)
            b = min(len(text), a + rng.choice((0, 0, 0, 1, 2, 3, 8, 30)))
            if 0 < b < len(text) and text[b - 1] == "\r" and text[b] == "\n":
                b += 1
            new = inputs.snippet(rng, self.lone_surrogates, rng.choice((0, 1, 1, 2, 4, 10)))
            start, end = self._pos(text, a), self._pos(text, b)
            end_wire = end.wire()
            if rng.random() < 0.03:
                # LSP: a character past the end of its line means the end of that line.
                line_start, line_end = line_spans(text)[end.line]
                end_wire["character"] = units(text[line_start:line_end], self.encoding) + 7
                b = line_end
                category = "change_clamped_column"
            changes.append({"range": {"start": start.wire(), "end": end_wire}, "text": new})
            text = text[:a] + new + text[b:]
            added += new
        doc.version += rng.choice((1, 1, 1, 2))
        doc.text = text
        doc.history[doc.version] = text
        params = {
            "textDocument": {"uri": doc.uri, "version": doc.version},
            "contentChanges": changes,
        }
        self._record(doc, {"method": "textDocument/didChange", "params": params})
        self._notify("textDocument/didChange", params, category, added)

    def _request_position(self, doc: Doc) -> tuple[dict[str, Any], Pos | None, bool, bool]:
        """A cursor: (wire position, parsed, valid, malformed)."""
        rng = self.rng
        text = doc.text
        pos = self._pos(text, self._valid_offset(text))
        r = rng.random()
        if r < 0.8:
            return pos.wire(), pos, True, False
        spans = line_spans(text)
        if r < 0.87:
            odd = Pos(pos.line, pos.character + rng.randint(1, 50))
        elif r < 0.92:
            odd = Pos(len(spans) + rng.randint(0, 3), rng.randint(0, 5))
        elif r < 0.97:
            odd = self._inside_character(text) or Pos(pos.line, 10**6)
        else:
            bad = rng.choice(({"line": -1, "character": 0}, {"line": "1", "character": 0}, {}))
            self._count("malformed_position")
            return bad, None, False, True
        self._count("odd_position")
        return odd.wire(), odd, round_trips(text, odd, self.encoding), False

    def _inside_character(self, text: str) -> Pos | None:
        """A position between the code units of one character (UTF-16 surrogate pair, UTF-8
        multi-byte sequence), when the document has one."""
        wide = [i for i, c in enumerate(text) if units(c, self.encoding) > 1 and c not in "\r\n"]
        if not wide:
            return None
        i = self.rng.choice(wide)
        pos = self._pos(text, i)
        self._count("position_inside_character")
        return Pos(pos.line, pos.character + 1)

    def _inline_completion(self) -> None:
        doc = self._pick_doc()
        wire, pos, ok, malformed = self._request_position(doc)
        params = {
            "textDocument": {"uri": doc.uri},
            "position": wire,
            "context": {"triggerKind": self.rng.choice((1, 2))},
        }
        self._request(
            "textDocument/inlineCompletion",
            params,
            "inline_completion",
            uri=doc.uri,
            version=doc.version,
            text=doc.text,
            position=pos,
            position_ok=ok,
            malformed=malformed,
        )

    def _completion(self) -> None:
        doc = self._pick_doc()
        wire, pos, ok, malformed = self._request_position(doc)
        params = {"textDocument": {"uri": doc.uri}, "position": wire}
        if self.rng.random() < 0.5:
            params["context"] = {"triggerKind": 2, "triggerCharacter": self.rng.choice(".( ")}
        self._request(
            "textDocument/completion",
            params,
            "completion",
            uri=doc.uri,
            version=doc.version,
            text=doc.text,
            position=pos,
            position_ok=ok,
            malformed=malformed,
        )

    def _range(self, doc: Doc) -> dict[str, Any]:
        a = self._valid_offset(doc.text)
        b = self._valid_offset(doc.text)
        a, b = min(a, b), max(a, b)
        return {"start": self._pos(doc.text, a).wire(), "end": self._pos(doc.text, b).wire()}

    def _code_action(self) -> None:
        rng = self.rng
        doc = self._pick_doc()
        diagnostics = []
        for _ in range(rng.choice((0, 0, 1, 2))):
            message = rng.choice(("undefined name 'x'", "", "\n", "E501 line too long", "😀"))
            diagnostics.append({"range": self._range(doc), "message": message, "severity": 1})
            if not message.strip():
                self._count("diagnostic_empty_message")
        context: dict[str, Any] = {"diagnostics": diagnostics}
        if rng.random() < 0.3:
            context["only"] = rng.sample(["quickfix", "refactor", "refactor.rewrite", "source"], 2)
        params = {"textDocument": {"uri": doc.uri}, "range": self._range(doc), "context": context}
        self._request(
            "textDocument/codeAction",
            params,
            "code_action",
            uri=doc.uri,
            version=doc.version,
            text=doc.text,
            generation=doc.generation,
        )

    def _resolve(self) -> None:
        rng = self.rng
        action, version, generation = rng.choice(self.actions)
        action = json.loads(json.dumps(action))
        category = "code_action_resolve"
        malformed = False
        if rng.random() < 0.1:
            action["data"] = rng.choice((None, {}, {"action": "nope", "uri": 5}, "x"))
            category = "code_action_resolve_bad_data"
            malformed = True
        data = action.get("data") if isinstance(action.get("data"), dict) else {}
        uri = str(data.get("uri", ""))
        doc = self.docs.get(uri)
        self._request(
            "codeAction/resolve",
            action,
            category,
            uri=uri,
            version=doc.version if doc else None,
            text=doc.text if doc else None,
            listing_version=version,
            listing_generation=generation,
            generation=doc.generation if doc else None,
            malformed=malformed,
        )

    def _execute_command(self) -> None:
        rng = self.rng
        doc = self._pick_doc()
        r = rng.random()
        malformed = False
        if r < 0.4 and self.commands:
            command = dict(rng.choice(self.commands))
            arguments = list(command.get("arguments") or [])
            name = command["command"]
            if name == "airgap.rewriteSelection" and rng.random() < 0.7:
                arguments.append(rng.choice(("Simplify", "Add type hints", "", "😀 ok")))
            category = "execute_command_listed"
        elif r < 0.8:
            name = rng.choice(("airgap.explain", "airgap.rewriteSelection"))
            arguments = [doc.uri, self._range(doc)]
            if name == "airgap.rewriteSelection" and rng.random() < 0.5:
                arguments.append("Simplify")
            category = "execute_command"
        else:
            name = rng.choice(("airgap.explain", "airgap.rewriteSelection", "airgap.nope"))
            arguments = rng.choice(([], [5], [doc.uri], [doc.uri, "range"], [None, {}], [{}]))
            category = "execute_command_bad_arguments"
            malformed = True
        doc_uri = arguments[0] if arguments and isinstance(arguments[0], str) else None
        known = self.docs.get(doc_uri) if doc_uri else None
        self._request(
            "workspace/executeCommand",
            {"command": name, "arguments": arguments},
            category,
            uri=doc_uri,
            version=known.version if known else None,
            text=known.text if known else None,
            malformed=malformed,
        )

    def _cancel(self) -> None:
        rng = self.rng
        # Any request since the last sync (running, queued or answered): which ones are still
        # running depends on timing, and the script must not.
        open_ids = [p.rid for p in self.since_sync]
        if open_ids and rng.random() < 0.85:
            rid = rng.choice(open_ids)
            self.pending[rid].cancelled = True
            self._notify("$/cancelRequest", {"id": rid}, "cancel")
        else:
            self._notify("$/cancelRequest", {"id": rng.choice((10**6, "nope"))}, "cancel_unknown")

    def _configuration(self) -> None:
        rng = self.rng
        raw, category, missing = inputs.settings(rng, self.model)
        if rng.random() < 0.25:
            # Settings without a payload: a client with `workspace/configuration` is asked.
            self.config = raw
            self._notify("workspace/didChangeConfiguration", {"settings": None}, "config_pull")
        else:
            self._notify(
                "workspace/didChangeConfiguration", {"settings": {"airgap": raw}}, category
            )
        self.provoked_missing_model |= missing

    def _save(self) -> None:
        doc = self._pick_doc()
        params: dict[str, Any] = {"textDocument": {"uri": doc.uri}}
        if self.rng.random() < 0.5:
            params["text"] = doc.text
        self._notify("textDocument/didSave", params, "save")

    def _odd_message(self) -> None:
        rng = self.rng
        kind = rng.choice(
            ("unknown_request", "unknown_notification", "stats", "progress_cancel", "ghost_doc")
        )
        if kind == "unknown_request":
            self._request("airgap/nope", {"x": 1}, "unknown_request", malformed=True)
        elif kind == "unknown_notification":
            self._notify("airgap/nope", {"x": 1}, "unknown_notification")
        elif kind == "stats":
            method = rng.choice(("airgap/stats", "airgap/actionStats"))
            if rng.random() < 0.3:  # JSON-RPC lets a request leave out params
                self._request(method, None, "request_without_params", malformed=True)
            else:
                self._request(method, {}, "stats")
        elif kind == "progress_cancel":
            tokens = self.progress_pool
            token = rng.choice(tokens) if tokens else "nope"
            self._notify("window/workDoneProgress/cancel", {"token": token}, "progress_cancel")
        else:
            # A change and a close for a document that was never opened.
            uri = workspace_uri(self.root) + "/never-opened.py"
            rng_range = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
            self._notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": 2},
                    "contentChanges": [{"range": rng_range, "text": "x"}],
                },
                "change_unopened_document",
            )
            self._notify("textDocument/didClose", {"textDocument": {"uri": uri}}, "close_unopened")

    # -- server requests ---------------------------------------------------------------------

    def _on_server_request(self, method: str, params: Any) -> Any:
        """Runs on the reader thread: answer as a client would."""
        rng = self.rng_server
        if method == "workspace/configuration":
            items = (params or {}).get("items") or []
            if rng.random() < 0.1:
                return [None] * len(items)
            return [self.config for _ in items]
        if method == "window/workDoneProgress/create":
            self.progress_tokens.append((params or {}).get("token"))
            if self.silent_progress:
                return SILENT
            if rng.random() < 0.1:
                raise ServerRequestError(-32603, "the fuzz client refuses this token")
            return None
        if method == "workspace/applyEdit":
            self._check_workspace_edit((params or {}).get("edit") or {}, None, "apply_edit")
            return {"applied": False, "failureReason": "the fuzz client applies nothing"}
        if method == "window/showDocument":
            return {"success": rng.random() < 0.7}
        if method == "window/showMessageRequest":
            actions = (params or {}).get("actions") or []
            if actions and rng.random() < 0.7:
                return rng.choice(actions)
            return None
        if method in ("client/registerCapability", "client/unregisterCapability"):
            return None
        raise ServerRequestError(-32601, f"the fuzz client does not handle {method}")

    @property
    def rng_server(self) -> random.Random:
        # A second generator for the reader thread: its answers do not shift the main script.
        if not hasattr(self, "_rng_server"):
            self._rng_server = random.Random(self.seed * 7919 + 1)
        return self._rng_server

    # -- oracles -----------------------------------------------------------------------------

    def _check_responses(self) -> None:
        for rid, received in list(self.conn.responses.items()):
            pending = self.pending.get(rid) if isinstance(rid, int) else None
            if pending is None:
                self.fail("session", "response_to_unknown_id", f"id {rid!r}")
                continue
            if len(received) > 1 and not pending.duplicate_reported:
                pending.duplicate_reported = True
                detail = f"{len(received)} responses to {rid}"
                self.fail(pending.category, "duplicate_response", detail)
            if pending.done:
                continue
            pending.done = True
            self.result.checks["responses"] += 1
            self._check_response(pending, received[0].message)

    def _sync(self) -> None:
        """Wait for every outstanding response, then compare every document with the server's."""
        self._count("sync")
        for pending in list(self.pending.values()):
            if pending.done:
                continue
            if self.conn.wait(pending.rid, self._time_left(pending)) is None:
                pending.done = True
                waited = time.monotonic() - pending.sent_at
                self.fail(
                    pending.category,
                    "no_response",
                    f"{pending.method} id {pending.rid} unanswered after {waited:.0f} s"
                    f" (cancelled: {pending.cancelled})",
                    pending.uri,
                )
        self._check_responses()
        for doc in list(self.docs.values()):
            rid = self.conn.request(DEBUG_DOCUMENT, {"uri": doc.uri})
            probe = Pending(rid, DEBUG_DOCUMENT, "sync", done=True, sent_at=time.monotonic())
            self.pending[rid] = probe
            response = self.conn.wait(rid, self._time_left(probe))
            if response is None or "error" in response:
                self.fail("sync", "debug_request_failed", f"{doc.uri}: {response!r}")
                continue
            view = response["result"]
            self._compare(doc, view)
        for rid in sorted(self.listed):
            self._collect_actions(*self.listed[rid])
        self.listed.clear()
        self.progress_pool = [t for t in self.progress_tokens if t is not None]
        self.since_sync = []

    def _compare(self, doc: Doc, view: dict[str, Any] | None) -> None:
        self.result.checks["documents_compared"] += 1
        if not doc.open:
            if view is not None:
                self.fail("close_reopen", "closed_document_kept", doc.uri, doc.uri)
            return
        if view is None:
            self.fail("document_sync", "document_not_found", f"{doc.uri} is open", doc.uri)
            return
        server = _unwire(view.get("text16"))
        context = _unwire(view.get("context16"))
        if server is None or not same_text(server, doc.text):
            self.fail(
                "document_sync",
                "text_mismatch",
                f"{doc.uri} v{doc.version}: server {server!r:.300} != reference {doc.text!r:.300}",
                doc.uri,
            )
        elif context is not None and not same_text(context, doc.text):
            self.fail(
                "document_sync",
                "context_text_mismatch",
                f"{doc.uri} v{doc.version}: context {context!r:.300} != {doc.text!r:.300}",
                doc.uri,
            )
        if view.get("oneText") is False:
            self.fail("document_sync", "two_texts", f"{doc.uri}: the context keeps a copy", doc.uri)
        if view.get("version") != doc.version:
            self.fail(
                "document_sync",
                "version_mismatch",
                f"{doc.uri}: server v{view.get('version')} != v{doc.version}",
                doc.uri,
            )

    def _check_response(self, p: Pending, response: dict[str, Any]) -> None:
        if "error" in response:
            code = response["error"].get("code")
            if p.cancelled and code == REQUEST_CANCELLED:
                return
            if p.malformed:
                return
            self.fail(
                p.category,
                "error_response",
                f"{p.method} answered error {code}: {response['error'].get('message', '')[:1500]}",
                p.uri,
            )
            return
        result = response.get("result")
        if p.method == "textDocument/inlineCompletion":
            self._check_inline(p, result)
        elif p.method == "textDocument/completion":
            self._check_completion(p, result)
        elif p.method == "textDocument/codeAction":
            self.listed[p.rid] = (p, result)
        elif p.method == "codeAction/resolve" and isinstance(result, dict):
            edit = result.get("edit")
            if edit:
                self._check_resolved_edit(p, edit)

    def _check_range(self, p: Pending, rng: Any, text: str, where: str) -> tuple[Pos, Pos] | None:
        self.result.checks["ranges"] += 1
        try:
            start = Pos(int(rng["start"]["line"]), int(rng["start"]["character"]))
            end = Pos(int(rng["end"]["line"]), int(rng["end"]["character"]))
        except (KeyError, TypeError, ValueError):
            self.fail(p.category, "malformed_range", f"{where}: {rng!r}", p.uri)
            return None
        for pos in (start, end):
            if pos == p.position and not p.position_ok:
                continue  # the client's own odd cursor echoed back
            if not round_trips(text, pos, self.encoding):
                self.fail(
                    p.category,
                    "range_outside_document",
                    f"{where}: {pos} in {text!r:.300} ({self.encoding})",
                    p.uri,
                )
                return None
        a = offset_of(text, start, self.encoding)
        b = offset_of(text, end, self.encoding)
        if a is not None and b is not None and a > b:
            self.fail(p.category, "range_reversed", f"{where}: {rng!r}", p.uri)
            return None
        return start, end

    def _check_inline(self, p: Pending, result: Any) -> None:
        if result is None:
            return
        items = result.get("items") if isinstance(result, dict) else result
        if not isinstance(items, list):
            self.fail(p.category, "malformed_result", repr(result)[:300], p.uri)
            return
        if items and p.position is not None and not p.position_ok:
            self.fail(
                p.category,
                "suggestion_at_invalid_position",
                f"{p.position} is not a position of {p.text!r:.200} ({self.encoding})",
                p.uri,
            )
        for item in items:
            if "range" in item and p.text is not None:
                self._check_range(p, item["range"], p.text, "inlineCompletion item range")

    def _check_completion(self, p: Pending, result: Any) -> None:
        if result is None or p.text is None:
            return
        items = result.get("items") if isinstance(result, dict) else result
        for item in items or []:
            edit = item.get("textEdit")
            if not edit:
                continue
            rng = edit.get("range") or edit.get("replace")
            checked = self._check_range(p, rng, p.text, "completion textEdit")
            if checked is None or p.position is None or not p.position_ok:
                continue
            start, end = checked
            detail = f"{rng} vs {p.position}"
            if not (start.line == end.line == p.position.line):
                self.fail(p.category, "completion_edit_not_on_cursor_line", detail, p.uri)
            elif not (start.character <= p.position.character <= end.character):
                self.fail(p.category, "completion_edit_misses_cursor", detail, p.uri)

    def _collect_actions(self, p: Pending, result: Any) -> None:
        for action in result or []:
            if not isinstance(action, dict):
                continue
            command = action.get("command")
            if isinstance(command, dict):
                self.commands.append(command)
            if "data" in action and p.version is not None and p.generation is not None:
                self.actions.append((action, p.version, p.generation))
        del self.actions[:-30]
        del self.commands[:-30]

    def _check_resolved_edit(self, p: Pending, edit: dict[str, Any]) -> None:
        touched = {
            (c.get("textDocument") or {}).get("uri") for c in edit.get("documentChanges") or []
        } | set(edit.get("changes") or {})
        if p.generation != p.listing_generation and p.uri in touched:
            self.fail(
                p.category,
                "edit_after_reopen",
                f"{p.uri}: listed before a close and reopen, still resolved to an edit",
                p.uri,
            )
            return
        stale = p.listing_version is not None and p.version != p.listing_version
        self._check_workspace_edit(edit, p, "resolve", doc_uri=p.uri, stale_unversioned=stale)

    def _check_workspace_edit(
        self,
        edit: dict[str, Any],
        p: Pending | None,
        where: str,
        doc_uri: str | None = None,
        stale_unversioned: bool = False,
    ) -> None:
        probe = p or Pending(0, "workspace/applyEdit", "execute_command")
        changes: list[tuple[str, int | None, list[Any]]] = []
        for uri, edits in (edit.get("changes") or {}).items():
            changes.append((uri, None, edits))
            if uri == doc_uri and stale_unversioned:
                self.fail(
                    probe.category,
                    "stale_unversioned_edit",
                    f"{uri}: listed at v{probe.listing_version}, resolved at v{probe.version}",
                    uri,
                )
        for change in edit.get("documentChanges") or []:
            if change.get("kind") == "create":
                self._check_new_file(probe, change.get("uri", ""))
                continue
            ident = change.get("textDocument") or {}
            changes.append((ident.get("uri", ""), ident.get("version"), change.get("edits") or []))
            if (
                ident.get("uri") == doc_uri
                and probe.listing_version is not None
                and ident.get("version") is not None
                and ident.get("version") != probe.listing_version
            ):
                self.fail(
                    probe.category,
                    "edit_version_differs_from_listing",
                    f"{doc_uri}: listed at v{probe.listing_version}, "
                    f"edit for v{ident.get('version')}",
                    doc_uri,
                )
        for uri, version, edits in changes:
            doc = self.docs.get(uri)
            if doc is None:
                same = [d.uri for d in self.docs.values() if _spelling(d.uri) == _spelling(uri)]
                if same:  # an editor keys documents by the exact URI it sent
                    self.fail(probe.category, "edit_uri_respelled", f"{uri} for {same[0]}", uri)
                else:
                    self._check_new_file(probe, uri)
                continue
            if version is not None:
                text = doc.history.get(version)
                if text is None:
                    self.fail(probe.category, "edit_for_unknown_version", f"{uri} v{version}", uri)
                    continue
            else:
                text = doc.text
            for e in edits:
                self._check_range(probe, e.get("range"), text, f"{where} edit of {uri}")

    def _check_new_file(self, p: Pending, uri: str) -> None:
        path = path_of(uri)
        root = os.path.realpath(self.root)
        if path is None or not (path == root or path.startswith(root + os.sep)):
            self.fail(p.category, "generated_file_outside_workspace", f"{uri} (root {root})", p.uri)

    def _check_server_reports(self) -> None:
        try:
            text = Path(self.stderr_path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        for error, block in _tracebacks(text):
            if error.startswith(CLIENT_ERRORS):
                continue  # a malformed request, answered with an error as it should be
            self.fail("session", "server_traceback", f"{error}\n{block[-1500:]}")
        for note in self.conn.notifications:
            message = note.message
            if message.get("method") != "window/showMessage":
                continue
            params = message.get("params") or {}
            text = str(params.get("message", ""))
            # "cannot load the model: ..." or "cannot load the new model: ...; still using ..."
            expected = (self.provoked_missing_model and "cannot load the" in text) or (
                self.killed_engine and "the model process" in text
            )
            if params.get("type") == 1 and not expected:
                self.fail("session", "error_message_to_user", text[:1500])


CLIENT_ERRORS = (
    "pygls.exceptions.JsonRpcInvalidParams",
    "pygls.exceptions.JsonRpcMethodNotFound",
)


def _tracebacks(log: str) -> list[tuple[str, str]]:
    """(exception line, traceback) for each distinct exception in a log, chained ones last."""
    found: dict[str, str] = {}
    lines = log.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("Traceback (most recent call last)"):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and (lines[j].startswith(" ") or not lines[j]):
            j += 1
        if j < len(lines):
            found.setdefault(lines[j], "\n".join(lines[i : j + 1]))
        i = j + 1
    return list(found.items())


def _spelling(uri: str) -> str:
    """A URI with percent-escapes decoded and the drive letter in lower case."""
    text = unquote(uri)
    return re.sub(r"^file:///([A-Za-z]):", lambda m: f"file:///{m.group(1).lower()}:", text)


def _unwire(value: str | None) -> str | None:
    if value is None:
        return None
    return base64.b64decode(value).decode("utf-16-le", "surrogatepass")
