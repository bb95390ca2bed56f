"""Finding the GGUF models already on this machine.

Owns where other tools keep their models (Ollama's manifests and blobs, LM Studio's folders,
the Hugging Face cache, llama.cpp's download cache, the user's `models.searchPaths`), the
stable names given to what is found (`ollama:qwen3.5:9b`, `lmstudio:<publisher>/<model>/<file>`,
`hf:<org>/<name>/<file>`, `llamacpp:<file>`, `path:<file>`), and whether each can be loaded
by llama.cpp, with a reason when it cannot. Read-only and offline: it reads directory
listings, manifests and GGUF headers, never the weights. Headers already read are remembered
in a small cache file of airgap-lsp's own (keyed by inode, size and mtime), since stepping over
a 150k-token vocabulary in Python costs tens of milliseconds.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from airgap_lsp.completion import models as registry
from airgap_lsp.completion.gguf_header import (
    GGUFError,
    Header,
    Vocabulary,
    parse_size_label,
    read_header,
)

log = logging.getLogger(__name__)

SOURCES = ("registry", "ollama", "lmstudio", "hf", "llamacpp", "path")
OLLAMA_HOST, OLLAMA_NAMESPACE, OLLAMA_TAG = "registry.ollama.ai", "library", "latest"
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_TENSOR_LAYER = "application/vnd.ollama.image.tensor"
OLLAMA_SYSTEM_ROOT = Path("/usr/share/ollama/.ollama/models")
MAX_MANIFEST = 1 << 20
MAX_DEPTH = 6  # directory levels searched below a search path
SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

# Architectures llama.cpp knows (src/llama-arch.cpp), for when the installed libllama cannot be
# read to ask it (see architecture_known).
KNOWN_ARCHITECTURES = frozenset(
    """llama llama4 deci falcon grok gpt2 gptj gptneox mpt baichuan starcoder refact bert
    modern-bert nomic-bert nomic-bert-moe neo-bert jina-bert-v2 jina-bert-v3 eurobert bloom
    stablelm qwen qwen2 qwen2moe qwen2vl qwen3 qwen3moe qwen3next qwen3vl qwen3vlmoe qwen35
    qwen35moe phi2 phi3 phimoe plamo plamo2 plamo3 codeshell orion internlm2 minicpm minicpm3
    gemma gemma2 gemma3 gemma3n gemma4 gemma-embedding starcoder2 mamba mamba2 jamba falcon-h1
    xverse command-r cohere2 cohere2moe dbrx olmo olmo2 olmoe openelm arctic deepseek deepseek2
    deepseek32 chatglm glm4 glm4moe bitnet t5 jais jais2 nemotron nemotron_h nemotron_h_moe
    exaone exaone4 exaone-moe rwkv6 rwkv6qwen2 rwkv7 arwkv7 granite granitemoe granitehybrid
    chameleon plm bailingmoe bailingmoe2 dots1 arcee afmoe ernie4_5 ernie4_5-moe hunyuan-moe
    hunyuan-dense smollm3 gpt-oss lfm2 lfm2moe dream smallthinker llada llada-moe seed_oss
    grovemoe apertus minimax-m2 cogvlm rnd1 pangu-embedded mistral3 mistral4 mimo2 step35
    maincoder kimi-linear mellum""".split()  # noqa: SIM905 (a list literal would be 130 lines)
)
# Architectures that load but write no text (embeddings, encoders, vocoders).
NOT_GENERATIVE = frozenset(
    """bert modern-bert nomic-bert nomic-bert-moe neo-bert jina-bert-v2 jina-bert-v3 eurobert
    gemma-embedding t5encoder wavtokenizer-dec llama-embed pangu-embedded""".split()  # noqa: SIM905
)
# Tensor-name prefixes of vision/audio towers: a text model's GGUF that holds them was made
# for Ollama's own engine, and llama.cpp refuses it ("wrong number of tensors").
TOWER_PREFIXES = frozenset({"v", "mm", "a", "vision_tower", "audio_tower"})


@dataclass(frozen=True, slots=True)
class Place:
    """A directory searched for models."""

    source: str
    root: Path


@dataclass(frozen=True, slots=True)
class Entry:
    """A model file named by its store, before its header is read."""

    name: str
    source: str
    path: Path | None  # the GGUF file (for Ollama, the blob); None when it is missing
    location: str  # what the user recognises: the manifest for Ollama, else the file
    problem: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Found:
    """A discovered model with the facts of its header, or why it cannot be used."""

    name: str
    source: str
    path: Path | None
    location: str
    problem: str  # "" when llama.cpp can load it
    notes: tuple[str, ...] = ()
    size: int | None = None  # bytes on disk
    header: Header | None = field(default=None, compare=False, repr=False)

    @property
    def usable(self) -> bool:
        return not self.problem

    @property
    def architecture(self) -> str:
        return self.header.architecture if self.header else ""

    @property
    def params(self) -> int | None:
        """Parameters: from general.size_label, else counted from the tensor list."""
        if self.header is None:
            return None
        label = self.header.metadata.get("general.size_label")
        from_label = parse_size_label(label) if isinstance(label, str) else None
        return from_label or self.header.n_params or None

    @property
    def vocabulary(self) -> Vocabulary | None:
        return self.header.vocabulary if self.header else None

    @property
    def has_fim(self) -> bool:
        return bool(self.header and self.header.has_fim)

    def to_json(self) -> dict[str, Any]:
        h = self.header
        vocab = self.vocabulary
        return {
            "name": self.name,
            "source": self.source,
            "usable": self.usable,
            "problem": self.problem or None,
            "notes": list(self.notes),
            "path": str(self.path) if self.path else None,
            "location": self.location,
            "size": self.size,
            "architecture": self.architecture or None,
            "modelName": h.metadata.get("general.name") if h else None,
            "params": self.params,
            "quantization": (h.quantization or None) if h else None,
            "contextLength": h.context_length if h else None,
            "fim": self.has_fim if h else None,
            "vocabSize": vocab.size if vocab else None,
            "vocabFingerprint": vocab.fingerprint[:16] if vocab else None,
        }


@dataclass
class Discovery:
    found: list[Found]
    places: list[Place]
    seconds: float

    def usable(self) -> list[Found]:
        return [f for f in self.found if f.usable]


# -- where the stores are ----------------------------------------------------------------------


def default_places(
    search_paths: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    ollama_system_root: Path = OLLAMA_SYSTEM_ROOT,
) -> list[Place]:
    """The directories each tool uses on this machine (existing or not), in search order."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    xdg_cache = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else home / ".cache"
    places: list[Place] = []
    if env.get("OLLAMA_MODELS"):
        places.append(Place("ollama", Path(env["OLLAMA_MODELS"]).expanduser()))
    else:
        places.append(Place("ollama", home / ".ollama" / "models"))
        places.append(Place("ollama", ollama_system_root))
    for root in _lmstudio_roots(home):
        places.append(Place("lmstudio", root))
    if env.get("HF_HUB_CACHE"):
        hf = Path(env["HF_HUB_CACHE"]).expanduser()
    elif env.get("HF_HOME"):
        hf = Path(env["HF_HOME"]).expanduser() / "hub"
    else:
        hf = xdg_cache / "huggingface" / "hub"
    places.append(Place("hf", hf))
    if env.get("LLAMA_CACHE"):
        places.append(Place("llamacpp", Path(env["LLAMA_CACHE"]).expanduser()))
    elif sys.platform == "darwin":
        places.append(Place("llamacpp", home / "Library" / "Caches" / "llama.cpp"))
    else:
        places.append(Place("llamacpp", xdg_cache / "llama.cpp"))
    for p in search_paths:
        if p.strip():
            places.append(Place("path", Path(p).expanduser()))
    unique: dict[tuple[str, Path], Place] = {}
    for place in places:
        unique.setdefault((place.source, place.root), place)
    return list(unique.values())


