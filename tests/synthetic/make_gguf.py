"""Tiny random-weight GGUF models for tests that need a real llama.cpp model but not a good one.

Owns the synthetic models of tests/synthetic: a byte-level BPE vocabulary (GPT-2 style, merges
learned from a bundled Python snippet, Qwen2.5-Coder's control tokens with the same spelling)
and writers for two llama.cpp architectures:

* `qwen2` (Qwen2.5): a target and a draft that is a noisy copy of the target's first layers;
* `qwen35` (Qwen3.5: Gated DeltaNet recurrent layers with a full-attention layer every
  `full_attention_interval` layers), again a target and a noisy-copy draft;
* one more `qwen2` model whose vocabulary differs (size and token spelling), to check that an
  incompatible draft is refused.

Everything is deterministic from a seed; all five files (0.5-3.3 MB each, F32) are written
in well under a second. Run `python -m tests.synthetic.make_gguf OUTDIR` to write them all.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

# The control tokens of Qwen2.5-Coder, spelled the same way, in the same relative order.
CONTROL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)

TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_CONTROL = 3

# Source text the merges are learned from: typical Python, so that tokenizing code gives
# multi-byte tokens (as a real coder vocabulary would) rather than one token per byte.
PYTHON_CORPUS = '''\
import os
import sys
import json
from pathlib import Path
from typing import Any, Optional
from dataclasses import dataclass, field


@dataclass
class Config:
    name: str
    path: Path
    size: int = 0
    items: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "size": self.size}


class Cache:
    """A small least-recently-used cache."""

    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self.data: dict[str, Any] = {}
        self.order: list[str] = []

    def get(self, key: str, default: Optional[Any] = None) -> Any:
        if key not in self.data:
            return default
        self.order.remove(key)
        self.order.append(key)
        return self.data[key]

    def set(self, key: str, value: Any) -> None:
        if key in self.data:
            self.order.remove(key)
        elif len(self.data) >= self.capacity:
            oldest = self.order.pop(0)
            del self.data[oldest]
        self.data[key] = value
        self.order.append(key)

    def __len__(self) -> int:
        return len(self.data)


def read_config(path: str) -> Config:
    with open(path, "r", encoding="utf-8") as f:
        data = json.load(f)
    return Config(name=data["name"], path=Path(data["path"]), size=int(data.get("size", 0)))


def fibonacci(n: int) -> int:
    if n < 2:
        return n
    a, b = 0, 1
    for _ in range(n - 1):
        a, b = b, a + b
    return b


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    for i in range(2, int(n ** 0.5) + 1):
        if n % i == 0:
            return False
    return True


def binary_search(items: list[int], target: int) -> int:
    low, high = 0, len(items) - 1
    while low <= high:
        mid = (low + high) // 2
        if items[mid] == target:
            return mid
        elif items[mid] < target:
            low = mid + 1
        else:
            high = mid - 1
    return -1


def count_words(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in text.split():
        word = word.strip().lower()
        if not word:
            continue
        counts[word] = counts.get(word, 0) + 1
    return counts


def flatten(nested: list[list[int]]) -> list[int]:
    result = []
    for row in nested:
        for value in row:
            result.append(value)
    return result


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: main.py PATH", file=sys.stderr)
        return 2
    config = read_config(argv[1])
    cache = Cache(capacity=config.size or 16)
    for name in config.items:
        cache.set(name, os.path.join(str(config.path), name))
    print(json.dumps(config.to_dict(), indent=2))
    for i in range(10):
        print(i, fibonacci(i), is_prime(i))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''

# Qwen2's pre-tokenizer regex with \\p{L} / \\p{N} spelled for Python's `re` (letters are
# [^\\W\\d_], numbers \\d); good enough to keep learned merges inside llama.cpp's pieces.
_PRETOKENIZE = re.compile(
    r"'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])"
    r"|(?:_|[^\r\n\w])?[^\W\d_]+"
    r"|\d"
    r"| ?(?:_|[^\s\w])+[\r\n]*"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+"
)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-printable-character table (what byte-level BPE vocabularies spell)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def learn_merges(corpus: str, n_merges: int) -> list[tuple[str, str]]:
    """Byte-level BPE merges, most frequent pair first (ties broken by spelling, so the result
    is the same on every machine)."""
    enc = bytes_to_unicode()
    words: Counter[tuple[str, ...]] = Counter(
        tuple(enc[b] for b in piece.encode("utf-8")) for piece in _PRETOKENIZE.findall(corpus)
    )
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            for pair in itertools.pairwise(word):
                pairs[pair] += count
        if not pairs:
            break
        best, count = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if count < 2:
            break
        merges.append(best)
        joined = best[0] + best[1]
        merged: Counter[tuple[str, ...]] = Counter()
        for word, n in words.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += n
        words = merged
    return merges


@dataclass(frozen=True)
class Vocab:
    """A GPT-2-style vocabulary as GGUF stores it."""

    tokens: list[str]
    token_types: list[int]
    merges: list[str]

    @property
    def size(self) -> int:
        return len(self.tokens)

    def id(self, text: str) -> int:
        return self.tokens.index(text)


def build_vocab(n_merges: int = 400, corpus: str = PYTHON_CORPUS, variant: int = 0) -> Vocab:
    """The 256 byte tokens, up to `n_merges` learned merges and the control tokens (the
    bundled corpus gives 271 merges at most: pairs seen only once are not merged).

    variant 0 lays ids out like Qwen's (bytes in GPT-2 order, merges, then control tokens);
    variant 1 puts the control tokens first and the bytes in byte order, so that the same
    id spells a different token than in variant 0.
    """
    enc = bytes_to_unicode()
    byte_tokens = list(enc.values()) if variant == 0 else [enc[b] for b in range(256)]
    merges = learn_merges(corpus, n_merges)
    merged = [a + b for a, b in merges]
    normal = byte_tokens + [t for t in dict.fromkeys(merged) if t not in enc.values()]
    if variant == 0:
        tokens = normal + list(CONTROL_TOKENS)
        types = [TOKEN_TYPE_NORMAL] * len(normal) + [TOKEN_TYPE_CONTROL] * len(CONTROL_TOKENS)
    else:
        tokens = list(CONTROL_TOKENS) + normal
        types = [TOKEN_TYPE_CONTROL] * len(CONTROL_TOKENS) + [TOKEN_TYPE_NORMAL] * len(normal)
    return Vocab(tokens=tokens, token_types=types, merges=[f"{a} {b}" for a, b in merges])


@dataclass(frozen=True)
class Qwen2Config:
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 256
    n_ctx_train: int = 4096
    rope_freq_base: float = 1_000_000.0
    rms_eps: float = 1e-6

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


@dataclass(frozen=True)
class Qwen35Config:
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_head_kv: int = 2
    head_dim: int = 32
    n_ff: int = 256
    full_attention_interval: int = 2
    # Qwen3.5 rotates a quarter of each head (partial_rotary_factor 0.25) with interleaved
    # M-RoPE; the sections add up to n_rot / 2 as in the real [11, 11, 10, 0] for n_rot 64.
    n_rot: int = 8
    rope_sections: tuple[int, int, int, int] = (2, 1, 1, 0)
    ssm_conv_kernel: int = 4
    ssm_state_size: int = 32  # head_k_dim == head_v_dim
    ssm_group_count: int = 2  # linear key heads
    ssm_time_step_rank: int = 4  # linear value heads (more than key heads, as in the 2B+)
    n_ctx_train: int = 4096
    rope_freq_base: float = 10_000_000.0
    rms_eps: float = 1e-6

    @property
    def ssm_inner_size(self) -> int:
        return self.ssm_state_size * self.ssm_time_step_rank

    def is_recurrent(self, il: int) -> bool:
        return (il + 1) % self.full_attention_interval != 0


@dataclass(frozen=True)
class WeightScales:
    """Standard deviations of the random weights.

    Random models give near-uniform logits and so greedy decoding full of near-ties; a large
    output/embedding scale makes top-2 gaps clear. Layer matrices use gain/sqrt(fan_in): with
    gain 0.5 the layers move the residual stream enough for the context to matter, yet little
    enough that a draft without the last layers still predicts the target's token about 70%
    of the time (with gain 1 that falls to about 20%).
    """

    embd: float = 1.0
    output: float = 1.0
    layer_gain: float = 0.5
    bias: float = 0.02


Tensors = dict[str, np.ndarray]


def _normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    return (rng.standard_normal(shape) * std).astype(np.float32)


def _matrix(rng: np.random.Generator, n_out: int, n_in: int, gain: float) -> np.ndarray:
    # numpy shape (n_out, n_in) is GGUF/ggml ne = {n_in, n_out}
    return _normal(rng, (n_out, n_in), gain / np.sqrt(n_in))


def _ones(n: int) -> np.ndarray:
    return np.ones(n, dtype=np.float32)


def _common_tensors(
    rng: np.random.Generator, vocab: Vocab, n_embd: int, scales: WeightScales
) -> Tensors:
    output = _normal(rng, (vocab.size, n_embd), scales.output)
    # Zero logits for control tokens: greedy decoding then never stops early on a random
    # <|endoftext|> or <|file_sep|> (the others' logits spread far above and below 0).
    output[[i for i, t in enumerate(vocab.token_types) if t == TOKEN_TYPE_CONTROL]] = 0.0
    return {
        "token_embd.weight": _normal(rng, (vocab.size, n_embd), scales.embd),
        "output_norm.weight": _ones(n_embd),
        "output.weight": output,
    }


def qwen2_tensors(
    cfg: Qwen2Config, vocab: Vocab, rng: np.random.Generator, scales: WeightScales
) -> Tensors:
    t = _common_tensors(rng, vocab, cfg.n_embd, scales)
    g, e, kv = scales.layer_gain, cfg.n_embd, cfg.n_head_kv * cfg.head_dim
    for i in range(cfg.n_layer):
        p = f"blk.{i}."
        t |= {
            p + "attn_norm.weight": _ones(e),
            p + "attn_q.weight": _matrix(rng, e, e, g),
            p + "attn_k.weight": _matrix(rng, kv, e, g),
            p + "attn_v.weight": _matrix(rng, kv, e, g),
            p + "attn_q.bias": _normal(rng, (e,), scales.bias),
            p + "attn_k.bias": _normal(rng, (kv,), scales.bias),
            p + "attn_v.bias": _normal(rng, (kv,), scales.bias),
            p + "attn_output.weight": _matrix(rng, e, e, g),
            p + "ffn_norm.weight": _ones(e),
            p + "ffn_gate.weight": _matrix(rng, cfg.n_ff, e, g),
            p + "ffn_up.weight": _matrix(rng, cfg.n_ff, e, g),
            p + "ffn_down.weight": _matrix(rng, e, cfg.n_ff, g),
        }
    return t


def qwen35_tensors(
    cfg: Qwen35Config, vocab: Vocab, rng: np.random.Generator, scales: WeightScales
) -> Tensors:
    t = _common_tensors(rng, vocab, cfg.n_embd, scales)
    g, e, hd = scales.layer_gain, cfg.n_embd, cfg.head_dim
    key_dim = cfg.ssm_state_size * cfg.ssm_group_count
    value_dim = cfg.ssm_inner_size
    n_v_heads = cfg.ssm_time_step_rank
    for i in range(cfg.n_layer):
        p = f"blk.{i}."
        t |= {
            p + "attn_norm.weight": _ones(e),
            p + "post_attention_norm.weight": _ones(e),
        }
        if cfg.is_recurrent(i):
            # Gated DeltaNet: A = -exp(A_log) with A in [1, 8] (HF initialises A in (0, 16))
            # and dt_bias 1, so that the state decays but keeps some memory.
            a = rng.uniform(1.0, 8.0, n_v_heads).astype(np.float32)
            t |= {
                p + "attn_qkv.weight": _matrix(rng, 2 * key_dim + value_dim, e, g),
                p + "attn_gate.weight": _matrix(rng, value_dim, e, g),
                p + "ssm_conv1d.weight": _normal(
                    rng, (2 * key_dim + value_dim, cfg.ssm_conv_kernel), 0.5
                ),
                p + "ssm_dt.bias": _ones(n_v_heads),
                p + "ssm_a": -a,
                p + "ssm_beta.weight": _matrix(rng, n_v_heads, e, g),
                p + "ssm_alpha.weight": _matrix(rng, n_v_heads, e, g),
                p + "ssm_norm.weight": _ones(cfg.ssm_state_size),
                p + "ssm_out.weight": _matrix(rng, e, value_dim, g),
            }
        else:
            kv = cfg.n_head_kv * hd
            t |= {
                # Q and its output gate interleaved per head: [q_h0, gate_h0, q_h1, ...]
                p + "attn_q.weight": _matrix(rng, 2 * cfg.n_head * hd, e, g),
                p + "attn_k.weight": _matrix(rng, kv, e, g),
                p + "attn_v.weight": _matrix(rng, kv, e, g),
                p + "attn_q_norm.weight": _ones(hd),
                p + "attn_k_norm.weight": _ones(hd),
                p + "attn_output.weight": _matrix(rng, e, cfg.n_head * hd, g),
            }
        t |= {
            p + "ffn_gate.weight": _matrix(rng, cfg.n_ff, e, g),
            p + "ffn_up.weight": _matrix(rng, cfg.n_ff, e, g),
            p + "ffn_down.weight": _matrix(rng, e, cfg.n_ff, g),
        }
    return t


def noisy_copy(tensors: Tensors, n_layer: int, noise: float, rng: np.random.Generator) -> Tensors:
    """The first `n_layer` layers (and embeddings/head) of a model, each weight plus Gaussian
    noise of `noise` times its own spread; norms stay exactly 1 and A stays negative."""
    out: Tensors = {}
    for name, w in tensors.items():
        if name.startswith("blk.") and int(name.split(".")[1]) >= n_layer:
            continue
        if "norm" in name or name.endswith((".ssm_a", "ssm_dt.bias")):
            out[name] = w.copy()
        else:
            out[name] = (w + rng.standard_normal(w.shape) * (noise * float(w.std()))).astype(
                np.float32
            )
    return out


def _write(
    path: Path, arch: str, name: str, vocab: Vocab, kv: dict[str, object], tensors: Tensors
) -> Path:
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(name)
    w.add_file_type(int(gguf.LlamaFileType.ALL_F32))
    for key, value in kv.items():
        full = f"{arch}.{key}"
        if isinstance(value, bool):
            w.add_bool(full, value)
        elif isinstance(value, int):
            w.add_uint32(full, value)
        elif isinstance(value, float):
            w.add_float32(full, value)
        else:
            w.add_array(full, list(value))  # type: ignore[call-overload]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(vocab.tokens)
    w.add_token_types(vocab.token_types)
    w.add_token_merges(vocab.merges)
    eot = vocab.id("<|endoftext|>")
    # As in Qwen2.5-Coder (base): <|endoftext|> is bos, eos and padding; bos is not added.
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eot)
    w.add_pad_token_id(eot)
    w.add_eot_token_id(vocab.id("<|im_end|>"))
    w.add_add_bos_token(False)
    # llama.cpp would also find these by their spelling; the explicit keys make it certain.
    w.add_uint32(gguf.Keys.Tokenizer.FIM_PRE_ID, vocab.id("<|fim_prefix|>"))
    w.add_uint32(gguf.Keys.Tokenizer.FIM_SUF_ID, vocab.id("<|fim_suffix|>"))
    w.add_uint32(gguf.Keys.Tokenizer.FIM_MID_ID, vocab.id("<|fim_middle|>"))
    w.add_uint32(gguf.Keys.Tokenizer.FIM_PAD_ID, vocab.id("<|fim_pad|>"))
    w.add_uint32(gguf.Keys.Tokenizer.FIM_REP_ID, vocab.id("<|repo_name|>"))
    w.add_uint32(gguf.Keys.Tokenizer.FIM_SEP_ID, vocab.id("<|file_sep|>"))
    for tname, data in tensors.items():
        w.add_tensor(tname, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_qwen2(
    path: Path, vocab: Vocab, cfg: Qwen2Config, tensors: Tensors, name: str = "synthetic-qwen2"
) -> Path:
    kv: dict[str, object] = {
        "context_length": cfg.n_ctx_train,
        "embedding_length": cfg.n_embd,
        "block_count": cfg.n_layer,
        "feed_forward_length": cfg.n_ff,
        "attention.head_count": cfg.n_head,
        "attention.head_count_kv": cfg.n_head_kv,
        "rope.freq_base": cfg.rope_freq_base,
        "attention.layer_norm_rms_epsilon": cfg.rms_eps,
    }
    return _write(path, "qwen2", name, vocab, kv, tensors)


def write_qwen35(
    path: Path, vocab: Vocab, cfg: Qwen35Config, tensors: Tensors, name: str = "synthetic-qwen35"
) -> Path:
    kv: dict[str, object] = {
        "context_length": cfg.n_ctx_train,
        "embedding_length": cfg.n_embd,
        "block_count": cfg.n_layer,
        "feed_forward_length": cfg.n_ff,
        "attention.head_count": cfg.n_head,
        "attention.head_count_kv": cfg.n_head_kv,
        "attention.key_length": cfg.head_dim,
        "attention.value_length": cfg.head_dim,
        "rope.dimension_count": cfg.n_rot,
        "rope.dimension_sections": [int(s) for s in cfg.rope_sections],
        "rope.freq_base": cfg.rope_freq_base,
        "attention.layer_norm_rms_epsilon": cfg.rms_eps,
        "ssm.conv_kernel": cfg.ssm_conv_kernel,
        "ssm.inner_size": cfg.ssm_inner_size,
        "ssm.state_size": cfg.ssm_state_size,
        "ssm.time_step_rank": cfg.ssm_time_step_rank,
        "ssm.group_count": cfg.ssm_group_count,
        "full_attention_interval": cfg.full_attention_interval,
    }
    return _write(path, "qwen35", name, vocab, kv, tensors)


@dataclass(frozen=True)
class PairSpec:
    """How a target/draft pair is made: the draft keeps the target's first `draft_layers`
    layers and adds noise of `draft_noise` times each weight's spread."""

    seed: int = 0
    draft_layers: int = 2
    draft_noise: float = 0.1
    scales: WeightScales = field(default_factory=WeightScales)


