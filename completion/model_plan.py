"""Turning the model settings into the files to load.

Owns what `models.target` / `models.draft` mean: a registry name, a GGUF path, a discovered
model's name (`ollama:qwen3.5:9b`, `hf:...`), or `auto`, the default (chosen by
`selection.choose`); a draft of `auto` is the smallest model with the target's vocabulary. With
no model found on the machine, `auto` is the embedded pair, resolved exactly as when it is
named. Also refuses, before anything is loaded, a model that will not fit in memory, with the
numbers, and says where each model came from and why it was chosen.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from airgap_lsp.completion import discovery
from airgap_lsp.completion.discovery import Entry, Found
from airgap_lsp.completion.models import (
    AUTO,
    DEFAULT_DRAFT,
    DEFAULT_TARGET,
    ModelError,
    find_spec,
    resolve,
)
from airgap_lsp.completion.selection import (
    GIB,
    KvCost,
    Memory,
    choose,
    choose_draft,
    kv_cost,
    need,
    read_memory,
)
from airgap_lsp.completion.settings import ModelSettings

log = logging.getLogger(__name__)

NO_MEMORY_CHECK = "AIRGAP_LSP_NO_MEMORY_CHECK"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the loaded models came from and why they were chosen (for status and logs)."""

    source: str  # "registry", "ollama", "lmstudio", "hf", "llamacpp", "path" or "file"
    choice: str  # "configured: <names>" or what `auto` decided and why
    target: str = ""
    draft: str = ""

    def describe(self) -> str:
        return f"{self.choice} (from {self.source})"


@dataclass
class Plan:
    target: Path
    draft: Path | None
    origin: Origin
    warnings: list[str] = field(default_factory=list)
    cached_documents: int = 1  # models.cachedDocuments, lowered to fit models.cacheMemoryMB
    target_kv: KvCost = field(default_factory=lambda: KvCost(0))
    draft_kv: KvCost | None = None


def source_of(name: str) -> str:
    if find_spec(name) is not None:
        return "registry"
    return discovery.source_of(name) or "file"


def _found_at(name: str, path: Path) -> Found:
    """A resolved model's header facts (read once; headers are cached)."""
    cache = discovery.HeaderCache(discovery.header_cache_path())
    found = discovery.inspect(Entry(name, source_of(name), path, str(path)), cache)
    cache.save()
    return found


def _resolve_found(name: str, m: ModelSettings, known: dict[str, Found]) -> Found:
    # A registry model is resolved as when it is named (the same message when it is missing
    # or broken), whether `auto` chose it or the settings named it.
    if name in known and known[name].path is not None and known[name].source != "registry":
        f = known[name]
        if not f.usable:
            raise ModelError(f"model {name!r} cannot be used: {f.problem}")
        return f
    return _found_at(name, resolve(name, m.search_paths))