def _lmstudio_roots(home: Path) -> list[Path]:
    roots = [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]
    # LM Studio lets the user move its models folder; the app records it in its settings.
    settings = home / ".lmstudio" / "settings.json"
    try:
        if settings.is_file() and settings.stat().st_size < MAX_MANIFEST:
            moved = json.loads(settings.read_text(encoding="utf-8")).get("downloadsFolder")
            if isinstance(moved, str) and moved:
                roots.insert(0, Path(moved).expanduser())
    except (OSError, ValueError, AttributeError):
        pass
    return roots


# -- walking directories -----------------------------------------------------------------------


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        return "broken symlink (its target is missing)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return f"cannot read: {exc.strerror or exc}"


def _gguf_files(root: Path, max_depth: int = MAX_DEPTH) -> Iterator[tuple[Path, str]]:
    """(path, problem) for every `*.gguf` below `root`, following symlinks once (a directory
    reached twice, e.g. through a symlink loop, is not entered again)."""
    try:
        st = os.stat(root)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        if root.name.lower().endswith(".gguf"):
            yield root, ""
        return
    visited = {(st.st_dev, st.st_ino)}
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            is_gguf = e.name.lower().endswith(".gguf")
            try:
                est = os.stat(e.path)
            except OSError as exc:
                if is_gguf:
                    yield Path(e.path), _os_reason(exc)
                continue
            if stat.S_ISDIR(est.st_mode):
                key = (est.st_dev, est.st_ino)
                if depth < max_depth and key not in visited and not e.name.startswith("."):
                    visited.add(key)
                    subdirs.append(Path(e.path))
            elif is_gguf and stat.S_ISREG(est.st_mode):
                yield Path(e.path), ""
        stack.extend((d, depth + 1) for d in reversed(subdirs))


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return []