def make_qwen2_pair(
    outdir: str | Path,
    spec: PairSpec | None = None,
    cfg: Qwen2Config | None = None,
    vocab: Vocab | None = None,
) -> tuple[Path, Path]:
    """Write `qwen2-target.gguf` and `qwen2-draft.gguf` (same vocabulary); returns their paths."""
    spec = spec or PairSpec()
    cfg = cfg or Qwen2Config()
    vocab = vocab or build_vocab()
    outdir = Path(outdir)
    target = qwen2_tensors(cfg, vocab, np.random.default_rng([spec.seed, 2]), spec.scales)
    draft = noisy_copy(
        target, spec.draft_layers, spec.draft_noise, np.random.default_rng([spec.seed, 2, 1])
    )
    t = write_qwen2(outdir / "qwen2-target.gguf", vocab, cfg, target, "synthetic-qwen2-target")
    d = write_qwen2(
        outdir / "qwen2-draft.gguf",
        vocab,
        replace(cfg, n_layer=spec.draft_layers),
        draft,
        "synthetic-qwen2-draft",
    )
    return t, d


def make_qwen35_pair(
    outdir: str | Path,
    spec: PairSpec | None = None,
    cfg: Qwen35Config | None = None,
    vocab: Vocab | None = None,
) -> tuple[Path, Path]:
    """Write `qwen35-target.gguf` and `qwen35-draft.gguf` (same vocabulary)."""
    spec = spec or PairSpec()
    cfg = cfg or Qwen35Config()
    vocab = vocab or build_vocab()
    outdir = Path(outdir)
    target = qwen35_tensors(cfg, vocab, np.random.default_rng([spec.seed, 35]), spec.scales)
    draft = noisy_copy(
        target, spec.draft_layers, spec.draft_noise, np.random.default_rng([spec.seed, 35, 1])
    )
    t = write_qwen35(outdir / "qwen35-target.gguf", vocab, cfg, target, "synthetic-qwen35-target")
    d = write_qwen35(
        outdir / "qwen35-draft.gguf",
        vocab,
        replace(cfg, n_layer=spec.draft_layers),
        draft,
        "synthetic-qwen35-draft",
    )
    return t, d


