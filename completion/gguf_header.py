"""Reading a GGUF file's header: its metadata and tensor list, never the weights.

Owns the facts discovery needs about a model file without loading it: architecture, parameter
count, quantisation, context length, attention/recurrent shapes (for a memory estimate), whether
the vocabulary has fill-in-the-middle tokens, a fingerprint of the vocabulary, and whether the
file holds everything its tensor list promises. Every read is bounded (string and array sizes,
header size); a file that is not GGUF, is truncated or is malformed raises `GGUFError` with a
reason meant for the user. Pure Python on purpose: the `gguf` package is a dev dependency only.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"GGUF"
MAX_STRING = 8 << 20  # bytes of one string (chat templates are tens of KB)
MAX_ARRAY = 1 << 24  # elements of one array (vocabularies are ~10^5)
MAX_KV = 1 << 16
MAX_TENSORS = 1 << 20
MAX_DIMS = 8
MAX_HEADER = 256 << 20  # bytes read in all before the tensor data
SHORT_ARRAY = 64  # arrays up to this length are kept in `metadata` (e.g. per-layer counts)

_VALUE_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_VALUE_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_VALUE_FORMATS.update({10: "<Q", 11: "<q", 12: "<d"})
_STRING, _ARRAY = 8, 9

# ggml tensor types: (elements per block, bytes per block), as ggml.c defines them.
GGML_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 40),  # Q8_1
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    15: (256, 292),  # Q8_K
    16: (256, 66),  # IQ2_XXS
    17: (256, 74),  # IQ2_XS
    18: (256, 98),  # IQ3_XXS
    19: (256, 50),  # IQ1_S
    20: (32, 18),  # IQ4_NL
    21: (256, 110),  # IQ3_S
    22: (256, 82),  # IQ2_S
    23: (256, 136),  # IQ4_XS
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    29: (256, 56),  # IQ1_M
    30: (1, 2),  # BF16
    34: (256, 54),  # TQ1_0
    35: (256, 66),  # TQ2_0
    39: (32, 17),  # MXFP4
    40: (64, 36),  # NVFP4
    41: (128, 18),  # Q1_0
}

# general.file_type (llama_ftype) as llama.cpp names the quantisations.
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}

# The spellings llama.cpp's vocabulary loader recognises as FIM prefix / suffix / middle tokens.
FIM_PREFIX: tuple[str, ...] = ("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>")
FIM_PREFIX += ("<PRE>", "▁<PRE>", "<|code_prefix|>")
FIM_SUFFIX: tuple[str, ...] = ("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>")
FIM_SUFFIX += ("<SUF>", "▁<SUF>", "<|code_suffix|>")
FIM_MIDDLE: tuple[str, ...] = ("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>")
FIM_MIDDLE += ("<MID>", "▁<MID>", "<|code_middle|>")


class GGUFError(Exception):
    """The file cannot be read as a GGUF model; the message says why."""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    model: str  # tokenizer.ggml.model: "gpt2", "llama", ...
    size: int
    fingerprint: str  # sha256 of the model name and every token's spelling, hex
    fim_tokens: bool  # prefix, suffix and middle tokens all present


@dataclass(frozen=True, slots=True)
class Header:
    """What a GGUF header says about its model."""

    version: int
    metadata: dict[str, Any]  # scalars, strings and short arrays (long arrays left out)
    n_tensors: int
    n_params: int  # elements of all tensors
    tensor_bytes: int  # where the last tensor's data ends, from the data section's start
    data_offset: int  # where the tensor data starts in the file
    vocabulary: Vocabulary | None
    tensor_prefixes: frozenset[str] = field(default_factory=frozenset)  # "blk", "v", "mm", ...

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def arch_value(self, key: str, default: Any = None) -> Any:
        """An architecture-scoped value (`<arch>.<key>`)."""
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def quantization(self) -> str:
        ftype = self.metadata.get("general.file_type")
        if isinstance(ftype, int):
            return FILE_TYPES.get(ftype, f"type {ftype}")
        return ""

    @property
    def context_length(self) -> int | None:
        value = self.arch_value("context_length")
        return int(value) if isinstance(value, int) else None

    @property
    def expected_size(self) -> int:
        """The file size its tensor list needs."""
        return self.data_offset + self.tensor_bytes

    @property
    def split(self) -> tuple[int, int] | None:
        """(part number from 1, part count) for a split GGUF, None for a whole file."""
        count = self.metadata.get("split.count")
        if isinstance(count, int) and count > 1:
            no = self.metadata.get("split.no", 0)
            return (int(no) + 1 if isinstance(no, int) else 1, count)
        return None

    @property
    def has_fim(self) -> bool:
        """Whether the vocabulary has FIM tokens (by spelling or by the explicit id keys)."""
        if self.vocabulary is not None and self.vocabulary.fim_tokens:
            return True
        keys = ("fim_pre_token_id", "fim_suf_token_id", "fim_mid_token_id")
        return all(isinstance(self.metadata.get(f"tokenizer.ggml.{k}"), int) for k in keys)


class _Reader:
    """Sequential little-endian reads from a file, buffered in growing chunks, never past
    MAX_HEADER."""

    def __init__(self, f: BinaryIO, file_size: int) -> None:
        self.f = f
        self.file_size = file_size
        self.buf = bytearray()
        self.pos = 0
        self._chunk = 1 << 16

    def ensure(self, end: int) -> None:
        if end <= len(self.buf):
            return
        if end > MAX_HEADER:
            raise GGUFError(f"header larger than {MAX_HEADER >> 20} MiB; refusing to read it")
        if end > self.file_size:
            raise GGUFError(
                f"truncated GGUF header: the file ends at {self.file_size:,} bytes, "
                f"the header needs more than that"
            )
        want = max(end - len(self.buf), self._chunk)
        self._chunk = min(self._chunk * 2, 16 << 20)
        data = self.f.read(want)
        self.buf += data
        if len(self.buf) < end:
            raise GGUFError(f"truncated GGUF header: read stopped at {len(self.buf):,} bytes")

    def scalar(self, vtype: int) -> Any:
        fmt = _VALUE_FORMATS.get(vtype)
        if fmt is None:
            raise GGUFError(f"malformed GGUF: unknown value type {vtype}")
        size = _VALUE_SIZES[vtype]
        self.ensure(self.pos + size)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def u32(self) -> int:
        return int(self.scalar(4))

    def u64(self) -> int:
        return int(self.scalar(10))

    def raw_string(self, limit: int = MAX_STRING) -> bytes:
        n = self.u64()
        if n > limit:
            raise GGUFError(f"malformed GGUF: a {n:,}-byte string (limit {limit:,})")
        self.ensure(self.pos + n)
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def string(self, limit: int = MAX_STRING) -> str:
        return self.raw_string(limit).decode("utf-8", "replace")

    def skip_strings(self, count: int) -> tuple[int, int]:
        """Step over `count` strings; returns the byte range they occupy."""
        start = off = self.pos
        buf = self.buf
        end = len(buf)
        unpack = struct.Struct("<Q").unpack_from
        for _ in range(count):
            if off + 8 > end:
                self.ensure(off + 8)
                buf, end = self.buf, len(self.buf)
            n = unpack(buf, off)[0]
            if n > MAX_STRING:
                raise GGUFError(f"malformed GGUF: a {n:,}-byte string in an array")
            off += 8 + n
            if off > end:
                self.ensure(off)
                buf, end = self.buf, len(self.buf)
        self.pos = off
        return start, off

    def value(self, vtype: int, key: str, header: dict[str, Any]) -> Any:
        if vtype == _STRING:
            return self.string()
        if vtype != _ARRAY:
            return self.scalar(vtype)
        etype = self.u32()
        count = self.u64()
        if count > MAX_ARRAY:
            raise GGUFError(f"malformed GGUF: {key} has {count:,} elements (limit {MAX_ARRAY:,})")
        if etype == _STRING:
            start, end = self.skip_strings(count)
            if key == "tokenizer.ggml.tokens":
                header["_tokens"] = (count, start, end)
            if count <= SHORT_ARRAY:
                return _strings(self.buf, start, count)
            return None
        if etype == _ARRAY:
            raise GGUFError(f"malformed GGUF: {key} is an array of arrays")
        size = _VALUE_SIZES.get(etype)
        if size is None:
            raise GGUFError(f"malformed GGUF: {key} has unknown element type {etype}")
        start = self.pos
        self.ensure(start + size * count)
        self.pos = start + size * count
        if count <= SHORT_ARRAY:
            fmt = "<" + _VALUE_FORMATS[etype][1] * count
            return list(struct.unpack_from(fmt, self.buf, start))
        return None


def _strings(buf: bytearray, start: int, count: int) -> list[str]:
    out = []
    off = start
    for _ in range(count):
        (n,) = struct.unpack_from("<Q", buf, off)
        out.append(bytes(buf[off + 8 : off + 8 + n]).decode("utf-8", "replace"))
        off += 8 + n
    return out


def _fim_in(region: bytes) -> bool:
    def has(spellings: tuple[str, ...]) -> bool:
        for s in spellings:
            raw = s.encode()
            if struct.pack("<Q", len(raw)) + raw in region:
                return True
        return False

    return has(FIM_PREFIX) and has(FIM_SUFFIX) and has(FIM_MIDDLE)


def read_header(path: str | Path) -> Header:
    """The header of the GGUF file at `path` (GGUFError if it is not a readable GGUF)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            return _parse(f, size)
    except OSError as exc:
        raise GGUFError(f"cannot read: {exc.strerror or exc}") from exc


