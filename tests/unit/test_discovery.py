"""Discovery of the models other tools keep, the GGUF header reader, and the `auto` choice.

Fake stores are built in tmp_path with the real small default model (qwen2.5-coder-0.5b)
linked in, never copied: an Ollama tree (manifests + blobs), LM Studio's folders, a Hugging Face
cache (snapshots symlinked into blobs) and llama.cpp's cache, plus broken entries of every kind
the stores produce. Only headers are read, so none of this loads a model; the tests at the end
load tiny generated Qwen3.5-architecture models.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from airgap_lsp.completion import discovery, models
from airgap_lsp.completion.discovery import Place
from airgap_lsp.completion.gguf_header import (
    FILE_TYPES,
    GGML_BLOCKS,
    GGUFError,
    parse_size_label,
    read_header,
)
from airgap_lsp.completion.selection import GIB, Memory, choose, choose_draft, need, qwen35_class
from airgap_lsp.completion.settings import CompletionSettings, ModelSettings, Settings
from tests.unit.gguf_files import text_model, with_metadata

BLOB = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"  # the 0.5B's sha256
FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_LAYER = "application/vnd.ollama.image.model"


def link(src: Path, dst: Path) -> Path:
    """A hard link (a symlink where hard links cannot be made): never a copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        dst.symlink_to(src)
    return dst


def manifest(root: Path, host: str, ns: str, model: str, tag: str, layers: list[dict]) -> Path:
    path = root / "manifests" / host / ns / model / tag
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json"},
                "layers": layers,
            }
        )
    )
    return path


def library(root: Path, model: str, layers: list[dict]) -> Path:
    return manifest(root, "registry.ollama.ai", "library", model, "latest", layers)


def layer(kind: str, digest: str, size: int) -> dict:
    return {"mediaType": f"application/vnd.ollama.image.{kind}", "digest": digest, "size": size}


@pytest.fixture(scope="module")
def small(draft_path: Path) -> Path:
    return draft_path


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, small: Path) -> dict[str, Path]:
    """Every store, with good and broken entries."""
    base = tmp_path_factory.mktemp("stores")
    size = small.stat().st_size
    home = base / "home"

    # Ollama: a library model, a namespaced one, one pulled from hf.co, and broken ones.
    ollama = base / "ollama"
    link(small, ollama / "blobs" / f"sha256-{BLOB}")
    good = [layer("model", f"sha256:{BLOB}", size), layer("template", "sha256:" + "1" * 64, 10)]
    manifest(ollama, "registry.ollama.ai", "library", "qwen2.5-coder", "0.5b", good)
    vision = [*good, layer("projector", "sha256:" + "2" * 64, 10)]
    manifest(ollama, "registry.ollama.ai", "someone", "coder", "latest", vision)
    manifest(ollama, "hf.co", "Qwen", "Qwen2.5-Coder-0.5B-Instruct-GGUF", "Q4_K_M", good)
    broken = ollama / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"layers": [')
    library(ollama, "gone", [layer("model", "sha256:" + "3" * 64, 1000)])
    (ollama / "blobs" / f"sha256-{'4' * 64}").write_text("this is not a model\n" * 10)
    library(ollama, "text", [layer("model", "sha256:" + "4" * 64, 200)])
    tensor_layers = [layer("tensor", "sha256:" + "5" * 64, 100) for _ in range(3)]
    library(ollama, "engine-only", tensor_layers)
    library(ollama, "short", [layer("model", f"sha256:{BLOB}", size + 1)])

    # LM Studio: <publisher>/<model>/<file>, with a vision projector beside the model.
    lms = home / ".lmstudio" / "models" / "Qwen" / "Qwen2.5-Coder-0.5B-Instruct-GGUF"
    link(small, lms / FILE)
    text_model(lms / "mmproj-model-f16.gguf", arch="clip")

    # Hugging Face cache: the snapshot's file is a symlink into blobs/.
    hub = base / "hub"
    repo = hub / "models--Qwen--Qwen2.5-Coder-0.5B-Instruct-GGUF"
    link(small, repo / "blobs" / BLOB)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / FILE).symlink_to(Path("../../blobs") / BLOB)
    (repo / "snapshots" / "old999").mkdir(parents=True)
    (repo / "snapshots" / "old999" / FILE).symlink_to(Path("../../blobs") / BLOB)

    # llama.cpp: a flat file and the Hugging Face layout.
    llama = base / "llama.cpp"
    link(small, llama / f"Qwen_Qwen2.5-Coder-0.5B-Instruct-GGUF_{FILE}")
    snap = llama / "models--Qwen--Qwen2.5-Coder-0.5B-Instruct-GGUF" / "snapshots" / "r1"
    link(small, snap / FILE)

    # A search path with every kind of broken file.
    extra = base / "extra"
    extra.mkdir()
    (extra / "truncated.gguf").write_bytes(small.open("rb").read(4000))
    text_model(extra / "unknown-arch.gguf", arch="nonesuch")
    (extra / "loop-a.gguf").symlink_to(extra / "loop-b.gguf")
    (extra / "loop-b.gguf").symlink_to(extra / "loop-a.gguf")
    (extra / "dangling.gguf").symlink_to(extra / "nowhere.gguf")
    text_model(
        extra / "with-vision.gguf",
        tensors=(("token_embd.weight", (8, 5), 0), ("v.blk.0.attn_q.weight", (8, 8), 0)),
    )
    text_model(extra / "no-weights.gguf", with_data=False)
    text_model(extra / "split-00001-of-00002.gguf", extra={"split.count": 2, "split.no": 0})
    text_model(extra / "orphan-00002-of-00003.gguf")
    (extra / "sub").mkdir()
    (extra / "sub" / "up").symlink_to(extra)  # a directory loop
    text_model(extra / "sub" / "nested.gguf")
    return {"home": home, "ollama": ollama, "hub": hub, "llama": llama, "extra": extra}


