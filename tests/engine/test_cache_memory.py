"""The KV memory of cached documents: what the stats report, and the cap.

The report counts each sequence's tokens times a per-token cost read from the model's header
(hybrid models: attention layers only, plus a fixed recurrent state per sequence). The first
test checks that arithmetic against llama.cpp's own serialized sequence state, on the real
target and on both synthetic architectures; the others check the server's report and the
`models.cacheMemoryMB` cap on the real target as the server loads it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airgap_lsp.completion import discovery
from airgap_lsp.completion.backend import load_backend
from airgap_lsp.completion.completer import CompletionRequest
from airgap_lsp.completion.runtime import LlamaContext, Model
from airgap_lsp.completion.selection import KvCost, kv_cost
from airgap_lsp.completion.settings import CompletionSettings, ModelSettings, Settings

TEXT = "".join(f"def f_{i}(x):\n    return x * {i} + {i * i}\n\n" for i in range(200))
N = 160


def _cost(path: Path) -> KvCost:
    return kv_cost(discovery.inspect(discovery.Entry(path.stem, "path", path, str(path))))


@pytest.fixture(params=["real", "qwen2", "qwen35"])
def model_path(request, target_path, synthetic_qwen2_pair, synthetic_qwen35_pair) -> Path:
    return {
        "real": target_path,
        "qwen2": synthetic_qwen2_pair[0],
        "qwen35": synthetic_qwen35_pair[0],
    }[request.param]


def test_the_per_token_and_per_sequence_costs_are_what_llama_cpp_holds(model_path):
    cost = _cost(model_path)
    assert cost.per_token > 0
    model = Model(model_path)
    llama = LlamaContext(model, n_ctx=1024, n_seq=1)
    try:
        tokens = model.tokenize(TEXT)[: 2 * N]
        llama.decode(tokens[:N], 0, 0)
        one = len(llama.seq_state(0))
        llama.decode(tokens[N:], N, 0)
        two = len(llama.seq_state(0))
    finally:
        llama.close()
        model.close()
    # What one more token holds: its K and V rows, plus the serialized cell's bookkeeping
    # (position and sequence ids: 8-24 bytes, not KV memory; the synthetic models' tiny
    # rows make it visible).
    per_token = (two - one) / N
    assert cost.per_token <= per_token <= cost.per_token * 1.01 + 32, (per_token, cost)
    # What a sequence holds whatever its length: recurrent state (none for a transformer), and
    # llama.cpp's headers (a few bytes per layer).
    fixed = one - N * per_token
    assert abs(fixed - cost.per_sequence) <= 0.02 * cost.per_sequence + 4096, (fixed, cost)
    assert (cost.per_sequence > 0) == model.is_recurrent


def _request(key: str, text: str) -> CompletionRequest:
    return CompletionRequest(text=text, offset=len(text), path=f"/w/{key}.py", key=key)


def test_the_report_counts_what_each_cached_document_holds(plain_backend, target_path):
    cost = _cost(target_path)
    before = plain_backend.memory_report()
    n_seq = ModelSettings().cached_documents
    assert before["kvAllocatedBytes"] == n_seq * ModelSettings().context_size * cost.per_token
    plain_backend.complete(_request("a", "def add(a, b):\n    return "), lambda: False)
    plain_backend.complete(_request("b", TEXT[:3000] + "def g(x):\n    return "), lambda: False)
    after = plain_backend.memory_report()
    assert after["cachedSequences"] == before["cachedSequences"] + 2
    grown = after["cachedTokens"] - before["cachedTokens"]
    assert grown > 500  # the second document's prompt alone is ~1,000 tokens
    assert after["kvHeldBytes"] - before["kvHeldBytes"] == grown * cost.per_token
    assert after["kvHeldBytes"] <= after["kvAllocatedBytes"]


def test_a_memory_cap_lowers_the_documents_cached(target_path):
    cost = _cost(target_path)
    per_document = 1024 * cost.per_token
    cap_mb = (2 * per_document + per_document // 2) >> 20  # room for two and a half
    settings = Settings(
        models=ModelSettings(
            target=str(target_path), draft="", context_size=1024, cache_memory_mb=cap_mb
        ),
        completion=CompletionSettings(drafting="none", max_prompt_ms=0, max_predict_ms=0),
    )
    backend = load_backend(settings).backend
    try:
        report = backend.memory_report()
        assert report["kvAllocatedBytes"] == 2 * per_document <= cap_mb << 20
        for key in "abc":  # three documents: only two stay cached
            backend.complete(_request(key, f"def {key}(x):\n    return "), lambda: False)
        assert backend.memory_report()["cachedSequences"] == 2
    finally:
        backend.close()