# -- the stores --------------------------------------------------------------------------------


def ollama_name(host: str, namespace: str, model: str, tag: str) -> str:
    """Ollama's short name: host and namespace only when they are not the defaults."""
    if host == OLLAMA_HOST and namespace == OLLAMA_NAMESPACE:
        return f"{model}:{tag}"
    if host == OLLAMA_HOST:
        return f"{namespace}/{model}:{tag}"
    return f"{host}/{namespace}/{model}:{tag}"


def normalize_ollama(name: str) -> str:
    """A user's Ollama name (`qwen3.5`, `qwen3.5:9b`, `library/qwen3.5:9b`, a full
    `registry.ollama.ai/library/qwen3.5:9b`) in the short form `ollama_name` gives."""
    base, _, tag = name.strip().lower().rpartition(":")
    if not base or "/" in tag:
        base, tag = name.strip().lower(), OLLAMA_TAG
    parts = base.split("/")
    host, namespace = OLLAMA_HOST, OLLAMA_NAMESPACE
    if len(parts) == 2:
        namespace = parts[0]
    elif len(parts) >= 3:
        host, namespace = parts[0], "/".join(parts[1:-1])
    return ollama_name(host, namespace, parts[-1], tag or OLLAMA_TAG)


def ollama_entries(root: Path) -> list[Entry]:
    out: list[Entry] = []
    manifests = root / "manifests"
    for host in _subdirs(manifests):
        for namespace in _subdirs(host):
            for model in _subdirs(namespace):
                for manifest in _files(model):
                    name = ollama_name(host.name, namespace.name, model.name, manifest.name)
                    out.append(_ollama_entry(root, manifest, "ollama:" + name.lower()))
    return out


def _ollama_entry(root: Path, manifest: Path, name: str) -> Entry:
    def broken(problem: str, path: Path | None = None) -> Entry:
        return Entry(name, "ollama", path, str(manifest), problem)

    try:
        if manifest.stat().st_size > MAX_MANIFEST:
            return broken("malformed manifest: larger than 1 MiB")
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except OSError as exc:
        return broken(f"manifest unreadable: {_os_reason(exc)}")
    except ValueError as exc:
        return broken(f"malformed manifest JSON: {exc}")
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        return broken("malformed manifest: no list of layers")
    kinds = [str(x.get("mediaType", "")) for x in layers]
    if OLLAMA_TENSOR_LAYER in kinds:
        return broken(
            "made for Ollama's own engine (weights stored as per-tensor layers); "
            "llama.cpp cannot load it"
        )
    weights = [x for x in layers if x.get("mediaType") == OLLAMA_MODEL_LAYER]
    if not weights:
        return broken("the manifest has no model layer")
    layer = weights[0]
    digest = str(layer.get("digest", ""))
    algo, _, hexdigest = digest.partition(":")
    if algo != "sha256" or not _HEX64.match(hexdigest):
        return broken(f"malformed manifest: model layer digest {digest[:80]!r}")
    blob = root / "blobs" / f"sha256-{hexdigest}"
    try:
        size = blob.stat().st_size
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return broken(
                f"its model blob sha256-{hexdigest[:12]}… is missing (an interrupted pull? "
                f"`ollama pull` it again)"
            )
        return broken(f"model blob unreadable: {_os_reason(exc)}", blob)
    expected = layer.get("size")
    if isinstance(expected, int) and expected != size:
        return broken(
            f"model blob holds {size:,} bytes, the manifest says {expected:,} (incomplete pull)",
            blob,
        )
    notes = []
    for kind in sorted(set(kinds)):
        tail = kind.rsplit(".", 1)[-1]
        if tail == "projector":
            notes.append("vision projector not used (text completion only)")
        elif tail == "adapter":
            notes.append("LoRA adapter layer not applied")
        elif tail == "draft":
            notes.append("Ollama draft layer not used")
    if len(weights) > 1:
        notes.append(f"{len(weights)} model layers; the first is used")
    return Entry(name, "ollama", blob, str(manifest), notes=tuple(notes))