def make_other_vocab(outdir: str | Path, seed: int = 0) -> Path:
    """Write `qwen2-other-vocab.gguf`: a small qwen2 model whose vocabulary is not the pairs'
    (fewer merges, other id layout) but still has the FIM control tokens. Its size stays
    within 128 tokens of the pairs' so that a check must compare spellings to refuse it."""
    vocab = build_vocab(n_merges=200, variant=1)
    cfg = Qwen2Config(n_embd=64, n_layer=2, n_ff=128)
    tensors = qwen2_tensors(cfg, vocab, np.random.default_rng([seed, 99]), WeightScales())
    return write_qwen2(
        Path(outdir) / "qwen2-other-vocab.gguf", vocab, cfg, tensors, "synthetic-qwen2-other"
    )


@dataclass(frozen=True)
class SyntheticModels:
    qwen2_target: Path
    qwen2_draft: Path
    qwen35_target: Path
    qwen35_draft: Path
    other_vocab: Path

    def paths(self) -> Iterable[Path]:
        return (
            self.qwen2_target,
            self.qwen2_draft,
            self.qwen35_target,
            self.qwen35_draft,
            self.other_vocab,
        )


def make_all(outdir: str | Path, seed: int = 0) -> SyntheticModels:
    """Write every synthetic model into `outdir`."""
    vocab = build_vocab()
    spec = PairSpec(seed=seed)
    q2t, q2d = make_qwen2_pair(outdir, spec, vocab=vocab)
    q35t, q35d = make_qwen35_pair(outdir, spec, vocab=vocab)
    other = make_other_vocab(outdir, seed)
    return SyntheticModels(q2t, q2d, q35t, q35d, other)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    models = make_all(args.outdir, args.seed)
    for p in models.paths():
        print(f"{p}\t{p.stat().st_size / 1e6:.2f} MB")
    print(f"written in {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
