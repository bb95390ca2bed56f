"""A registry model is verified by sha256 when it is assembled; at every load its size and
modification time must still match that verification's stamp, else it is refused with what to
do (a file swapped or truncated in the cache is never handed to llama.cpp's GGUF parser)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from airgap_lsp.completion import discovery, models


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> models.ModelSpec:
    monkeypatch.setenv("AIRGAP_LSP_MODELS", str(tmp_path))
    body = b"GGUF" + b"\x00" * 60
    base = models.REGISTRY[0]
    fake = dataclasses.replace(base, sha256=hashlib.sha256(body).hexdigest())
    monkeypatch.setattr(models, "REGISTRY", [fake, *models.REGISTRY[1:]])
    path = models.model_path(fake)
    path.write_bytes(body)
    models._stamp_path(path).write_text(models._stamp_text(path, fake.sha256 or ""))
    return fake


def test_an_unchanged_verified_model_resolves(spec: models.ModelSpec):
    assert models.resolve(spec.name) == models.model_path(spec)
    entry = next(e for e in discovery.registry_entries() if e.name == spec.name)
    assert entry.problem == ""


def test_a_model_changed_after_verification_is_refused(spec: models.ModelSpec):
    path = models.model_path(spec)
    path.write_bytes(b"GGUF" + b"\xff" * 60)  # same size, new content and time
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    with pytest.raises(models.ModelError, match="changed since it was verified"):
        models.resolve(spec.name)
    entry = next(e for e in discovery.registry_entries() if e.name == spec.name)
    assert "models fetch" in entry.problem
