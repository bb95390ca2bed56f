"""End to end: real headless Neovim, the real airgap-lsp server.

Owns: opening a function stub, waiting for the inline suggestion, accepting it
with the plugin's <Tab> mapping, and checking the written file. The fast
variant runs the server with AIRGAP_LSP_FAKE_BACKEND=1; the `model` variant
loads the real default models on the CPU.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from editors_harness import SAMPLE, find_server_cmd, run_scenario


def _check(result: dict, file: Path) -> None:
    # Shown with -s or on failure: what was suggested, and how long it took.
    print(json.dumps({k: v for k, v in result.items() if k != "lsp_log"}, indent=1))
    assert result.get("error") is None, result
    assert result["ok"], result
    s = result["steps"]
    assert s["attached"], f"the airgap client never initialized\n{result['lsp_log']}"
    assert s["inline_provider"], "server does not advertise inlineCompletionProvider"
    assert s.get("suggestion"), f"no suggestion shown\n{result}"
    assert s.get("written"), result
    text = file.read_text()
    assert text != SAMPLE, "accepting the suggestion did not change the buffer"
    assert text.startswith(SAMPLE.rstrip(" \n")), text
    body = text[len(SAMPLE.rstrip(" \n")) :]
    assert body.strip(), f"the function body is still empty:\n{text}"
    try:
        ast.parse(text)
    except SyntaxError as err:
        pytest.fail(f"accepted suggestion {s['suggestion']!r} left invalid Python ({err}):\n{text}")


@pytest.fixture
def spaced_sample_file(tmp_path: Path) -> Path:
    """The sample under a directory whose name has a space: Neovim sends its URI with %20."""
    root = tmp_path / "my project"
    root.mkdir()
    (root / ".airgap-test-root").touch()
    path = root / "sample.py"
    path.write_text(SAMPLE)
    return path


def test_nvim_e2e_fake_backend(nvim, sample_file):
    result = run_scenario(
        nvim,
        "scenario_e2e.lua",
        sample_file,
        find_server_cmd(),
        timeout_s=60,
        env={"AIRGAP_LSP_FAKE_BACKEND": "1", "AIRGAP_TEST_READY_S": "30"},
    )
    _check(result, sample_file)


def test_nvim_e2e_fake_backend_in_a_spaced_directory(nvim, spaced_sample_file):
    result = run_scenario(
        nvim,
        "scenario_e2e.lua",
        spaced_sample_file,
        find_server_cmd(),
        timeout_s=60,
        env={"AIRGAP_LSP_FAKE_BACKEND": "1", "AIRGAP_TEST_READY_S": "30"},
    )
    _check(result, spaced_sample_file)


@pytest.mark.model
@pytest.mark.parametrize("where", ["sample_file", "spaced_sample_file"])
def test_nvim_e2e_real_model(nvim, request, where):
    file = request.getfixturevalue(where)
    result = run_scenario(
        nvim,
        "scenario_e2e.lua",
        file,
        find_server_cmd(),
        timeout_s=260,
        env={
            "AIRGAP_LSP_FAKE_BACKEND": None,
            "AIRGAP_TEST_READY_S": "120",
            "AIRGAP_TEST_SUGGEST_S": "120",
        },
    )
    _check(result, file)
