"""The latency suite without a model: keystroke/debounce/cancel logic, the LSP driver against the
fake backend, and the `/infill` driver against a stand-in HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from benchmarks import latency
from benchmarks.latency_infill import infill_body, render
from benchmarks.latency_session import Outcome, Typing, keystrokes, match_length, run_task
from benchmarks.latency_tasks import LatencyTask, load_tasks
from benchmarks.llama_server import LlamaServer

FAST = ["--cps", "30", "--debounce-ms", "20", "--max-chars", "45", "--request-timeout", "15"]


def test_keystrokes_group_newline_and_indentation() -> None:
    assert keystrokes("    x = 1\n    return x\n") == [
        "    ",
        "x",
        " ",
        "=",
        " ",
        "1",
        "\n    ",
        *"return x",
        "\n",
    ]
    assert "".join(keystrokes("a\n\tb")) == "a\n\tb"


def test_a_suggestion_is_accepted_only_when_it_matches_what_comes_next() -> None:
    assert match_length("return x", "return x\n", "body") == 8
    assert match_length("return y", "return x\n", "body") == 0
    assert match_length("   ", "   x", "body") == 0
    assert match_length("return x  ", "return x\nmore", "line") == len("return x")
    assert match_length("return x  ", "return x\nmore", "body") == 0


def test_llama_server_helper_only_uses_loopback() -> None:
    with pytest.raises(ValueError):
        LlamaServer(host="10.0.0.1")
    command = LlamaServer(port=8012).command()
    assert command[command.index("--host") + 1] == "127.0.0.1"
    for flag, value in (("--port", "8012"), ("-c", "4096"), ("--cache-reuse", "256"), ("-t", "2")):
        assert command[command.index(flag) + 1] == value
    assert command[command.index("-m") + 1].endswith("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")


def test_infill_request_mirrors_llama_vim() -> None:
    text = "def f(x):\n    y = x\n    \n"
    body = infill_body(text, text.index("y = x") + 4, "line")
    assert body["input_prefix"] == "def f(x):\n"
    assert body["prompt"] == "    y = "
    assert body["input_suffix"].startswith("x\n")
    assert body["n_indent"] == 4 and body["stop"] == ["\n"]
    assert body["t_max_predict_ms"] > 0 and body["cache_prompt"] is True
    blank = infill_body(text, len("def f(x):\n    y = x\n    "), "body")
    assert blank["prompt"] == "" and blank["n_indent"] == 0 and "stop" not in blank
    # On a whitespace-only line the typed indentation is not shown again.
    assert render("    return y\n", text, len("def f(x):\n    y = x\n    ")) == "return y"
    assert render("\n\n", text, 3) is None


class _Scripted:
    """An in-process transport: answers after `delay_s` with what the user will type next."""

    abandons = False
    name = "scripted"

    def __init__(self, task: LatencyTask, delay_s: float, oracle: bool) -> None:
        self.full = task.prefix + task.expected + task.suffix
        self.delay_s = delay_s
        self.oracle = oracle
        self.sent = 0
        self.cancelled = 0

    async def open(self, uri: str, text: str) -> None:
        return None

    async def change(self, uri: str, version: int, offset: int, inserted: str, text: str) -> None:
        return None

    async def close(self, uri: str) -> None:
        return None

    def request(self, uri: str, text: str, offset: int, kind: str) -> Any:
        self.sent += 1
        transport = self
        rest = self.full[offset:].split("\n", 1)[0] if self.oracle else "nope"

        class Pending:
            cancelled = False

            def cancel(self) -> None:
                self.cancelled = True
                transport.cancelled += 1

            async def outcome(self) -> Outcome:
                await asyncio.sleep(transport.delay_s)
                return Outcome(None, cancelled=True) if self.cancelled else Outcome(rest)

        return Pending()


async def test_session_accepts_matching_suggestions_and_cancels_on_keystrokes() -> None:
    task = load_tasks(0, 1)[0]
    typing = Typing(chars_per_second=40, debounce_ms=10, max_chars=80)

    oracle = _Scripted(task, 0.005, oracle=True)
    run = await run_task(oracle, task, "file:///t.py", typing)
    assert run.first_suggestion and task.expected.startswith(run.first_suggestion)
    assert run.accepted_chars > run.typed_chars  # whole lines accepted as they are shown
    assert run.requests[0].phase == "first"
    assert all(r.phase == "typing" for r in run.requests[1:])

    slow = _Scripted(task, 0.2, oracle=False)
    run = await run_task(slow, task, "file:///t.py", typing)
    typing_requests = [r for r in run.requests if r.phase == "typing"]
    assert typing_requests and slow.cancelled > 0
    assert sum(r.cancel_sent for r in typing_requests) == slow.cancelled
    assert run.accepted_chars == 0 and 80 <= run.typed_chars < 100


def test_suite_against_the_fake_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRGAP_LSP_FAKE_BACKEND", "1")
    monkeypatch.setenv("AIRGAP_LSP_FAKE_DELAY_MS", "300")
    args = ["--quick", "--configs", "auto", "--tasks", "2", "--bodies", "1", *FAST]
    args += ["--log-level", "info", "--results-dir", str(tmp_path)]
    plan = latency.plan_from(latency.parse_args(args))
    results, paths = asyncio.run(latency.run_suite(plan))
    (result,) = results
    assert result.error is None, result.error
    # The server's info records (one per request) reach the configuration's log file, not
    # only its warnings on stderr.
    assert " INFO " in (tmp_path / "latency_quick_auto.log").read_text()
    for key in ("json", "md", "png_first", "png_typing", "png_typing_line"):
        assert paths[key].exists() and paths[key].stat().st_size > 0
    assert paths["png_first"].read_bytes()[:4] == b"\x89PNG"
    data = json.loads(paths["json"].read_text())
    m = data["meta"]["configs"]["auto"]["metrics"]
    # The first request on each document is recorded apart from those while typing.
    assert m["first"]["count"] == 3 and len(m["first_ms"]) == 3
    assert all(v >= 250 for v in m["first_ms"])  # the fake backend's 300 ms delay
    assert m["requests"] > 0 and m["keystrokes"] > 0
    assert m["typing"]["count"] > 0  # answered during the user's pauses
    assert m["cancelled_share"] > 0  # typing faster than the fake backend answers
    assert m["typing"]["count"] + round(m["cancelled_share"] * m["requests"]) <= m["requests"]
    assert m["n_line"] == 2 and m["n_body"] == 1
    assert m["pass1_line"] == 0  # the fake backend's suggestions are not code
    # Each first request's own `airgap/status` timings are tied to it.
    assert m["first_work"]["n"] == 3
    assert data["runs"][0]["name"] == "auto"
    table = paths["md"].read_text()
    assert "| auto |" in table and "pass@1" in table


class _StandIn(BaseHTTPRequestHandler):
    tasks: ClassVar[list[LatencyTask]] = []
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        before = body["input_prefix"] + body["prompt"]
        rest_of_line = body["input_suffix"].split("\n", 1)[0]
        content = ""
        for task in self.tasks:
            program = task.prefix + task.expected + task.suffix
            if program.startswith(before) and task.suffix.split("\n", 1)[0] == rest_of_line:
                content = program[len(before) :].split("\n", 1)[0]
                break
        time.sleep(0.05)
        timings = {"timings/prompt_n": 40, "timings/prompt_ms": 400.0, "timings/predicted_n": 5}
        payload = json.dumps({"content": content, **timings}).encode()
        with contextlib.suppress(OSError):  # the client closed an abandoned request
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:
        return None


@pytest.fixture
def stand_in() -> Iterator[str]:
    _StandIn.tasks = load_tasks(2, 1)
    _StandIn.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/infill"
    finally:
        server.shutdown()
        server.server_close()


def test_infill_driver_against_a_stand_in_server(tmp_path: Path, stand_in: str) -> None:
    args = ["--quick", "--tasks", "2", "--bodies", "1", "--infill-url", stand_in, *FAST]
    args += ["--configs", "none", "--results-dir", str(tmp_path)]
    plan = latency.plan_from(latency.parse_args(args))
    assert plan.configs == ()
    results, paths = asyncio.run(latency.run_suite(plan))
    (result,) = results
    assert result.name == "infill" and result.error is None and result.abandons
    m = json.loads(paths["json"].read_text())["meta"]["configs"]["infill"]["metrics"]
    assert m["first"]["count"] == 3
    tasks = json.loads(paths["json"].read_text())["meta"]["configs"]["infill"]["tasks"]
    assert m["accepted_suggestions"] >= 3, tasks  # the stand-in always knows the next line
    assert m["pass1_line"] == 1.0  # and its first suggestion is the canonical line
    sent = _StandIn.bodies
    assert sent and all("n_indent" in b and "t_max_predict_ms" in b for b in sent)
    assert any(b.get("stop") == ["\n"] for b in sent)
    assert "abandons the HTTP request" in paths["md"].read_text()
    # The engine's work behind each first request, from llama-server's `timings`.
    assert m["first_work"]["n"] == 3 and m["first_work"]["evaluated_p50"] == 40
    assert "prompt tokens evaluated p50" in paths["md"].read_text()


def test_the_realistic_first_request_rests_the_cursor_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stand_in: str
) -> None:
    """Read, rest, then ask: our server gets the `airgap/cursor` hint and answers the first
    request from the pre-warm (never from a model run of its own); the /infill endpoint gets
    llama.vim's `n_predict: 0` warm-up before the first request."""
    monkeypatch.setenv("AIRGAP_LSP_FAKE_BACKEND", "1")
    monkeypatch.setenv("AIRGAP_LSP_FAKE_DELAY_MS", "300")
    args = ["--quick", "--configs", "auto", "--tasks", "2", "--bodies", "0", *FAST]
    args += ["--infill-url", stand_in, "--scenario", "realistic", "--results-dir", str(tmp_path)]
    plan = latency.plan_from(latency.parse_args(args))
    results, paths = asyncio.run(latency.run_suite(plan))
    assert [r.name for r in results] == ["auto (realistic)", "infill (realistic)"]
    assert all(r.error is None for r in results), [r.error for r in results]
    configs = json.loads(paths["json"].read_text())["meta"]["configs"]
    ours = configs["auto (realistic)"]["metrics"]
    assert ours["first"]["count"] == 2 and ours["requests"] == 0  # first requests only
    assert ours["prefetch_rate"] == 1.0  # both answered by the pre-warm at the resting cursor
    assert configs["infill (realistic)"]["metrics"]["first"]["count"] == 2
    warm = [b for b in _StandIn.bodies if b.get("n_predict") == 0]
    assert len(warm) == 2 and all(b["input_extra"][0]["text"] for b in warm)
    assert "(realistic)" in paths["md"].read_text()


def test_same_file_scenario_names_a_task_after_its_problem() -> None:
    tasks = load_tasks(3, 1, "file")
    own = {latency._uri(t) for t in tasks}
    shared = {latency._uri(t, same_file=True) for t in tasks}
    assert len(own) == 4  # a file per task
    assert shared == {"file:///airgap-latency/HumanEval_0.py"}  # the first tasks: one problem
