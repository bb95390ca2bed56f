"""What decoding costs on this machine: measured once, kept on disk, refreshed in the background.

Owns the calibration of the cost model (`adaptive.CostModel`): timing a model's one-token step,
its verification batches by size and its prompt speed; the cache of those numbers under
`~/.cache/airgap-lsp/calibration.json`, keyed by everything that makes them valid (this CPU's
model and flags, the llama.cpp build, the model file's size, mtime and header hash, threads and
GPU layers), so a server start measures nothing it measured before; the refresh that measures
anew after the first suggestion, in steps a request pre-empts; and the decision, taken before a
draft model is loaded, whether drafting with it can pay on this machine.

A changed key is a miss (a new build, a new CPU, a re-downloaded model); a cache file that
cannot be read is ignored with a log line and rewritten by the next refresh.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airgap_lsp.completion.adaptive import CostModel
from airgap_lsp.completion.runtime import Aborted
from airgap_lsp.completion.worker import PREFETCH, CancelToken, ModelWorker

if TYPE_CHECKING:
    from airgap_lsp.completion.engine import Engine
    from airgap_lsp.completion.runtime import LlamaContext

log = logging.getLogger(__name__)

SIZES = (1, 2, 4, 8, 16, 32)  # verification batch sizes measured
PROMPT_TOKENS = 64  # the batch that measures prompt speed
HEADER_BYTES = 1 << 20  # hashed from the start of a model file (the GGUF header and more)
MAX_ENTRIES = 64
FORMAT = 1
CACHE_ENV = "AIRGAP_LSP_CALIBRATION_CACHE"  # another cache file (tests, benchmarks)
_TEXT = "def calibrate(x):\n    return [x * i for i in range(64)]\n" * 8

AbortCheck = Callable[[], bool]


# -- what the numbers are valid for ------------------------------------------------------------


def cpu_identity() -> str:
    """This CPU's model and feature flags (Linux: /proc/cpuinfo), else what platform says."""
    wanted = ("model name", "flags", "features", "cpu implementer", "cpu part", "hardware")
    seen: dict[str, str] = {}
    with (
        contextlib.suppress(OSError),
        open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f,
    ):
        for line in f:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if not line.strip() and seen:
                break  # the first processor describes them all
            if name in wanted and name not in seen:
                seen[name] = " ".join(value.split())
    parts = [f"{k}={v}" for k, v in sorted(seen.items())]
    parts.append(f"{platform.system()}/{platform.machine()}/{platform.processor()}")
    return "; ".join(parts)


def build_identity() -> str:
    """llama-cpp-python's version and the identity of the llama.cpp libraries it loads (the
    same version compiled with other flags is another build). Never imports llama_cpp."""
    try:
        version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    libs: list[str] = []
    spec = importlib.util.find_spec("llama_cpp")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        lib_dir = Path(folder) / "lib"
        for lib in sorted(lib_dir.glob("*")) if lib_dir.is_dir() else []:
            with contextlib.suppress(OSError):
                st = lib.stat()
                libs.append(f"{lib.name}:{st.st_size}:{st.st_mtime_ns}")
    return f"llama_cpp_python {version}; " + ",".join(libs)


def file_identity(path: Path) -> str:
    """A model file's size, mtime and a hash of its first megabyte."""
    st = path.stat()
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(HEADER_BYTES)).hexdigest()[:32]
    return f"{st.st_size}:{st.st_mtime_ns}:{head}"


@dataclass(frozen=True, slots=True)
class Key:
    """Everything a measurement depends on."""

    model: str  # file_identity
    cpu: str
    build: str
    threads: int
    gpu_layers: int

    @classmethod
    def of(cls, path: Path, threads: int, gpu_layers: int) -> Key:
        return cls(
            file_identity(path),
            _cached(cpu_identity),
            _cached(build_identity),
            threads or max(1, os.cpu_count() or 1),  # as LlamaContext resolves 0
            gpu_layers,
        )

    def digest(self) -> str:
        raw = json.dumps([self.model, self.cpu, self.build, self.threads, self.gpu_layers])
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


_identities: dict[Callable[[], str], str] = {}


