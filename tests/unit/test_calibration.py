"""The calibration cache: a hit only for the same CPU, build, model file, threads and GPU
layers; a corrupt file is ignored with a log line and rewritten; the draft decision."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from airgap_lsp.completion import calibration
from airgap_lsp.completion.calibration import Background, CalibrationCache, Costs, Key, decide_draft
from airgap_lsp.completion.worker import ModelWorker

CPU = Costs({1: 31.0, 2: 57.0, 4: 100.0, 8: 218.0, 16: 264.0, 32: 392.0}, 9.5)
GPU = Costs({1: 20.0, 2: 20.5, 4: 21.0, 8: 22.0, 16: 25.0, 32: 30.0}, 0.4)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    return path


@pytest.fixture
def cache(tmp_path: Path) -> CalibrationCache:
    return CalibrationCache(tmp_path / "cache" / "calibration.json")


def test_a_stored_calibration_is_found_again(cache: CalibrationCache, model_file: Path) -> None:
    key = Key.of(model_file, threads=2, gpu_layers=0)
    assert cache.get(key) is None
    cache.put(key, CPU)
    again = CalibrationCache(cache.path).get(Key.of(model_file, threads=2, gpu_layers=0))
    assert again == CPU


def test_threads_zero_means_all_cores(model_file: Path) -> None:
    assert Key.of(model_file, 0, 0) == Key.of(model_file, os.cpu_count() or 1, 0)


@pytest.mark.parametrize("change", ["mtime", "header", "size", "cpu", "build", "threads", "gpu"])
def test_a_key_change_invalidates(
    change: str,
    cache: CalibrationCache,
    model_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache.put(Key.of(model_file, 2, 0), CPU)
    threads, gpu = 2, 0
    st = model_file.stat()
    if change == "mtime":
        os.utime(model_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    elif change == "header":  # same size and mtime, other bytes at the start
        data = bytearray(model_file.read_bytes())
        data[10] ^= 0xFF
        model_file.write_bytes(bytes(data))
        os.utime(model_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "size":
        with open(model_file, "ab") as f:
            f.write(b"\0")
        os.utime(model_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "cpu":
        monkeypatch.setitem(calibration._identities, calibration.cpu_identity, "another CPU")
    elif change == "build":
        monkeypatch.setitem(calibration._identities, calibration.build_identity, "llama 9.9")
    elif change == "threads":
        threads = 1
    elif change == "gpu":
        gpu = 99
    assert cache.get(Key.of(model_file, threads, gpu)) is None


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"format": 999, "entries": {}}),
        json.dumps({"format": calibration.FORMAT, "entries": []}),
        "\0\0\0",
    ],
)
def test_a_corrupt_file_is_ignored_with_a_log_line(
    content: str, cache: CalibrationCache, model_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache.path.parent.mkdir(parents=True)
    cache.path.write_text(content)
    key = Key.of(model_file, 2, 0)
    with caplog.at_level(logging.WARNING, logger="airgap_lsp.completion.calibration"):
        assert cache.get(key) is None
    assert any("calibration cache" in r.message and "ignored" in r.message for r in caplog.records)
    cache.put(key, CPU)  # the next refresh rewrites it
    assert cache.get(key) == CPU


def test_a_corrupt_entry_is_ignored_with_a_log_line(
    cache: CalibrationCache, model_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = Key.of(model_file, 2, 0)
    cache.put(key, CPU)
    raw = json.loads(cache.path.read_text())
    raw["entries"][key.digest()]["verify_ms"] = {"1": -3}
    cache.path.write_text(json.dumps(raw))
    with caplog.at_level(logging.WARNING, logger="airgap_lsp.completion.calibration"):
        assert cache.get(key) is None
    assert any("entry ignored" in r.message for r in caplog.records)


def test_the_cache_stays_bounded(cache: CalibrationCache, tmp_path: Path) -> None:
    for i in range(calibration.MAX_ENTRIES + 5):
        path = tmp_path / f"m{i}.gguf"
        path.write_bytes(b"GGUF%d" % i)
        cache.put(Key.of(path, 2, 0), CPU)
    assert len(json.loads(cache.path.read_text())["entries"]) == calibration.MAX_ENTRIES


def test_the_draft_is_left_out_where_it_cannot_pay() -> None:
    # This machine's numbers: verifying k tokens costs nearly k steps; a 0.5B step ≈ 0.36 of
    # the 1.5B's by file size.
    d = decide_draft(CPU, None, 1_100_000_000, 400_000_000, gpu_layers=0, k_max=8)
    assert not d.load
    assert "cannot pay" in d.reason and "estimated" in d.reason
    measured = decide_draft(CPU, Costs({1: 18.0}), 1_100_000_000, 400_000_000, 0, 8)
    assert not measured.load and "measured" in measured.reason


def test_the_draft_is_loaded_where_it_pays_or_when_asked_for() -> None:
    assert decide_draft(GPU, Costs({1: 2.0}), 9_000_000_000, 800_000_000, 99, 8).load
    assert decide_draft(GPU, None, 9_000_000_000, 800_000_000, 99, 8).load
    assert decide_draft(CPU, None, 1_100_000_000, 400_000_000, 0, 8, forced=True).load


def test_without_measurements_a_cpu_does_not_load_the_draft_and_a_gpu_does() -> None:
    assert not decide_draft(None, None, 1_100_000_000, 400_000_000, 0, 8).load
    assert decide_draft(None, None, 1_100_000_000, 400_000_000, 99, 8).load


class _FakeRefresh:
    """Measures until aborted or 0.3 s have passed."""

    def __init__(self) -> None:
        self.done = False
        self.runs = 0
        self.started = threading.Event()

    def run(self, abort: Callable[[], bool]) -> bool:
        self.runs += 1
        self.started.set()
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            if abort():
                return False
            time.sleep(0.005)
        self.done = True
        return True


def test_the_background_calibration_starts_after_a_suggestion_and_yields_to_requests() -> None:
    worker = ModelWorker()
    try:
        refresh = _FakeRefresh()
        background = Background(worker)
        background.pause()  # nothing to pause yet
        background.after_suggestion(refresh)  # type: ignore[arg-type]
        assert refresh.started.wait(5)
        background.after_suggestion(refresh)  # type: ignore[arg-type]  # running: not twice
        background.pause()  # a request came
        deadline = time.monotonic() + 5
        while worker.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        assert refresh.runs == 1 and not refresh.done
        background.after_suggestion(refresh)  # type: ignore[arg-type]  # the next suggestion
        deadline = time.monotonic() + 5
        while not refresh.done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert refresh.done and refresh.runs == 2
        background.after_suggestion(refresh)  # type: ignore[arg-type]  # done: never again
        time.sleep(0.05)
        assert refresh.runs == 2
    finally:
        worker.close()


def test_costs_measured_on_a_busy_machine_are_not_plausible() -> None:
    assert calibration.plausible(CPU) and calibration.plausible(GPU)
    # Measured at a load average of 8 on this machine: one step 4.9 s, a batch of 8 2.0 s.
    busy = Costs({1: 4861.0, 2: 4860.0, 4: 2299.0, 8: 1989.0, 16: 2081.0, 32: 3167.0}, 104.6)
    assert not calibration.plausible(busy)
    assert decide_draft(busy, None, 1_100_000_000, 400_000_000, 0, 8).load  # why it matters
