"""Small GGUF files for discovery tests: a plain writer for headers (metadata + tensor list,
tensor data optional) and a copy of a real GGUF with metadata added.

Written by hand rather than with the `gguf` package so that a test can also produce what that
package refuses to write (a truncated header, an unknown architecture, vision tensors in a text
model) and so that the reader under test is checked against an independent writer.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airgap_lsp.completion.gguf_header import read_header

U32, I32, F32, BOOL, STRING, ARRAY, U64 = 4, 5, 6, 7, 8, 9, 10


def _string(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(raw)) + raw


def _value(value: Any) -> tuple[int, bytes]:
    if isinstance(value, bool):
        return BOOL, struct.pack("<?", value)
    if isinstance(value, int):
        return U32, struct.pack("<I", value)
    if isinstance(value, float):
        return F32, struct.pack("<f", value)
    if isinstance(value, str):
        return STRING, _string(value)
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, str) for v in value):
            return ARRAY, struct.pack("<IQ", STRING, len(value)) + b"".join(map(_string, value))
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return ARRAY, struct.pack("<IQ", I32, len(value)) + struct.pack(
                f"<{len(value)}i", *value
            )
    raise TypeError(f"unsupported value {value!r}")


def kv_bytes(metadata: dict[str, Any]) -> bytes:
    out = b""
    for key, value in metadata.items():
        vtype, raw = _value(value)
        out += _string(key) + struct.pack("<I", vtype) + raw
    return out


Tensor = tuple[str, Sequence[int], int]  # name, shape, ggml type (0 = F32)


def write_gguf(
    path: Path,
    metadata: dict[str, Any],
    tensors: Sequence[Tensor] = (),
    with_data: bool = True,
) -> Path:
    """A GGUF v3 file; tensor data (zeros) is written when `with_data`."""
    infos = b""
    offset = 0
    for name, shape, ttype in tensors:
        assert ttype == 0, "only F32 tensors here"
        infos += _string(name) + struct.pack("<I", len(shape))
        infos += struct.pack(f"<{len(shape)}Q", *shape) + struct.pack("<IQ", ttype, offset)
        n = 1
        for d in shape:
            n *= d
        offset += (n * 4 + 31) // 32 * 32
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)) + kv_bytes(metadata)
    head += infos
    head += b"\0" * (-len(head) % 32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(head)
        if with_data and offset:
            f.write(b"\0" * offset)
    return path


def text_model(
    path: Path,
    arch: str = "qwen2",
    tokens: Sequence[str] = ("a", "b", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    extra: dict[str, Any] | None = None,
    tensors: Sequence[Tensor] = (("token_embd.weight", (8, 5), 0),),
    with_data: bool = True,
) -> Path:
    """A small header-only model of `arch` with a vocabulary (not loadable by llama.cpp)."""
    metadata: dict[str, Any] = {
        "general.architecture": arch,
        "general.name": path.stem,
        "general.file_type": 15,
        f"{arch}.context_length": 4096,
        f"{arch}.block_count": 2,
        f"{arch}.embedding_length": 8,
        f"{arch}.attention.head_count": 2,
        f"{arch}.attention.head_count_kv": 1,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.tokens": list(tokens),
    }
    metadata.update(extra or {})
    return write_gguf(path, metadata, tensors, with_data)


def with_metadata(
    src: Path, dst: Path, changed: dict[str, Any], removed: Sequence[str] = ()
) -> Path:
    """A copy of the GGUF `src` at `dst` with metadata entries set (added, or replacing the
    entry of the same key) or removed, tensor infos and data unchanged."""
    header = read_header(src)
    raw = src.read_bytes()
    n_tensors, n_kv = struct.unpack_from("<QQ", raw, 8)
    kept = b""
    n_kept = 0
    off = 24
    for _ in range(n_kv):
        start = off
        (n,) = struct.unpack_from("<Q", raw, off)
        key = raw[off + 8 : off + 8 + n].decode()
        off += 8 + n
        (vtype,) = struct.unpack_from("<I", raw, off)
        off = _skip_value(raw, off + 4, vtype)
        if key not in changed and key not in removed:
            kept += raw[start:off]
            n_kept += 1
    infos_end = _end_of_tensor_infos(raw, off, n_tensors)
    alignment = header.metadata.get("general.alignment", 32)
    new = bytearray(raw[:8] + struct.pack("<QQ", n_tensors, n_kept + len(changed)))
    new += kept + kv_bytes(changed) + raw[off:infos_end]
    new += b"\0" * (-len(new) % alignment)
    new += raw[header.data_offset :]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(new))
    return dst


def _skip_value(raw: bytes, off: int, vtype: int) -> int:
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    if vtype == STRING:
        (n,) = struct.unpack_from("<Q", raw, off)
        return off + 8 + n
    if vtype == ARRAY:
        etype, count = struct.unpack_from("<IQ", raw, off)
        off += 12
        if etype == STRING:
            for _ in range(count):
                (n,) = struct.unpack_from("<Q", raw, off)
                off += 8 + n
            return off
        return off + sizes[etype] * count
    return off + sizes[vtype]


def _end_of_tensor_infos(raw: bytes, off: int, n_tensors: int) -> int:
    for _ in range(n_tensors):
        (n,) = struct.unpack_from("<Q", raw, off)
        off += 8 + n
        (n_dims,) = struct.unpack_from("<I", raw, off)
        off += 4 + 8 * n_dims + 4 + 8
    return off