def places(stores: dict[str, Path], *extra: Path) -> list[Place]:
    env = {
        "OLLAMA_MODELS": str(stores["ollama"]),
        "HF_HUB_CACHE": str(stores["hub"]),
        "LLAMA_CACHE": str(stores["llama"]),
    }
    return discovery.default_places([str(p) for p in extra], env, stores["home"])


@pytest.fixture(scope="module")
def listing(stores: dict[str, Path]) -> dict[str, discovery.Found]:
    found = discovery.discover(places(stores, stores["extra"]), include_registry=False).found
    return {f.name: f for f in found}


GOOD = [
    "ollama:qwen2.5-coder:0.5b",
    "ollama:someone/coder:latest",
    "ollama:hf.co/qwen/qwen2.5-coder-0.5b-instruct-gguf:q4_k_m",
    f"lmstudio:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/{FILE}",
    f"hf:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/{FILE}",
    f"llamacpp:Qwen_Qwen2.5-Coder-0.5B-Instruct-GGUF_{FILE}",
    f"llamacpp:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/{FILE}",
]


def test_every_store_lists_the_linked_model_with_its_header_facts(listing, small):
    for name in GOOD:
        f = listing[name]
        assert f.usable, (name, f.problem)
        assert f.architecture == "qwen2"
        assert f.params == 500_000_000  # general.size_label "0.5B"
        assert f.header is not None and f.header.n_params == 630_167_424  # counted from tensors
        assert f.header.quantization == "Q4_K_M"
        assert f.header.context_length == 32768
        assert f.has_fim
        assert f.size == small.stat().st_size
        assert f.vocabulary is not None and f.vocabulary.size == 151936
    fingerprints = {listing[name].vocabulary.fingerprint for name in GOOD}
    assert len(fingerprints) == 1
    assert listing["ollama:someone/coder:latest"].notes == (
        "vision projector not used (text completion only)",
    )
    # One entry per file: the older snapshot's copy of the same file is not listed again.
    assert sum(n.startswith("hf:") for n in listing) == 1


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ollama:broken:latest", "malformed manifest JSON"),
        ("ollama:gone:latest", "is missing"),
        ("ollama:text:latest", "not a GGUF file"),
        ("ollama:engine-only:latest", "Ollama's own engine"),
        ("ollama:short:latest", "the manifest says"),
        ("lmstudio:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/mmproj-model-f16.gguf", "mmproj"),
        ("truncated.gguf", "truncated GGUF header"),
        ("unknown-arch.gguf", "architecture 'nonesuch' is unknown"),
        ("loop-a.gguf", "symlink loop"),
        ("loop-b.gguf", "symlink loop"),
        ("dangling.gguf", "broken symlink"),
        ("with-vision.gguf", "Ollama's own engine"),
        ("no-weights.gguf", "truncated: its tensors need"),
        ("split-00001-of-00002.gguf", "part 2 missing"),
        ("orphan-00002-of-00003.gguf", "first part is missing"),
    ],
)
def test_broken_entries_are_listed_with_a_reason(listing, stores, name, reason):
    if not name.startswith(("ollama:", "lmstudio:")):
        name = f"path:{stores['extra'] / name}"
    f = listing[name]
    assert not f.usable
    assert reason in f.problem, f.problem


def test_a_directory_loop_is_walked_once(listing, stores):
    nested = [n for n in listing if n.endswith("nested.gguf")]
    assert nested == [f"path:{stores['extra'] / 'sub' / 'nested.gguf'}"]


def test_a_complete_split_gguf_is_usable_from_its_first_part(tmp_path):
    first = text_model(tmp_path / "m-00001-of-00002.gguf", extra={"split.count": 2})
    second = text_model(tmp_path / "m-00002-of-00002.gguf", extra={"split.count": 2})
    found = discovery.discover([Place("path", tmp_path)], include_registry=False).found
    assert [f.name for f in found] == [f"path:{first}"]
    (f,) = found
    assert f.usable, f.problem
    assert f.size == first.stat().st_size + second.stat().st_size
    assert f.header is not None and f.header.n_params == 80
    assert f.notes == ("split in 2 parts",)


def test_a_missing_store_or_an_unreadable_manifest_does_not_break_the_listing(tmp_path):
    ollama = tmp_path / "ollama"
    manifest(ollama, "registry.ollama.ai", "library", "x", "latest", [])
    found = discovery.discover(
        [Place("ollama", ollama), Place("hf", tmp_path / "nope")], include_registry=False
    ).found
    assert [(f.name, f.problem) for f in found] == [
        ("ollama:x:latest", "the manifest has no model layer")
    ]


