"""The llama-server build that `scripts/test.sh` runs before pytest: the CPU flags are the
in-process wheel's (scripts/cpu_flags.sh), the binary is keyed by sources and flags, and a
second build call with the binary present is a no-op in well under a second."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.llama_server import LLAMA_VERSION, REPO, build_tag, cpu_flags


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.llama_server", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_one_choice_of_cpu_flags_and_one_pinned_version() -> None:
    bootstrap = (REPO / "scripts" / "bootstrap.sh").read_text()
    assert f"LLAMA_VERSION={LLAMA_VERSION}\n" in bootstrap
    assert "ARGS=$(scripts/cpu_flags.sh)" in bootstrap
    flags = cpu_flags()
    assert "-DGGML_NATIVE=OFF" in flags or os.environ.get("AIRGAP_LLAMA_CMAKE_ARGS")


def test_the_build_is_keyed_by_the_flags() -> None:
    avx2 = ["-DGGML_NATIVE=OFF", "-DGGML_AVX2=ON"]
    assert build_tag(avx2) == build_tag(list(avx2))
    assert build_tag(avx2) != build_tag([*avx2, "-DGGML_AVX512=ON"])


def test_a_second_build_is_a_no_op(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path), "AIRGAP_LLAMA_CMAKE_ARGS": "-DGGML_NATIVE=OFF"}
    where = Path(run(["path"], env).stdout.strip())
    assert where.is_relative_to(tmp_path / "airgap-lsp" / "llama-server")
    where.parent.mkdir(parents=True)
    where.write_text("#!/bin/sh\n")  # what an earlier build left
    start = time.monotonic()
    built = run(["build"], env)
    seconds = time.monotonic() - start
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == str(where)
    assert "building" not in built.stderr
    assert seconds < 1.0, seconds  # a Python start-up and one small shell script
    other = run(["path"], {**env, "AIRGAP_LLAMA_CMAKE_ARGS": "-DGGML_NATIVE=OFF -DGGML_AVX=ON"})
    assert Path(other.stdout.strip()) != where  # other flags: another binary