def _cached(fn: Callable[[], str]) -> str:
    """CPU and build identities do not change while the process runs."""
    if fn not in _identities:
        _identities[fn] = fn()
    return _identities[fn]


# -- the numbers and their file ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Costs:
    """One model's measured costs: ms of a batch of n tokens (n = 1 is a decode step) and ms
    per prompt token (None when not measured, e.g. for a draft model)."""

    verify_ms: Mapping[int, float]
    prompt_ms_per_token: float | None = None

    @property
    def step_ms(self) -> float | None:
        return self.verify_ms.get(1)

    def to_json(self) -> dict[str, Any]:
        return {
            "verify_ms": {str(n): round(ms, 3) for n, ms in sorted(self.verify_ms.items())},
            "prompt_ms_per_token": self.prompt_ms_per_token,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Costs:
        verify = {int(n): float(ms) for n, ms in raw["verify_ms"].items()}
        if not verify or any(ms <= 0 for ms in verify.values()):
            raise ValueError("no positive verification costs")
        prompt = raw.get("prompt_ms_per_token")
        return cls(verify, None if prompt is None else float(prompt))


def cache_path() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airgap-lsp" / "calibration.json"


class CalibrationCache:
    """The calibration file: read whole, written whole (atomically)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_path()

    def _read(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                raise ValueError(f"not a calibration cache of format {FORMAT}")
            entries = raw["entries"]
            if not isinstance(entries, dict):
                raise ValueError("entries is not an object")
            return entries
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("calibration cache %s ignored (%s); measuring anew", self.path, exc)
            return {}

    def get(self, key: Key) -> Costs | None:
        entry = self._read().get(key.digest())
        if entry is None:
            return None
        try:
            return Costs.from_json(entry)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("calibration cache %s: entry ignored (%s)", self.path, exc)
            return None

    def put(self, key: Key, costs: Costs) -> None:
        entries = self._read()
        entries[key.digest()] = {
            **costs.to_json(),
            "measured": time.time(),
            "key": {"model": key.model, "cpu": key.cpu[:200], "build": key.build[:200]},
        }
        if len(entries) > MAX_ENTRIES:
            by_age = sorted(entries, key=lambda d: float(entries[d].get("measured", 0)))
            for digest in by_age[: len(entries) - MAX_ENTRIES]:
                del entries[digest]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".calibration-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"format": FORMAT, "entries": entries}, f, indent=1)
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only home: the next start measures again
            log.warning("calibration cache %s not written: %s", self.path, exc)


# -- whether a draft model can pay here ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DraftDecision:
    load: bool
    reason: str


def decide_draft(
    target: Costs | None,
    draft: Costs | None,
    target_bytes: int,
    draft_bytes: int,
    gpu_layers: int,
    k_max: int,
    forced: bool = False,
) -> DraftDecision:
    """Whether to load the draft model: when forced, or when the cost model, started from this
    machine's cached measurements, says drafting could beat plain decoding even if every draft
    were accepted. A draft step never measured is estimated from the target's step by file
    size (one step reads the weights once). Without any measurement, a CPU is taken not to pay
    (verifying k tokens costs nearly k steps there) and a GPU to pay; the refresh after the
    first suggestion measures, and the next start decides from the numbers."""
    if forced:
        return DraftDecision(True, "asked for")
    if target is None or target.step_ms is None:
        if gpu_layers != 0:
            return DraftDecision(True, "not measured yet; verification is nearly free on a GPU")
        return DraftDecision(False, "not measured on this machine yet; on a CPU it rarely pays")
    step = draft.step_ms if draft is not None and draft.step_ms is not None else None
    estimated = step is None
    if step is None:
        step = target.step_ms * draft_bytes / max(1, target_bytes)
    costs = CostModel()
    costs.calibrate(dict(target.verify_ms), step)
    pays = costs.draft_can_pay(k_max)
    how = "estimated" if estimated else "measured"
    verify = ", ".join(f"{n}: {ms:.0f}" for n, ms in sorted(target.verify_ms.items()))
    numbers = f"verification ms by batch size {{{verify}}}, draft step {step:.1f} ms ({how})"
    if pays:
        return DraftDecision(True, f"it can pay here: {numbers}")
    return DraftDecision(False, f"it cannot pay on this machine: {numbers}")


# -- measuring ---------------------------------------------------------------------------------


def apply(engine: Engine, target: Costs, draft: Costs | None = None) -> None:
    """Start the engine's cost model and prompt-time budget from these costs."""
    draft_ms = draft.step_ms if draft is not None else None
    engine.costs.calibrate(dict(target.verify_ms), draft_ms)
    if target.prompt_ms_per_token is not None:
        engine.prompt_ms_per_token = target.prompt_ms_per_token
    engine.calibration = {
        "verify_ms": dict(target.verify_ms),
        "draft_step_ms": draft_ms,
        "prompt_ms_per_token": engine.prompt_ms_per_token,
    }


def _time(llama: LlamaContext, tokens: Sequence[int], seq: int, abort: AbortCheck | None) -> float:
    t0 = time.perf_counter()
    try:
        llama.decode(
            tokens,
            0,
            seq=seq,
            logits="all" if len(tokens) <= llama.n_batch else "last",
            abort=abort,
        )
    finally:
        llama.seq_rm(seq, -1, -1)
    return (time.perf_counter() - t0) * 1000


def estimate_prompt_speed(engine: Engine, measurement: Measurement | None = None) -> float:
    """The cheap measurement a start without cached costs makes before serving: ms per prompt
    token from one batch (after touching the weights once), so the first request's prompt
    fits its time budget. Everything else waits for the refresh, which keeps these steps."""
    m = measurement or Measurement(engine)
    m.run_step("warm-up", None)
    m.run_step("prompt", None)
    per_token = m.prompt_ms_per_token
    assert per_token is not None
    engine.prompt_ms_per_token = per_token
    engine.calibration = {"prompt_ms_per_token": per_token, "estimated": True}
    log.info("prompt speed estimated at %.1f ms per token (not calibrated yet)", per_token)
    return per_token


@dataclass
class Measurement:
    """A calibration of an engine's models, in steps: each step is one timed batch and may be
    aborted (a request came); an aborted step is repeated at the next run, finished ones
    are kept. Runs on the model worker (llama.cpp contexts are not thread-safe)."""

    engine: Engine
    sizes: Sequence[int] = SIZES
    verify_ms: dict[int, float] = field(default_factory=dict)
    prompt_ms_per_token: float | None = None
    draft_step_ms: float | None = None
    _done: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._tokens = self.engine.target.tokenize(_TEXT)

    def steps(self) -> list[str]:
        names = ["warm-up", *(f"verify {n}" for n in self.sizes), "prompt"]
        if self.engine.dcache is not None:
            names += ["draft warm-up", "draft step"]
        return names

    @property
    def finished(self) -> bool:
        return all(s in self._done for s in self.steps())

    def _target_seq(self) -> int:
        """A sequence to measure in: a free slot, else the least recently used (dropped)."""
        cache = self.engine.tcache
        slot = next((s for s in cache.slots if not s.tokens), None)
        if slot is None:
            slot = min(cache.slots, key=lambda s: s.last_used)
            cache.drop(slot)
        return slot.seq

    def run_step(self, name: str, abort: AbortCheck | None) -> None:
        engine, tokens = self.engine, self._tokens
        repeats = 1
        if name.startswith("draft"):
            assert engine.dcache is not None
            llama, seq = engine.dcache.llama, engine.draft_scratch
            n = 4 if name == "draft warm-up" else 1
            repeats = 1 if name == "draft warm-up" else 2
        else:
            llama, seq = engine.target_llama, self._target_seq()
            if name == "warm-up":
                n = 8  # first touches of the weights
            elif name == "prompt":
                n = min(PROMPT_TOKENS, len(tokens))
            else:
                n = int(name.split()[1])
                repeats = 2 if n < 8 else 1  # small batches are the noisy ones
        best = min(_time(llama, tokens[:n], seq, abort) for _ in range(repeats))
        if name.startswith("verify"):
            self.verify_ms[n] = best
        elif name == "prompt":
            self.prompt_ms_per_token = best / n
        elif name == "draft step":
            self.draft_step_ms = best
        self._done.add(name)

    def run(self, abort: AbortCheck | None = None) -> bool:
        """Measure the steps not done yet; False when aborted before the end."""
        for name in self.steps():
            if name in self._done:
                continue
            if abort is not None and abort():
                return False
            try:
                self.run_step(name, abort)
            except Aborted:
                return False
        return True

    def target_costs(self) -> Costs:
        return Costs(dict(self.verify_ms), self.prompt_ms_per_token)

    def draft_costs(self) -> Costs | None:
        return None if self.draft_step_ms is None else Costs({1: self.draft_step_ms})


MAX_ATTEMPTS = 3


def plausible(costs: Costs) -> bool:
    """Whether measured batch costs grow with the batch, as they do on an idle machine (a
    larger batch never costs clearly less than a smaller one; below a millisecond, as with
    the tests' tiny models, timer noise is no evidence)."""
    sizes = sorted(costs.verify_ms)
    return all(
        costs.verify_ms[b] >= 0.8 * costs.verify_ms[a] - 1.0
        for i, a in enumerate(sizes)
        for b in sizes[i + 1 :]
    )


@dataclass
class Refresh:
    """The background calibration of one loaded engine: measures (in pre-emptible steps) once
    the first suggestion was served, applies the numbers and writes them to the cache."""

    engine: Engine
    cache: CalibrationCache
    target_key: Key
    draft_key: Key | None
    measurement: Measurement | None = None
    done: bool = False
    seconds: float = 0.0  # spent measuring, over all runs
    attempts: int = 0  # complete measurements discarded as implausible

    def run(self, abort: AbortCheck | None = None) -> bool:
        """One attempt (on the model worker); True once the calibration is complete."""
        if self.done:
            return True
        t0 = time.perf_counter()
        if self.measurement is None:
            self.measurement = Measurement(self.engine)
        complete = self.measurement.run(abort)
        self.seconds += time.perf_counter() - t0
        if not complete:
            log.debug("calibration paused for a request")
            return False
        target, draft = self.measurement.target_costs(), self.measurement.draft_costs()
        if not plausible(target):
            # Measured while the machine was busy (seen at a load average of 8: one step
            # 4.9 s, a batch of 8 tokens 2.0 s): such numbers would switch the draft model
            # on and mislead the prompt budget for every later start. Measured again later.
            self.attempts += 1
            self.done = self.attempts >= MAX_ATTEMPTS
            self.measurement = None
            log.info("calibration discarded, batches cost less than steps: %s", target.verify_ms)
            return self.done
        apply(self.engine, target, draft)
        self.cache.put(self.target_key, target)
        if draft is not None and self.draft_key is not None:
            self.cache.put(self.draft_key, draft)
        self.done = True
        log.info(
            "calibrated in the background in %.1f s: verify ms by batch size %s, draft step %s ms,"
            " prompt %.1f ms per token",
            self.seconds,
            {n: round(ms, 1) for n, ms in target.verify_ms.items()},
            None if draft is None else round(draft.verify_ms[1], 1),
            target.prompt_ms_per_token or 0.0,
        )
        return True


IDLE = PREFETCH + 1  # below every request, prefetch included


class Background:
    """Runs a loaded engine's `Refresh` on the model worker at idle priority once a suggestion
    has been served (never before: the first suggestion must not wait for it). A request
    pauses it (`pause`, before the request is queued): the running measurement is aborted
    inside llama.cpp and the next suggestion resumes it where it stopped."""

    def __init__(self, worker: ModelWorker) -> None:
        self.worker = worker
        self._future: concurrent.futures.Future[Any] | None = None
        self._token: CancelToken | None = None

    def after_suggestion(self, refresh: Refresh | None) -> None:
        if refresh is None or refresh.done:
            return
        if self._future is not None and not self._future.done():
            return  # queued or running
        self._future, self._token = self.worker.submit(refresh.run, priority=IDLE)

    def pause(self) -> None:
        if self._token is not None and self._future is not None and not self._future.done():
            self._token.cancel("a request came")