def test_stores_are_found_where_each_tool_keeps_them(tmp_path):
    home = tmp_path / "home"
    default = discovery.default_places((), {}, home, ollama_system_root=tmp_path / "svc")
    assert [(p.source, p.root) for p in default] == [
        ("ollama", home / ".ollama" / "models"),
        ("ollama", tmp_path / "svc"),
        ("lmstudio", home / ".lmstudio" / "models"),
        ("lmstudio", home / ".cache" / "lm-studio" / "models"),
        ("hf", home / ".cache" / "huggingface" / "hub"),
        ("llamacpp", home / ".cache" / "llama.cpp"),
    ]
    env = {"HF_HOME": str(tmp_path / "hfhome"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    roots = {p.source: p.root for p in discovery.default_places(("/m",), env, home)}
    assert roots["hf"] == tmp_path / "hfhome" / "hub"
    assert roots["llamacpp"] == tmp_path / "xdg" / "llama.cpp"
    assert roots["path"] == Path("/m")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert {p.source: p.root for p in discovery.default_places((), env, home)}["hf"] == (
        tmp_path / "xdg" / "huggingface" / "hub"
    )
    # LM Studio's models folder moved in the app's settings.
    (home / ".lmstudio").mkdir(parents=True)
    (home / ".lmstudio" / "settings.json").write_text(json.dumps({"downloadsFolder": "/big"}))
    lms = [p.root for p in discovery.default_places((), {}, home) if p.source == "lmstudio"]
    assert lms[0] == Path("/big")


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("ollama:qwen3.5:9b", "ollama:qwen3.5:9b"),
        ("ollama:Qwen3.5", "ollama:qwen3.5:latest"),
        ("ollama:library/qwen3.5:9b", "ollama:qwen3.5:9b"),
        ("ollama:registry.ollama.ai/library/qwen3.5:9b", "ollama:qwen3.5:9b"),
        ("ollama:someone/coder", "ollama:someone/coder:latest"),
        (
            "ollama:hf.co/unsloth/Qwen3.5-9B-GGUF:Q4_K_M",
            "ollama:hf.co/unsloth/qwen3.5-9b-gguf:q4_k_m",
        ),
    ],
)
def test_ollama_names_are_normalised(typed, canonical):
    assert discovery.canonical(typed) == canonical


def test_configured_names_resolve_to_the_files(stores, small, monkeypatch):
    monkeypatch.setenv("HOME", str(stores["home"]))
    monkeypatch.setenv("OLLAMA_MODELS", str(stores["ollama"]))
    monkeypatch.setenv("HF_HUB_CACHE", str(stores["hub"]))
    monkeypatch.setenv("LLAMA_CACHE", str(stores["llama"]))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    blob = stores["ollama"] / "blobs" / f"sha256-{BLOB}"
    assert models.resolve("ollama:qwen2.5-coder:0.5b") == blob
    assert models.resolve("ollama:registry.ollama.ai/library/qwen2.5-coder:0.5b") == blob
    for name in GOOD[3:]:
        assert models.resolve(name).samefile(small), name
    path = stores["extra"] / "sub" / "nested.gguf"
    assert models.resolve(f"path:{path}") == path
    with pytest.raises(models.ModelError, match="found there: ollama:"):
        models.resolve("ollama:qwen3.5:9b")
    with pytest.raises(models.ModelError, match="malformed manifest JSON"):
        models.resolve("ollama:broken")
    with pytest.raises(models.ModelError, match=r"unknown to this llama\.cpp"):
        models.resolve(f"path:{stores['extra'] / 'unknown-arch.gguf'}")


def test_registry_models_share_a_vocabulary(small, target_path):
    """The embedded pair can speculate together: the same fingerprint from both headers."""
    a, b = read_header(small), read_header(target_path)
    assert a.vocabulary == b.vocabulary or (
        a.vocabulary is not None
        and b.vocabulary is not None
        and a.vocabulary.fingerprint == b.vocabulary.fingerprint
    )


# -- the header reader --------------------------------------------------------------------------


def test_header_reader_agrees_with_the_gguf_package(qwen35):
    """On a file the gguf package wrote (the synthetic target), both readers agree."""
    gguf = pytest.importorskip("gguf")
    path = qwen35["9B"]
    reader = gguf.GGUFReader(str(path))
    h = read_header(path)
    assert h.n_tensors == len(reader.tensors)
    assert h.n_params == sum(int(t.n_elements) for t in reader.tensors)
    assert h.expected_size == path.stat().st_size
    tokens = reader.fields["tokenizer.ggml.tokens"]
    assert h.vocabulary is not None and h.vocabulary.size == len(tokens.data)
    assert h.has_fim and h.vocabulary.fim_tokens
    for key, field in reader.fields.items():
        if key in h.metadata:
            assert h.metadata[key] == pytest.approx(field.contents()), key
    assert "tokenizer.ggml.merges" not in h.metadata  # a long array: skipped, not kept
    for t, (block, size) in GGML_BLOCKS.items():
        assert tuple(gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(t)]) == (block, size)
    for value, name in FILE_TYPES.items():
        spelled = gguf.LlamaFileType(value).name
        assert spelled.removeprefix("MOSTLY_").removeprefix("ALL_") == name