def _file_entries(source: str, root: Path, prefix: str, relative: bool = True) -> list[Entry]:
    out = []
    for path, problem in _gguf_files(root):
        rel = path.relative_to(root).as_posix() if relative else str(path)
        out.append(Entry(f"{prefix}{rel}", source, path, str(path), problem))
    return out


def lmstudio_entries(root: Path) -> list[Entry]:
    return _file_entries("lmstudio", root, "lmstudio:")


def _hf_repo_entries(repo_dir: Path, source: str, prefix: str) -> list[Entry]:
    """GGUF files of one `models--org--name` folder: the `main` revision's first, then files
    only older snapshots hold."""
    parts = repo_dir.name.split("--")
    if len(parts) < 3 or parts[0] != "models":
        return []
    repo = f"{parts[1]}/{'--'.join(parts[2:])}"
    snapshots = _subdirs(repo_dir / "snapshots")
    try:
        main = (repo_dir / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        main = ""
    snapshots.sort(key=lambda s: s.name != main)
    seen: set[str] = set()
    out = []
    for snap in snapshots:
        for path, problem in _gguf_files(snap):
            rel = path.relative_to(snap).as_posix()
            if rel not in seen:
                seen.add(rel)
                out.append(Entry(f"{prefix}{repo}/{rel}", source, path, str(path), problem))
    return out


def hf_entries(root: Path) -> list[Entry]:
    out = []
    for repo_dir in _subdirs(root):
        out.extend(_hf_repo_entries(repo_dir, "hf", "hf:"))
    return out


def llamacpp_entries(root: Path) -> list[Entry]:
    """llama.cpp's `-hf` cache: flat `<org>_<repo>_<file>.gguf` files, and the Hugging Face
    layout newer versions write."""
    out = []
    for path in _files(root):
        if path.is_dir() and path.name.startswith("models--"):
            out.extend(_hf_repo_entries(path, "llamacpp", "llamacpp:"))
        elif path.name.lower().endswith(".gguf"):
            try:
                os.stat(path)
                problem = ""
            except OSError as exc:
                problem = _os_reason(exc)
            out.append(Entry(f"llamacpp:{path.name}", "llamacpp", path, str(path), problem))
    return out


def path_entries(root: Path) -> list[Entry]:
    out = []
    for path, problem in _gguf_files(root):
        out.append(Entry(f"path:{path}", "path", path, str(path), problem))
    return out


def registry_entries() -> list[Entry]:
    """The registry's models whose files are in airgap-lsp's own cache."""
    out = []
    for spec in registry.REGISTRY:
        path = registry.model_path(spec)
        if path.is_file():
            problem = registry.stamp_problem(spec) or ""
            out.append(Entry(spec.name, "registry", path, str(path), problem))
    return out


ENUMERATORS = {
    "ollama": ollama_entries,
    "lmstudio": lmstudio_entries,
    "hf": hf_entries,
    "llamacpp": llamacpp_entries,
    "path": path_entries,
}


def entries(places: Sequence[Place], include_registry: bool = True) -> list[Entry]:
    """Every model file the places hold, named, with split parts folded into their first
    part; one entry per name (the first place wins)."""
    out: list[Entry] = registry_entries() if include_registry else []
    for place in places:
        try:
            out.extend(ENUMERATORS[place.source](place.root))
        except OSError as exc:  # a store vanishing mid-walk is no reason to fail the listing
            log.info("skipping %s store %s: %s", place.source, place.root, exc)
    unique: dict[str, Entry] = {}
    for entry in _fold_splits(out):
        unique.setdefault(entry.name, entry)
    return list(unique.values())


def split_part(path: Path, part: int, count: int) -> Path:
    """The path of part `part` of the split GGUF whose part `path` is."""
    return path.with_name(SPLIT.sub(f"-{part:05d}-of-{count:05d}.gguf", path.name))


def _fold_splits(found: list[Entry]) -> list[Entry]:
    """Split GGUFs (`name-00001-of-00003.gguf`...): llama.cpp loads one from its first part,
    finding the others beside it, so only the first part is listed; missing parts make it
    unusable, and a later part without its first is listed as such."""
    out = []
    for entry in found:
        m = SPLIT.search(entry.path.name) if entry.path is not None else None
        if m is None or entry.path is None or entry.problem:
            out.append(entry)
            continue
        part, count = int(m.group(1)), int(m.group(2))
        if part != 1:
            if not split_part(entry.path, 1, count).exists():
                problem = f"part {part} of {count} of a split GGUF whose first part is missing"
                out.append(Entry(entry.name, entry.source, entry.path, entry.location, problem))
            continue
        missing = [i for i in range(2, count + 1) if not split_part(entry.path, i, count).exists()]
        if missing:
            problem = f"split GGUF in {count} parts; part {', '.join(map(str, missing))} missing"
            out.append(Entry(entry.name, entry.source, entry.path, entry.location, problem))
        else:
            notes = (*entry.notes, f"split in {count} parts")
            out.append(Entry(entry.name, entry.source, entry.path, entry.location, "", notes))
    return out


# -- reading headers ---------------------------------------------------------------------------


def header_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airgap-lsp" / "gguf-headers.json"


class HeaderCache:
    """Headers already read, keyed by device, inode, size and mtime (so a hard link or an
    Ollama blob shared by several tags is read once, and a changed file is read again)."""

    VERSION = 1

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data: dict[str, Any] = {}
        self._used: set[str] = set()
        self._dirty = False
        if path is not None:
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(raw, dict) and raw.get("version") == self.VERSION:
                    self._data = raw.get("headers") or {}
            except (OSError, ValueError):
                pass

    @staticmethod
    def key(st: os.stat_result) -> str:
        return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"

    def read(self, path: Path, st: os.stat_result) -> Header:
        key = self.key(st)
        self._used.add(key)
        cached = self._data.get(key)
        if isinstance(cached, dict):
            if "error" in cached:
                raise GGUFError(str(cached["error"]))
            try:
                return _header_from_json(cached)
            except (KeyError, TypeError, ValueError):
                pass
        try:
            header = read_header(path)
        except GGUFError as exc:
            self._data[key] = {"error": str(exc)}
            self._dirty = True
            raise
        self._data[key] = _header_to_json(header)
        self._dirty = True
        return header

    def save(self, prune: bool = False) -> None:
        """Write the cache back; with `prune` (after a full discovery), only the headers used
        in this run are kept, so files gone from the stores leave the cache too."""
        stale = set(self._data) - self._used if prune else set()
        if self.path is None or not (self._dirty or stale):
            return
        kept = {k: v for k, v in self._data.items() if k not in stale}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": self.VERSION, "headers": kept}), "utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            log.info("header cache not written (%s)", exc)


def _header_to_json(h: Header) -> dict[str, Any]:
    # Long strings (chat templates) are not needed again; short values are.
    meta = {k: v for k, v in h.metadata.items() if not (isinstance(v, str) and len(v) > 1024)}
    vocab = h.vocabulary
    return {
        "version": h.version,
        "metadata": meta,
        "n_tensors": h.n_tensors,
        "n_params": h.n_params,
        "tensor_bytes": h.tensor_bytes,
        "data_offset": h.data_offset,
        "vocabulary": None
        if vocab is None
        else [vocab.model, vocab.size, vocab.fingerprint, vocab.fim_tokens],
        "tensor_prefixes": sorted(h.tensor_prefixes),
    }


def _header_from_json(d: dict[str, Any]) -> Header:
    v = d["vocabulary"]
    return Header(
        version=int(d["version"]),
        metadata=dict(d["metadata"]),
        n_tensors=int(d["n_tensors"]),
        n_params=int(d["n_params"]),
        tensor_bytes=int(d["tensor_bytes"]),
        data_offset=int(d["data_offset"]),
        vocabulary=None if v is None else Vocabulary(str(v[0]), int(v[1]), str(v[2]), bool(v[3])),
        tensor_prefixes=frozenset(d["tensor_prefixes"]),
    )


_library_text: bytes | None = None


def architecture_known(arch: str) -> bool:
    """Whether the installed llama.cpp can build this architecture: its name is a string in
    libllama (read once, ~4 MB, without loading it; the match is on the name's end because the
    linker shares the tails of strings), else, where the library cannot be read, the list of
    architectures llama.cpp knows."""
    global _library_text
    if _library_text is None:
        _library_text = b""
        try:
            spec = find_spec("llama_cpp")
            if spec and spec.origin:
                for lib in sorted((Path(spec.origin).parent / "lib").glob("libllama.*")):
                    _library_text = lib.read_bytes()
                    break
        except (OSError, ImportError, ValueError):
            pass
    if _library_text:
        return arch.encode() + b"\0" in _library_text
    return arch in KNOWN_ARCHITECTURES


def problem_of(header: Header, size: int) -> str:
    """Why llama.cpp would refuse this model for completion ("" when it would not)."""
    arch = header.architecture
    if size < header.expected_size:
        return (
            f"truncated: its tensors need {header.expected_size:,} bytes, the file has "
            f"{size:,} (an incomplete download?)"
        )
    if not arch:
        return "no general.architecture in the header"
    if arch == "clip":
        return "a multimodal projector (mmproj), not a language model"
    if arch in NOT_GENERATIVE:
        return f"an embedding/encoder model ({arch}), not a completion model"
    if not architecture_known(arch):
        return f"architecture {arch!r} is unknown to this llama.cpp"
    towers = sorted(header.tensor_prefixes & TOWER_PREFIXES)
    if towers:
        return (
            f"holds vision/audio tensors ({', '.join(t + '.*' for t in towers)}) beside the "
            "text model: made for Ollama's own engine, llama.cpp cannot load it"
        )
    if header.vocabulary is None:
        return "no vocabulary (tokenizer.ggml.tokens) in the header"
    return ""


def inspect(entry: Entry, cache: HeaderCache | None = None) -> Found:
    """The entry with its header's facts, or the reason it cannot be used."""
    if entry.problem or entry.path is None:
        return Found(
            entry.name, entry.source, entry.path, entry.location, entry.problem, entry.notes
        )
    try:
        st = os.stat(entry.path)
    except OSError as exc:
        return Found(entry.name, entry.source, entry.path, entry.location, _os_reason(exc))
    try:
        header = (cache or HeaderCache(None)).read(entry.path, st)
    except GGUFError as exc:
        return Found(
            entry.name, entry.source, entry.path, entry.location, str(exc), entry.notes, st.st_size
        )
    size = st.st_size
    problem = problem_of(header, size)
    if header.split is not None and not problem:
        size, header, problem = _whole_split(entry.path, header, size, cache)
    return Found(
        entry.name, entry.source, entry.path, entry.location, problem, entry.notes, size, header
    )


def _whole_split(
    first: Path, header: Header, size: int, cache: HeaderCache | None
) -> tuple[int, Header, str]:
    """Size, header (parameters and tensor counts of all parts) and problem of a split GGUF
    given its first part."""
    part, count = header.split or (1, 1)
    m = SPLIT.search(first.name)
    if part != 1:
        return size, header, f"part {part} of {count} of a split GGUF; load its first part"
    if m is None or int(m.group(2)) != count:
        return (
            size,
            header,
            (
                f"first part of a split GGUF ({count} parts) whose name lacks "
                f"-00001-of-{count:05d}, so llama.cpp cannot find the other parts"
            ),
        )
    n_params, n_tensors = header.n_params, header.n_tensors
    for i in range(2, count + 1):
        path = split_part(first, i, count)
        try:
            st = os.stat(path)
            part_header = (cache or HeaderCache(None)).read(path, st)
        except OSError as exc:
            return size, header, f"split GGUF part {i} of {count}: {_os_reason(exc)}"
        except GGUFError as exc:
            return size, header, f"split GGUF part {i} of {count}: {exc}"
        if st.st_size < part_header.expected_size:
            return size, header, f"split GGUF part {i} of {count} is truncated"
        size += st.st_size
        n_params += part_header.n_params
        n_tensors += part_header.n_tensors
    return size, replace(header, n_params=n_params, n_tensors=n_tensors), ""


def discover(
    places: Sequence[Place] | None = None,
    include_registry: bool = True,
    cache: HeaderCache | None = None,
) -> Discovery:
    """Every model in the places (default: this machine's stores), each inspected."""
    t0 = time.perf_counter()
    places = default_places() if places is None else list(places)
    own_cache = cache is None
    cache = HeaderCache(header_cache_path()) if cache is None else cache
    found = []
    for entry in entries(places, include_registry):
        try:
            found.append(inspect(entry, cache))
        except Exception as exc:  # one odd file must never break the listing
            log.warning("cannot inspect %s: %s", entry.location, exc)
            found.append(
                Found(
                    entry.name, entry.source, entry.path, entry.location, f"cannot inspect: {exc}"
                )
            )
    if own_cache:
        cache.save(prune=True)
    return Discovery(found, list(places), time.perf_counter() - t0)


# -- names -------------------------------------------------------------------------------------


def source_of(name: str) -> str | None:
    """The store a prefixed name refers to (`ollama:...` → "ollama"), else None."""
    prefix, sep, _ = name.partition(":")
    return prefix if sep and prefix in ENUMERATORS else None


def canonical(name: str) -> str:
    source = source_of(name)
    if source == "ollama":
        return "ollama:" + normalize_ollama(name.partition(":")[2])
    if source == "path":
        return f"path:{Path(name.partition(':')[2]).expanduser()}"
    return name.strip()


def find(
    name: str, search_paths: Sequence[str] = (), places: Sequence[Place] | None = None
) -> Found | None:
    """The discovered model with this stable name (reading only its store and its header)."""
    source = source_of(name)
    if source is None:
        return None
    wanted = canonical(name)
    if source == "path":
        path = Path(wanted.partition(":")[2])
        picked = [e for e in entries([Place("path", path)], False) if e.name == wanted]
        return inspect(picked[0]) if picked else None
    places = default_places(search_paths) if places is None else places
    candidates = entries([p for p in places if p.source == source], include_registry=False)
    match = next((e for e in candidates if e.name == wanted), None)
    if match is None:
        match = next((e for e in candidates if e.name.lower() == wanted.lower()), None)
    if match is None:
        return None
    cache = HeaderCache(header_cache_path())
    found = inspect(match, cache)
    cache.save()
    return found


def names_like(name: str, search_paths: Sequence[str] = ()) -> list[str]:
    """Names in the same store, for a 'did you mean' hint (no headers read)."""
    source = source_of(name)
    if source is None:
        return []
    places = [p for p in default_places(search_paths) if p.source == source]
    return [e.name for e in entries(places, include_registry=False)]


# -- speculation -------------------------------------------------------------------------------


def speculation_groups(found: Sequence[Found]) -> list[list[Found]]:
    """Usable models that share a vocabulary (same tokenizer and token spellings), so any two
    of them can speculate together; only groups of two or more, largest model first."""
    groups: dict[str, list[Found]] = {}
    files: set[tuple[int, int]] = set()
    for f in found:
        if f.usable and f.vocabulary is not None and f.path is not None:
            try:
                st = os.stat(f.path)
            except OSError:
                continue
            # One name per file (links included): a file cannot draft for itself.
            if (st.st_dev, st.st_ino) not in files:
                files.add((st.st_dev, st.st_ino))
                groups.setdefault(f.vocabulary.fingerprint, []).append(f)
    out = [sorted(g, key=lambda f: (-(f.params or 0), f.name)) for g in groups.values()]
    return sorted((g for g in out if len(g) > 1), key=lambda g: g[0].name)


def same_vocabulary(a: Found, b: Found) -> bool:
    return (
        a.vocabulary is not None
        and b.vocabulary is not None
        and a.vocabulary.fingerprint == b.vocabulary.fingerprint
    )