def plan_models(m: ModelSettings, memory: Memory | None = None) -> Plan:
    """The files to load for these settings (ModelError when the target cannot be used)."""
    warnings: list[str] = []
    known: dict[str, Found] = {}
    draft_name = m.draft.strip()
    if _is_auto(m.target):
        memory = memory or read_memory(m.gpu_layers)
        found = discovery.discover(discovery.default_places(m.search_paths)).found
        known = {f.name: f for f in found}
        choice = choose(found, memory, m.context_size, max(1, m.cached_documents))
        target_name, reason = choice.target, f"auto: {choice.reason}"
        warnings.extend(choice.warnings)
        if _is_auto(draft_name) or draft_name == DEFAULT_DRAFT:
            draft_name = choice.draft
    else:
        target_name, reason = m.target, "configured"
    target = _resolve_found(target_name, m, known)
    draft: Found | None = None
    if _is_auto(draft_name):
        if not known:
            known = {
                f.name: f
                for f in discovery.discover(discovery.default_places(m.search_paths)).found
            }
        draft = choose_draft(target, list(known.values()))
        if draft is None and find_spec(target.name) is find_spec(DEFAULT_TARGET):
            # The embedded target's draft is the embedded one: when it is missing, the user
            # is told so (and how to fetch it), as when it is named.
            draft_name = DEFAULT_DRAFT
        elif draft is None:
            warnings.append(f"no model shares {target.name}'s vocabulary; no draft model")
    if draft is None and draft_name and not _is_auto(draft_name):
        try:
            draft = _resolve_found(draft_name, m, known)
        except ModelError as exc:
            warnings.append(f"draft model unavailable, decoding without it: {exc}")
    target_kv = kv_cost(target)
    draft_kv = kv_cost(draft) if draft else None
    n_seq = _cached_documents(target_kv, draft_kv, m, warnings)
    if not os.environ.get(NO_MEMORY_CHECK):
        memory = memory or read_memory(m.gpu_layers)
        draft = _check_memory(target, draft, m, n_seq, memory, warnings)
    if reason == "configured":
        reason = f"configured: {target.name}" + (f" + draft {draft.name}" if draft else "")
    origin = Origin(source_of(target.name), reason, target.name, draft.name if draft else "")
    assert target.path is not None
    return Plan(
        target.path,
        draft.path if draft else None,
        origin,
        warnings,
        n_seq,
        target_kv,
        draft_kv if draft else None,  # None when the memory check dropped the draft
    )


def _cached_documents(
    target: KvCost, draft: KvCost | None, m: ModelSettings, warnings: list[str]
) -> int:
    """models.cachedDocuments, lowered until their KV memory fits models.cacheMemoryMB. The
    draft model's cache counts too: it holds the same documents."""
    n_seq = max(1, m.cached_documents)
    if m.cache_memory_mb <= 0:
        return n_seq
    per_document = target.allocated(m.context_size, 1)
    if draft is not None:
        per_document += draft.allocated(m.context_size, 1)
    cap = m.cache_memory_mb << 20
    fits = cap // per_document if per_document else n_seq
    if fits < 1:
        warnings.append(
            f"models.cacheMemoryMB ({m.cache_memory_mb} MB) is less than one document of "
            f"models.contextSize ({m.context_size} tokens) needs "
            f"({-(-per_document >> 20)} MB); caching one document"
        )
        return 1
    if fits < n_seq:
        log.info(
            "caching %d documents instead of %d: models.cacheMemoryMB is %d MB, a document "
            "of %d tokens needs %.0f MB",
            fits,
            n_seq,
            m.cache_memory_mb,
            m.context_size,
            per_document / (1 << 20),
        )
    return min(n_seq, fits)


def _is_auto(name: str) -> bool:
    return name.strip().lower() == AUTO


def _check_memory(
    target: Found,
    draft: Found | None,
    m: ModelSettings,
    n_seq: int,
    memory: Memory,
    warnings: list[str],
) -> Found | None:
    """Refuse a target that will not fit (ModelError with the numbers); drop a draft that
    does not fit beside it (with a warning)."""
    t = need(target, m.context_size, n_seq)
    if t.total > memory.available:
        raise ModelError(
            f"{target.name} will not fit in memory: it needs {t.describe()}, and "
            f"{memory.describe()}{f' ({memory.note})' if memory.note else ''}. Choose a smaller "
            f"model, lower models.contextSize, models.cachedDocuments or "
            f"models.cacheMemoryMB, or set "
            f"models.target to 'auto'; {NO_MEMORY_CHECK}=1 skips this check"
        )
    if draft is not None:
        d = need(draft, m.context_size, n_seq + 1)
        if t.total + d.total > memory.available:
            warnings.append(
                f"draft model {draft.name} left out: with it the models need "
                f"{(t.total + d.total) / GIB:.1f} GB, {memory.describe()}"
            )
            log.warning(warnings[-1])
            return None
    return draft