def _parse(f: BinaryIO, file_size: int) -> Header:
    r = _Reader(f, file_size)
    if file_size < 4:
        raise GGUFError(f"not a GGUF file (only {file_size} bytes)")
    r.ensure(4)
    if bytes(r.buf[:4]) != MAGIC:
        raise GGUFError(f"not a GGUF file (starts with {bytes(r.buf[:4])!r})")
    r.pos = 4
    version = r.u32()
    if version in (2 << 24, 3 << 24):
        raise GGUFError("big-endian GGUF; llama.cpp on this machine reads little-endian files")
    if version not in (2, 3):
        raise GGUFError(f"unsupported GGUF version {version} (llama.cpp reads 2 and 3)")
    n_tensors = r.u64()
    n_kv = r.u64()
    if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
        raise GGUFError(f"malformed GGUF: {n_tensors:,} tensors, {n_kv:,} metadata entries")
    metadata: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string(limit=1 << 16)
        vtype = r.u32()
        value = r.value(vtype, key, extra)
        if value is not None:
            metadata[key] = value
    n_params = 0
    tensor_end = 0
    prefixes: set[str] = set()
    for _ in range(n_tensors):
        name = r.string(limit=1 << 16)
        n_dims = r.u32()
        if n_dims > MAX_DIMS:
            raise GGUFError(f"malformed GGUF: tensor {name} has {n_dims} dimensions")
        elements = 1
        for _ in range(n_dims):
            elements *= r.u64()
        ttype = r.u32()
        offset = r.u64()
        n_params += elements
        prefixes.add(name.split(".", 1)[0])
        block = GGML_BLOCKS.get(ttype)
        if block is not None:
            tensor_end = max(tensor_end, offset + elements // block[0] * block[1])
    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise GGUFError(f"malformed GGUF: alignment {alignment!r}")
    data_offset = (r.pos + alignment - 1) // alignment * alignment
    vocab = None
    tokens = extra.get("_tokens")
    if tokens is not None:
        count, start, end = tokens
        region = bytes(r.buf[start:end])
        model = str(metadata.get("tokenizer.ggml.model", ""))
        digest = hashlib.sha256(model.encode() + b"\0" + struct.pack("<Q", count) + region)
        vocab = Vocabulary(model, count, digest.hexdigest(), _fim_in(region))
    return Header(
        version=version,
        metadata=metadata,
        n_tensors=n_tensors,
        n_params=n_params,
        tensor_bytes=tensor_end,
        data_offset=data_offset,
        vocabulary=vocab,
        tensor_prefixes=frozenset(prefixes),
    )


_SIZE_LABEL = re.compile(r"(?:(\d+)x)?(\d+(?:\.\d+)?)\s*([KMBT])\b", re.IGNORECASE)
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def parse_size_label(label: str) -> int | None:
    """Parameters from a size label such as "9B", "0.8B", "500M" or "8x7B" (None if none)."""
    m = _SIZE_LABEL.search(label or "")
    if not m:
        return None
    experts = int(m.group(1)) if m.group(1) else 1
    return int(experts * float(m.group(2)) * _SCALE[m.group(3).upper()])
