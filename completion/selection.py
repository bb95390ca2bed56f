"""Choosing models by themselves, and judging whether a model fits this machine's memory.

Owns the memory estimate of a model (file size + KV cache and recurrent state for the
configured contexts + working buffers; what cached sequences hold now, for the stats), the
machine's usable memory (RAM from /proc/meminfo, or free VRAM when layers are offloaded and
the GPU's memory is known), and the `auto` choice: the largest Qwen3.5 (9B → 4B → 2B → 0.8B)
that fits, with the 0.8B of the same vocabulary as its draft, else the embedded default pair.
The choice is a pure function of the discovered models and a memory size, so tests can hand it
any machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from airgap_lsp.completion.discovery import Found, same_vocabulary
from airgap_lsp.completion.models import DEFAULT_DRAFT, DEFAULT_TARGET

GIB = 1 << 30
PREFERRED_ARCH = "qwen35"

# The README's table: memory a Qwen3.5 size needs as a target (with the 0.8B as its draft).
# Sizes are matched by parameters; the class bounds sit between the family's sizes.
QWEN35_CLASSES: tuple[tuple[str, int, float], ...] = (
    ("9B", 12_000_000_000, 12.0),
    ("4B", 6_000_000_000, 6.0),
    ("2B", 3_000_000_000, 4.0),
    ("0.8B", 1_200_000_000, 2.0),
)
WORKING_BYTES = 256 << 20  # compute buffers and the like, per model (measured ~150-250 MB)


@dataclass(frozen=True, slots=True)
class Memory:
    """Memory the models may use."""

    available: int  # bytes
    total: int
    kind: str  # "RAM" or "VRAM"
    note: str = ""

    def describe(self) -> str:
        return f"{self.available / GIB:.1f} GB of {self.kind} available"


def read_memory(gpu_layers: int = 0, meminfo: str = "/proc/meminfo") -> Memory:
    """This machine's usable memory: free VRAM when layers are offloaded and nvidia-smi
    reports it, else RAM (MemAvailable, or MemTotal where that is missing)."""
    note = ""
    if gpu_layers > 0:
        vram = _nvidia_free()
        if vram is not None:
            return Memory(vram[0], vram[1], "VRAM")
        note = "VRAM unknown; judged by RAM"
    fields: dict[str, int] = {}
    try:
        with open(meminfo, encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    fields[key] = int(parts[0]) * 1024
    except OSError:
        pass
    total = fields.get("MemTotal") or _sysconf_total()
    available = fields.get("MemAvailable") or total
    return Memory(available, total, "RAM", note)


def _sysconf_total() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 0


def _nvidia_free() -> tuple[int, int] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=memory.free,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=3,
            check=True,
        ).stdout
        free, total = (int(x) for x in out.splitlines()[0].split(","))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    return free << 20, total << 20


@dataclass(frozen=True, slots=True)
class Need:
    """Estimated memory of one model with its contexts."""

    file: int
    cache: int  # KV cache and recurrent state
    working: int

    @property
    def total(self) -> int:
        return self.file + self.cache + self.working

    def describe(self) -> str:
        return (
            f"~{self.total / GIB:.1f} GB (file {self.file / GIB:.1f} GB + KV cache "
            f"{self.cache / GIB:.1f} GB + working buffers {self.working / GIB:.1f} GB)"
        )


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, list):  # per-layer values: the largest
        value = max((v for v in value if isinstance(v, int)), default=default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True, slots=True)
class KvCost:
    """What one model's cached tokens cost in memory: an f16 KV cache entry per token (for
    hybrid models only in the attention layers) and, for recurrent layers, a fixed state per
    sequence that holds anything."""

    per_token: int
    per_sequence: int = 0

    def held(self, lengths: Sequence[int]) -> int:
        """Bytes held by sequences of these lengths (an empty sequence holds nothing)."""
        return sum(n * self.per_token + self.per_sequence for n in lengths if n > 0)

    def allocated(self, n_ctx: int, n_seq: int) -> int:
        """Bytes a context of `n_seq` sequences of `n_ctx` tokens each sets aside."""
        return n_seq * (n_ctx * self.per_token + self.per_sequence)


@dataclass(frozen=True, slots=True)
class CacheMemory:
    """The KV memory of a loaded engine: what its contexts set aside and what their cached
    sequences hold (the draft model's context has one more, scratch, sequence)."""

    target: KvCost
    draft: KvCost | None
    n_ctx: int  # tokens per cached document
    n_seq: int

    def report(self, target_lengths: Sequence[int], draft_lengths: Sequence[int]) -> dict[str, int]:
        held = self.target.held(target_lengths)
        allocated = self.target.allocated(self.n_ctx, self.n_seq)
        if self.draft is not None:
            held += self.draft.held(draft_lengths)
            allocated += self.draft.allocated(self.n_ctx, self.n_seq + 1)
        return {
            "cachedSequences": sum(1 for n in target_lengths if n > 0),
            "cachedTokens": sum(target_lengths),
            "kvHeldBytes": held,
            "kvAllocatedBytes": allocated,
        }


def kv_cost(found: Found) -> KvCost:
    """A model's KV cost from its header (zero when the header does not say)."""
    h = found.header
    if h is None:
        return KvCost(0)
    layers = _int(h.arch_value("block_count"))
    heads = _int(h.arch_value("attention.head_count"), 1) or 1
    kv_heads = _int(h.arch_value("attention.head_count_kv"), heads) or heads
    embd = _int(h.arch_value("embedding_length"))
    k_len = _int(h.arch_value("attention.key_length"), embd // heads)
    v_len = _int(h.arch_value("attention.value_length"), k_len)
    interval = _int(h.arch_value("full_attention_interval"))
    attn_layers = layers // interval if interval > 0 else layers
    state = 0
    inner = _int(h.arch_value("ssm.inner_size"))
    if inner:
        d_state = _int(h.arch_value("ssm.state_size"))
        groups = _int(h.arch_value("ssm.group_count"), 1)
        kernel = _int(h.arch_value("ssm.conv_kernel"), 4)
        rank = _int(h.arch_value("ssm.time_step_rank"), 1)
        per_layer = (kernel - 1) * (inner + 2 * groups * d_state) + rank * d_state * d_state
        state = (layers - attn_layers) * per_layer * 4
    return KvCost(attn_layers * kv_heads * (k_len + v_len) * 2, state)


def need(found: Found, n_ctx: int, n_seq: int) -> Need:
    """Memory for a model with `n_seq` sequences of `n_ctx` tokens each (see KvCost)."""
    size = found.size or 0
    if found.header is None:
        return Need(size, 0, WORKING_BYTES)
    return Need(size, kv_cost(found).allocated(n_ctx, n_seq), WORKING_BYTES + size // 20)


def qwen35_class(found: Found) -> tuple[str, float] | None:
    """The Qwen3.5 size (label, GB from the table) of a model of that architecture."""
    if found.architecture != PREFERRED_ARCH or not found.params:
        return None
    fitting = [(label, gb) for label, bound, gb in QWEN35_CLASSES if found.params <= bound]
    return fitting[-1] if fitting else None


@dataclass(frozen=True, slots=True)
class Choice:
    """What `auto` picked and why."""

    target: str  # a model name (registry or discovered)
    draft: str  # "" for none
    reason: str
    warnings: tuple[str, ...] = field(default=())


def choose(found: Sequence[Found], memory: Memory, n_ctx: int, n_seq: int) -> Choice:
    """The best coding model that fits `memory`: the largest Qwen3.5 that fits (the README's
    table, or the estimate where that is larger), with a 0.8B of the same vocabulary as draft
    when the target is larger; else the embedded default pair."""
    available = memory.available
    drafts = [f for f in found if f.usable and (qwen35_class(f) or ("",))[0] == "0.8B"]
    candidates = []
    for f in found:
        cls = qwen35_class(f)
        if f.usable and cls is not None:
            candidates.append((f, cls))
    # Larger first; among equals, one with a matching draft, then the smaller file.
    candidates.sort(
        key=lambda fc: (
            -(fc[0].params or 0),
            not any(same_vocabulary(fc[0], d) and d is not fc[0] for d in drafts),
            fc[0].size or 0,
            fc[0].name,
        )
    )
    too_big = []
    for target, (label, table_gb) in candidates:
        estimate = need(target, n_ctx, n_seq).total
        alone = max(table_gb * GIB, estimate)
        if alone > available:
            too_big.append(f"{target.name} needs {alone / GIB:.1f} GB")
            continue
        why = f"Qwen3.5-{label} {target.name}: needs {alone / GIB:.1f} GB, {memory.describe()}"
        if label == "0.8B":
            return Choice(target.name, "", why + "; no smaller draft model")
        matching = [d for d in drafts if same_vocabulary(target, d)]
        if not matching:
            warning = ""
            if drafts:
                warning = (
                    f"{drafts[0].name} cannot draft for {target.name}: their vocabularies "
                    "differ; decoding without a draft model"
                )
            reason = why + "; no Qwen3.5-0.8B with the same vocabulary, no draft"
            return Choice(target.name, "", reason, (warning,) if warning else ())
        draft = min(matching, key=lambda d: (d.size or 0, d.name))
        pair = max(table_gb * GIB, estimate + need(draft, n_ctx, n_seq + 1).total)
        if pair > available:
            return Choice(target.name, "", why + f"; no room for the draft ({pair / GIB:.1f} GB)")
        return Choice(target.name, draft.name, why + f"; draft {draft.name} (same vocabulary)")
    if too_big:
        reason = f"no Qwen3.5 fits ({'; '.join(too_big)}; {memory.describe()})"
    else:
        reason = "no Qwen3.5 model found on this machine"
    return Choice(DEFAULT_TARGET, DEFAULT_DRAFT, reason + "; the embedded default pair")


def choose_draft(target: Found, found: Sequence[Found]) -> Found | None:
    """The smallest usable model with the target's vocabulary and fewer parameters; among
    models of the same size, the registry's own (the embedded draft, sha256-verified) first."""
    smaller = [
        f
        for f in found
        if f.usable
        and f is not target
        and f.path != target.path
        and same_vocabulary(target, f)
        and (f.params or 0) < (target.params or 0)
    ]
    return min(
        smaller,
        key=lambda f: (f.params or 0, f.source != "registry", f.size or 0, f.name),
        default=None,
    )