def test_fim_comes_from_the_vocabulary_not_the_name(tmp_path):
    plain = ("a", "b", "c", "<|im_start|>", "<|im_end|>")
    named = text_model(tmp_path / "Qwen2.5-Coder-FIM.gguf", tokens=plain)
    assert not read_header(named).has_fim
    spelled = text_model(tmp_path / "chat.gguf", tokens=("a", "<PRE>", "<SUF>", "<MID>"))
    assert read_header(spelled).has_fim
    by_id = text_model(
        tmp_path / "ids.gguf",
        tokens=plain,
        extra={f"tokenizer.ggml.fim_{k}_token_id": i for i, k in enumerate(("pre", "suf", "mid"))},
    )
    assert read_header(by_id).has_fim


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a GGUF file"),
        (b"GGML" + b"\0" * 60, "not a GGUF file"),
        (b"GGUF\x01\0\0\0" + b"\0" * 16, "unsupported GGUF version 1"),
        (b"GGUF\0\0\0\x03" + b"\0" * 16, "big-endian"),
        (b"GGUF\x03\0\0\0" + b"\xff" * 16, "malformed GGUF"),
        (b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0" + b"\xff" * 16, "a 18,446"),
        (b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x05\0\0\0\0\0\0\0abc", "truncated"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(GGUFError, match=reason):
        read_header(path)


def test_reads_are_bounded(tmp_path):
    """A header announcing 2^40 strings or a 1 TB string is refused before anything is read."""
    head = b"GGUF" + (3).to_bytes(4, "little") + (0).to_bytes(8, "little")
    head += (1).to_bytes(8, "little") + (3).to_bytes(8, "little") + b"key"
    many = tmp_path / "many.gguf"
    many.write_bytes(
        head
        + (9).to_bytes(4, "little")
        + (8).to_bytes(4, "little")
        + (1 << 40).to_bytes(8, "little")
    )
    long = tmp_path / "long.gguf"
    long.write_bytes(head + (8).to_bytes(4, "little") + (1 << 40).to_bytes(8, "little") + b"x" * 64)
    for path in (many, long):
        with pytest.raises(GGUFError, match="limit"):
            read_header(path)


def test_size_labels():
    assert parse_size_label("9B") == 9_000_000_000
    assert parse_size_label("0.8B") == 800_000_000
    assert parse_size_label("500M") == 500_000_000
    assert parse_size_label("8x7B") == 56_000_000_000
    assert parse_size_label("35B-A3B") == 35_000_000_000
    assert parse_size_label("large") is None


def test_headers_are_cached_by_inode_size_and_mtime(tmp_path, small, monkeypatch):
    cache_file = tmp_path / "cache.json"
    linked = link(small, tmp_path / "models" / "a.gguf")
    entry = discovery.Entry("x", "path", linked, str(linked))
    cache = discovery.HeaderCache(cache_file)
    first = discovery.inspect(entry, cache)
    cache.save()
    assert first.header is not None

    def unread(path):
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(discovery, "read_header", unread)
    second = discovery.inspect(entry, discovery.HeaderCache(cache_file))
    assert second.usable and second.header is not None
    short = {k: v for k, v in first.header.metadata.items() if len(str(v)) <= 1024}
    assert second.header.metadata == short  # the chat template is not kept
    assert second.header.vocabulary == first.header.vocabulary
    assert second.header.n_params == first.header.n_params
    # A changed file is read again (a file of our own: the linked model must stay untouched).
    own = text_model(tmp_path / "own.gguf")
    entry = discovery.Entry("own", "path", own, str(own))
    monkeypatch.undo()
    cache = discovery.HeaderCache(cache_file)
    discovery.inspect(entry, cache)
    cache.save()
    monkeypatch.setattr(discovery, "read_header", unread)
    discovery.inspect(entry, discovery.HeaderCache(cache_file))
    os.utime(own, ns=(0, 0))
    with pytest.raises(AssertionError, match="read again"):
        discovery.inspect(entry, discovery.HeaderCache(cache_file))


def test_reading_one_header_keeps_the_others_cached_a_full_discovery_prunes(tmp_path):
    a, b = text_model(tmp_path / "m" / "a.gguf"), text_model(tmp_path / "m" / "b.gguf")
    cache_file = tmp_path / "cache.json"

    def cached() -> int:
        return len(json.loads(cache_file.read_text())["headers"])

    first = discovery.HeaderCache(cache_file)
    discovery.discover([Place("path", tmp_path / "m")], False, first)
    first.save(prune=True)
    assert cached() == 2
    one = discovery.HeaderCache(cache_file)
    discovery.inspect(discovery.Entry("a", "path", a, str(a)), one)
    one.save()
    assert cached() == 2
    b.unlink()
    full = discovery.HeaderCache(cache_file)
    discovery.discover([Place("path", tmp_path / "m")], False, full)
    full.save(prune=True)
    assert cached() == 1


def test_discovery_of_100_models_is_quick(tmp_path, small, capsys):
    """≤ 200 ms for 100 models once their headers are known; the real figures are printed.

    100 Ollama tags whose blobs are 100 distinct small GGUFs (each read once, cold), plus 10
    links to the real 0.5B (one inode: one 150k-token header read)."""
    root = tmp_path / "ollama"
    for i in range(100):
        blob = f"{i:064x}"
        text_model(root / "blobs" / f"sha256-{blob}", tokens=[f"t{j}" for j in range(200)])
        library(root, f"m{i}", [layer("model", f"sha256:{blob}", 0)])
    for i in range(10):
        link(small, tmp_path / "lms" / f"p{i}" / "m" / FILE)
    where = [Place("ollama", root), Place("lmstudio", tmp_path / "lms")]
    cache_file = tmp_path / "headers.json"
    cold = discovery.discover(where, False, discovery.HeaderCache(cache_file))
    cold.found  # noqa: B018
    cache = discovery.HeaderCache(cache_file)
    cold_s = cold.seconds
    discovery.discover(where, False, cache)
    cache.save()
    warm = discovery.discover(where, False, discovery.HeaderCache(cache_file))
    assert len(warm.found) == 110
    assert sum(f.usable for f in warm.found) == 10  # the small ones hold no tensor data
    with capsys.disabled():
        print(
            f"\n[discovery] 110 models: cold {cold_s * 1000:.0f} ms, "
            f"warm {warm.seconds * 1000:.0f} ms; "
            f"one cold 150k-token header {_time_header(small) * 1000:.0f} ms"
        )
    assert warm.seconds < 1.0  # the target is 0.2 s; generous for a busy 2-core machine


def _time_header(path: Path) -> float:
    t0 = time.perf_counter()
    read_header(path)
    return time.perf_counter() - t0


# -- choosing ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen35(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny qwen35-architecture models named and labelled as the Qwen3.5 sizes (one
    vocabulary), and a 0.8B of another vocabulary."""
    from tests.synthetic.make_gguf import build_vocab, make_qwen35_pair

    gen = tmp_path_factory.mktemp("gen")
    target, draft = make_qwen35_pair(gen / "a")
    _, other = make_qwen35_pair(gen / "b", vocab=build_vocab(n_merges=200, variant=1))
    out = tmp_path_factory.mktemp("qwen35")
    made = {}
    for label, src in (("9B", target), ("4B", target), ("2B", target), ("0.8B", draft)):
        meta = {"general.name": f"Qwen3.5-{label}", "general.size_label": label}
        made[label] = with_metadata(src, out / "ours" / f"Qwen3.5-{label}-Q4_K_M.gguf", meta)
    meta = {"general.name": "Qwen3.5-0.8B", "general.size_label": "0.8B"}
    made["other-0.8B"] = with_metadata(other, out / "other" / "Qwen3.5-0.8B-Q4_K_M.gguf", meta)
    return made


def found(path: Path, name: str | None = None) -> discovery.Found:
    return discovery.inspect(discovery.Entry(name or path.stem, "path", path, str(path)))


def mem(gb: float) -> Memory:
    return Memory(int(gb * GIB), 64 * GIB, "RAM")


@pytest.mark.parametrize(
    ("gb", "target", "draft"),
    [
        (64, "Qwen3.5-9B-Q4_K_M", "Qwen3.5-0.8B-Q4_K_M"),
        (12, "Qwen3.5-9B-Q4_K_M", "Qwen3.5-0.8B-Q4_K_M"),
        (11.9, "Qwen3.5-4B-Q4_K_M", "Qwen3.5-0.8B-Q4_K_M"),
        (6, "Qwen3.5-4B-Q4_K_M", "Qwen3.5-0.8B-Q4_K_M"),
        (5, "Qwen3.5-2B-Q4_K_M", "Qwen3.5-0.8B-Q4_K_M"),
        (3, "Qwen3.5-0.8B-Q4_K_M", ""),
        (1.5, models.DEFAULT_TARGET, models.DEFAULT_DRAFT),
    ],
)
def test_auto_follows_the_memory_table(qwen35, gb, target, draft):
    everything = [found(qwen35[k]) for k in ("0.8B", "2B", "4B", "9B")]
    choice = choose(everything, mem(gb), n_ctx=4096, n_seq=4)
    assert (choice.target, choice.draft) == (target, draft), choice.reason
    assert choice.warnings == ()
    if target == models.DEFAULT_TARGET:
        assert "no Qwen3.5 fits" in choice.reason and "needs 2.0 GB" in choice.reason


def test_auto_without_qwen35_takes_the_embedded_pair(small):
    choice = choose([found(small)], mem(64), 4096, 4)
    assert (choice.target, choice.draft) == (models.DEFAULT_TARGET, models.DEFAULT_DRAFT)
    assert "no Qwen3.5 model found" in choice.reason


def test_auto_with_an_incompatible_draft_decodes_plainly_and_warns(qwen35):
    pair = [found(qwen35["9B"]), found(qwen35["other-0.8B"], "other-0.8B")]
    choice = choose(pair, mem(64), 4096, 4)
    assert (choice.target, choice.draft) == ("Qwen3.5-9B-Q4_K_M", "")
    assert "vocabularies differ" in choice.warnings[0]


def test_qwen35_size_classes_and_the_draft_for_an_explicit_target(qwen35):
    classes = {k: qwen35_class(found(p)) for k, p in qwen35.items()}
    assert classes == {
        "9B": ("9B", 12.0),
        "4B": ("4B", 6.0),
        "2B": ("2B", 4.0),
        "0.8B": ("0.8B", 2.0),
        "other-0.8B": ("0.8B", 2.0),
    }
    everything = [found(p, k) for k, p in qwen35.items()]
    draft = choose_draft(everything[0], everything)
    assert draft is not None and draft.name == "0.8B"


def test_memory_estimate_counts_the_kv_cache(small):
    f = found(small)
    one, four = need(f, 4096, 1), need(f, 4096, 4)
    # qwen2 0.5B: 24 layers x 2 KV heads x (64 + 64) x f16 = 12 KiB per token.
    assert one.cache == 24 * 4096 * 2 * 128 * 2
    assert four.cache == 4 * one.cache
    assert one.file == small.stat().st_size


def test_a_cache_memory_cap_lowers_the_documents_cached(small, monkeypatch):
    from airgap_lsp.completion import model_plan

    monkeypatch.setenv("AIRGAP_LSP_NO_MEMORY_CHECK", "1")
    per_document = need(found(small), 4096, 1).cache  # 48 MiB for the 0.5B at 4096 tokens
    two_and_a_half = (2 * per_document + per_document // 2) >> 20
    for cap, cached, warned in ((0, 4, False), (two_and_a_half, 2, False), (1, 1, True)):
        m = ModelSettings(target=str(small), draft="", cached_documents=4, cache_memory_mb=cap)
        plan = model_plan.plan_models(m)
        assert plan.cached_documents == cached, cap
        assert any("models.cacheMemoryMB" in w for w in plan.warnings) == warned, plan.warnings


# -- loading -----------------------------------------------------------------------------------


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home: every store the discovery looks at is under tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    for var in ("HF_HUB_CACHE", "HF_HOME", "LLAMA_CACHE", "XDG_CACHE_HOME", "AIRGAP_LSP_MODELS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("AIRGAP_LSP_NO_MEMORY_CHECK", raising=False)
    return home


def lmstudio(home: Path, files: dict[str, Path]) -> None:
    for rel, src in files.items():
        dst = home / ".lmstudio" / "models" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(src)


def settings(**models_options: Any) -> Settings:
    base = {"context_size": 256, "cached_documents": 1, "threads": 1}
    return Settings(
        models=ModelSettings(**{**base, **models_options}),
        completion=CompletionSettings(max_prompt_ms=0, max_predict_ms=0),
    )


def test_auto_loads_the_qwen35_pair_and_speculates(machine, qwen35, monkeypatch):
    from airgap_lsp.completion import calibration, model_plan
    from airgap_lsp.completion.backend import load_backend

    lmstudio(
        machine,
        {
            "unsloth/Qwen3.5-9B-GGUF/Qwen3.5-9B-Q4_K_M.gguf": qwen35["9B"],
            "unsloth/Qwen3.5-4B-GGUF/Qwen3.5-4B-Q4_K_M.gguf": qwen35["4B"],
            "unsloth/Qwen3.5-0.8B-GGUF/Qwen3.5-0.8B-Q4_K_M.gguf": qwen35["0.8B"],
        },
    )
    monkeypatch.setattr(model_plan, "read_memory", lambda _layers=0: mem(16))
    # A machine where the cost model says drafting pays (on this CPU it never does, and the
    # draft is then not loaded at all: issue 16's fast start).
    monkeypatch.setattr(
        calibration, "decide_draft", lambda *a, **k: calibration.DraftDecision(True, "pays")
    )
    loaded = load_backend(settings(target="auto"))
    engine = loaded.backend.engine
    assert engine.draft is not None, loaded.warnings
    assert engine.target.path.name == "Qwen3.5-9B-Q4_K_M.gguf"
    assert engine.draft.path.name == "Qwen3.5-0.8B-Q4_K_M.gguf"
    origin = loaded.backend.origin
    assert origin is not None and origin.source == "lmstudio"
    assert origin.choice.startswith("auto: Qwen3.5-9B") and "16.0 GB of RAM" in origin.choice
    # With 8 GB the 4B is chosen, with the same draft.
    monkeypatch.setattr(model_plan, "read_memory", lambda _layers=0: mem(8))
    plan = model_plan.plan_models(settings(target="auto").models)
    assert (plan.target.name, plan.draft and plan.draft.name) == (
        "Qwen3.5-4B-Q4_K_M.gguf",
        "Qwen3.5-0.8B-Q4_K_M.gguf",
    )


def test_auto_with_an_incompatible_pair_loads_without_a_draft_and_warns(
    machine, qwen35, monkeypatch
):
    from airgap_lsp.completion import model_plan
    from airgap_lsp.completion.backend import load_backend

    lmstudio(
        machine,
        {
            "a/Qwen3.5-9B-GGUF/Qwen3.5-9B-Q4_K_M.gguf": qwen35["9B"],
            "b/Qwen3.5-0.8B-GGUF/Qwen3.5-0.8B-Q4_K_M.gguf": qwen35["other-0.8B"],
        },
    )
    monkeypatch.setattr(model_plan, "read_memory", lambda _layers=0: mem(16))
    loaded = load_backend(settings(target="auto"))
    assert loaded.backend.engine.draft is None
    assert any("vocabularies differ" in w for w in loaded.warnings), loaded.warnings


def test_a_model_that_does_not_fit_is_refused_before_loading(machine, qwen35, monkeypatch):
    from airgap_lsp.completion import model_plan
    from airgap_lsp.completion.backend import BackendError, load_backend

    def no_load(*_a, **_k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr("airgap_lsp.completion.backend.Model", no_load)
    monkeypatch.setattr(
        model_plan, "read_memory", lambda _layers=0: Memory(1 << 20, 1 << 30, "RAM")
    )
    with pytest.raises(BackendError, match=r"will not fit in memory: it needs ~0\.\d GB \(file"):
        load_backend(settings(target=str(qwen35["9B"]), draft=""))
    # A draft that does not fit beside the target is left out, with a warning.
    target = found(qwen35["9B"])
    just = need(target, 256, 1).total + 1000
    monkeypatch.setattr(model_plan, "read_memory", lambda _layers=0: Memory(just, just, "RAM"))
    plan = model_plan.plan_models(
        settings(target=str(qwen35["9B"]), draft=str(qwen35["0.8B"])).models
    )
    assert plan.draft is None and "left out" in plan.warnings[0]
    monkeypatch.setenv("AIRGAP_LSP_NO_MEMORY_CHECK", "1")
    monkeypatch.setattr(model_plan, "read_memory", lambda _layers=0: Memory(1, 1, "RAM"))
    plan = model_plan.plan_models(settings(target=str(qwen35["9B"])).models)
    assert plan.target == qwen35["9B"]


def test_a_draft_of_auto_is_the_smallest_model_of_the_same_vocabulary(machine, qwen35, monkeypatch):
    from airgap_lsp.completion import model_plan

    lmstudio(
        machine,
        {
            "a/b/Qwen3.5-0.8B-Q4_K_M.gguf": qwen35["0.8B"],
            "a/c/Qwen3.5-2B-Q4_K_M.gguf": qwen35["2B"],
            "x/y/Qwen3.5-0.8B-Q4_K_M.gguf": qwen35["other-0.8B"],
        },
    )
    monkeypatch.setattr(model_plan, "read_memory", lambda _layers=0: mem(16))
    plan = model_plan.plan_models(settings(target=str(qwen35["9B"]), draft="auto").models)
    assert plan.draft is not None and plan.draft.samefile(qwen35["0.8B"])
    assert plan.origin.source == "file"
    draft = "lmstudio:a/b/Qwen3.5-0.8B-Q4_K_M.gguf"
    assert plan.origin.choice == f"configured: {qwen35['9B']} + draft {draft}"


# -- auto is the default --------------------------------------------------------------------------


def embedded(monkeypatch: pytest.MonkeyPatch, root: Path, files: list[Path]) -> None:
    """airgap-lsp's own model cache at `root`, holding (links to) `files`."""
    root.mkdir(parents=True, exist_ok=True)
    for f in files:
        link(f, root / f.name)
    monkeypatch.setenv("AIRGAP_LSP_MODELS", str(root))


NAMED = ModelSettings(target=models.DEFAULT_TARGET, draft=models.DEFAULT_DRAFT)
AUTO = ModelSettings(target="auto", draft="auto")


def test_with_nothing_configured_the_models_are_auto():
    assert ModelSettings() == AUTO and models.AUTO == "auto"


def test_auto_on_a_machine_without_other_models_plans_the_embedded_pair(
    machine, tmp_path, monkeypatch, target_path, draft_path
):
    """With no model discovered, the default plans what naming the embedded pair plans."""
    from airgap_lsp.completion import model_plan

    embedded(monkeypatch, tmp_path / "own", [target_path, draft_path])
    auto = model_plan.plan_models(AUTO, mem(64))
    named = model_plan.plan_models(NAMED, mem(64))
    assert (auto.target.name, auto.draft and auto.draft.name) == (
        target_path.name,
        draft_path.name,
    )
    assert (auto.target, auto.draft, auto.warnings) == (named.target, named.draft, named.warnings)
    assert auto.origin.source == named.origin.source == "registry"
    assert auto.origin.choice == (
        "auto: no Qwen3.5 model found on this machine; the embedded default pair"
    )
    # An explicit embedded target with the default (auto) draft: the embedded draft.
    explicit = model_plan.plan_models(
        ModelSettings(target=models.DEFAULT_TARGET, draft="auto"), mem(64)
    )
    assert (explicit.draft, explicit.warnings) == (named.draft, [])


def test_auto_without_the_embedded_models_says_what_naming_them_says(
    machine, tmp_path, monkeypatch, target_path
):
    from airgap_lsp.completion import model_plan
    from airgap_lsp.completion.models import ModelError

    embedded(monkeypatch, tmp_path / "none", [])
    messages = []
    for m in (AUTO, NAMED):
        with pytest.raises(ModelError) as exc:
            model_plan.plan_models(m, mem(64))
        messages.append(str(exc.value))
    assert messages[0] == messages[1] and "airgap-lsp models fetch" in messages[0]
    # Only the draft missing: the same warning (how to fetch it), auto or named.
    embedded(monkeypatch, tmp_path / "target-only", [target_path])
    named = model_plan.plan_models(NAMED, mem(64)).warnings
    assert len(named) == 1 and "models fetch" in named[0], named
    for m in (AUTO, ModelSettings(target=models.DEFAULT_TARGET, draft="auto")):
        assert model_plan.plan_models(m, mem(64)).warnings == named, m


def test_auto_with_a_broken_embedded_file_plans_what_naming_it_plans(
    machine, tmp_path, monkeypatch, target_path, draft_path
):
    """A truncated embedded target is loaded (and fails) as when it is named, not refused by
    discovery with another message."""
    from airgap_lsp.completion import model_plan

    own = tmp_path / "own"
    embedded(monkeypatch, own, [draft_path])
    (own / target_path.name).write_bytes(target_path.read_bytes()[:4096])
    named = model_plan.plan_models(NAMED, mem(64))
    auto = model_plan.plan_models(AUTO, mem(64))
    assert (auto.target, auto.draft, auto.warnings) == (named.target, named.draft, named.warnings)


def test_a_draft_of_auto_prefers_the_embedded_file_among_equals(
    machine, tmp_path, monkeypatch, target_path, draft_path
):
    """The same 0.5B in Ollama's store (a hard link: same size, a name sorting first) does not
    replace the embedded, verified draft."""
    from airgap_lsp.completion import model_plan

    embedded(monkeypatch, tmp_path / "own", [target_path, draft_path])
    store = tmp_path / "ollama"  # OLLAMA_MODELS of the machine fixture
    link(draft_path, store / "blobs" / f"sha256-{BLOB}")
    library(store, "qwen2.5-coder", [layer("model", f"sha256:{BLOB}", draft_path.stat().st_size)])
    listed = {f.name for f in discovery.discover().found}
    assert "ollama:qwen2.5-coder:latest" in listed, listed
    plan = model_plan.plan_models(
        ModelSettings(target=models.DEFAULT_TARGET, draft="auto"), mem(64)
    )
    assert plan.draft == tmp_path / "own" / draft_path.name
    assert plan.origin.draft == models.DEFAULT_DRAFT


def test_read_memory_from_meminfo(tmp_path):
    from airgap_lsp.completion.selection import read_memory

    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       16000000 kB\nMemFree: 100 kB\nMemAvailable:    8000000 kB\n")
    m = read_memory(0, str(info))
    assert (m.available, m.total, m.kind) == (8_000_000 * 1024, 16_000_000 * 1024, "RAM")
    info.write_text("MemTotal:       16000000 kB\n")
    assert read_memory(0, str(info)).available == 16_000_000 * 1024


def test_prompts_use_fim_when_the_vocabulary_has_it_whatever_the_name(tmp_path):
    """prompt.fim_prompt decides from llama.cpp's reading of the vocabulary: a file named like
    a FIM coder without FIM tokens gets a chat prompt, a file named like a chat model with them
    gets FIM."""
    from airgap_lsp.completion.prompt import Budget, PromptInput, fim_prompt
    from airgap_lsp.completion.runtime import Model
    from tests.synthetic.make_gguf import build_vocab, make_qwen2_pair

    target, _ = make_qwen2_pair(tmp_path / "gen")
    tokens = [t.replace("fim_", "nofim_") for t in build_vocab().tokens]
    ids = [f"tokenizer.ggml.fim_{k}_token_id" for k in ("pre", "suf", "mid", "pad", "rep", "sep")]
    no_fim = with_metadata(
        target,
        tmp_path / "Qwen2.5-Coder-FIM.gguf",
        {"general.name": "Qwen2.5-Coder FIM", "tokenizer.ggml.tokens": tokens},
        removed=ids,
    )
    with_fim = with_metadata(target, tmp_path / "chat-only.gguf", {"general.name": "chat-only"})
    request = PromptInput(prefix="def add(a, b):\n    ", suffix="\n")
    kinds = {}
    for path in (no_fim, with_fim):
        assert read_header(path).has_fim == (path == with_fim)
        model = Model(path, vocab_only=True)
        kinds[path.name] = fim_prompt(model, request, Budget()).kind
        model.close()
    assert kinds == {"Qwen2.5-Coder-FIM.gguf": "chat", "chat-only.gguf": "fim"}


def test_models_command_lists_discovered_models_pairs_and_the_auto_choice(
    machine, qwen35, capsys, monkeypatch
):
    from airgap_lsp.lsp.cli import main

    lmstudio(
        machine,
        {
            "u/Qwen3.5-9B-GGUF/Qwen3.5-9B-Q4_K_M.gguf": qwen35["9B"],
            "u/Qwen3.5-0.8B-GGUF/Qwen3.5-0.8B-Q4_K_M.gguf": qwen35["0.8B"],
        },
    )
    extra = machine / "mine"
    text_model(extra / "odd.gguf", arch="nonesuch")
    monkeypatch.setattr("airgap_lsp.completion.selection.read_memory", lambda _layers=0: mem(16))
    assert main(["models", "--json", "--search-path", str(extra)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in out["models"]} >= {models.DEFAULT_TARGET, models.DEFAULT_DRAFT}
    by_name = {d["name"]: d for d in out["discovered"]}
    nine = by_name["lmstudio:u/Qwen3.5-9B-GGUF/Qwen3.5-9B-Q4_K_M.gguf"]
    assert nine["usable"] and nine["architecture"] == "qwen35" and nine["fim"] is True
    assert nine["params"] == 9_000_000_000 and nine["quantization"] == "F32"
    odd = by_name[f"path:{extra / 'odd.gguf'}"]
    assert not odd["usable"] and "unknown to this llama.cpp" in odd["problem"]
    assert out["speculation"] == [
        [
            "lmstudio:u/Qwen3.5-9B-GGUF/Qwen3.5-9B-Q4_K_M.gguf",
            "lmstudio:u/Qwen3.5-0.8B-GGUF/Qwen3.5-0.8B-Q4_K_M.gguf",
        ]
    ]
    assert out["auto"]["target"] == "lmstudio:u/Qwen3.5-9B-GGUF/Qwen3.5-9B-Q4_K_M.gguf"
    assert out["auto"]["draft"] == "lmstudio:u/Qwen3.5-0.8B-GGUF/Qwen3.5-0.8B-Q4_K_M.gguf"
    assert main(["models", "--search-path", str(extra)]) == 0
    table = capsys.readouterr().out
    assert "cannot be used: architecture 'nonesuch'" in table
    assert "can speculate together" in table
    assert 'models.target = "auto" would load lmstudio:u/Qwen3.5-9B-GGUF' in table


def test_a_split_gguf_named_directly_is_resolved_with_its_parts(tmp_path):
    first = text_model(tmp_path / "m-00001-of-00002.gguf", extra={"split.count": 2})
    with pytest.raises(models.ModelError, match="part 2 missing"):
        models.resolve(f"path:{first}")
    text_model(tmp_path / "m-00002-of-00002.gguf", extra={"split.count": 2})
    f = discovery.find(f"path:{first}")
    assert f is not None and f.usable and f.notes == ("split in 2 parts",)
    assert models.resolve(f"path:{first}") == first


def test_architectures_are_checked_against_the_installed_llama_cpp(monkeypatch):
    assert discovery.architecture_known("qwen35") and discovery.architecture_known("qwen2")
    assert not discovery.architecture_known("nonesuch")
    monkeypatch.setattr(discovery, "_library_text", b"")  # library unreadable: the known list
    assert discovery.architecture_known("qwen2") and not discovery.architecture_known("nonesuch")
