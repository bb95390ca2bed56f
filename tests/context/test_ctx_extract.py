"""Per-language: scopes, imports and referenced definitions found for a cursor position."""

from __future__ import annotations

import ctx_samples as samples
import pytest
from ctx_helpers import count_tokens, split_cursor

from airgap_lsp.context import (
    ContextRequest,
    OpenDocument,
    WorkspaceIndex,
    collect_context,
    language_for,
)
from airgap_lsp.context.definitions import extract_definitions
from airgap_lsp.context.imports import find_imports
from airgap_lsp.context.scopes import enclosing_scopes
from airgap_lsp.context.syntax import parse
from airgap_lsp.context.text import SourceText

SCOPES = {
    "python": [
        "class Reconciler(Base):",
        "    def run(self, ledger: Ledger) -> int:",
        "        for entry in ledger.entries:",
        "            if entry.pending:",
    ],
    "javascript": [
        "export class InvoiceView {",
        "  render(invoice) {",
        "    const lines = invoice.items.map((item) => {",
    ],
    "typescript": [
        "export function refreshTenant(t: Tenant, now: Date): Tenant {",
        "  if (t.quota.expires < now) {",
    ],
    "go": [
        "func (p *Planner) Next(now time.Time) (time.Time, error) {",
        "\tfor i := 0; i < 3; i++ {",
        "\t\tif now.IsZero() {",
    ],
    "rust": [
        "impl Counter {",
        "    pub fn bump(&mut self, key: &str) -> u32 {",
        "        match self.counts.get_mut(key) {",
        "            Some(v) => {",
    ],
    "java": [
        "public class Quoter {",
        "    public long quote(List<Parcel> parcels) {",
        "        for (Parcel p : parcels) {",
    ],
    "c": ["static int drain(struct ring *r, int limit)\n{", "    while (n < limit) {"],
    "cpp": [
        "namespace geo {",
        "class Mesher {",
        "    int refine(Grid& g, int depth) {",
        "        for (int i = 0; i < depth; ++i) {",
    ],
}

IMPORTS = {
    "python": ["import json", "from billing.ledger import Ledger, settle_account as settle"],
    "javascript": ['import { formatMoney } from "./money.js";', 'import fs from "node:fs";'],
    "typescript": [
        'import type { Quota } from "./quota";',
        'import { clampQuota } from "./quota";',
    ],
    "go": ["package sched", 'import (\n\t"fmt"\n\t"time"\n)'],
    "rust": ["use std::collections::HashMap;", "use crate::tally::{Tally, merge_tallies};"],
    "java": [
        "package org.example.shipping;",
        "import java.util.List;",
        "import org.example.rates.RateCard;",
    ],
    "c": ["#include <stdio.h>", '#include "ring.h"'],
    "cpp": ["#include <vector>", '#include "grid.hpp"'],
}

# The rendered definition of the symbol each sample needs from the other file.
DEFINITIONS = {
    "python": (
        "def settle_account(entry, *, fee_cents: int = 0) -> int:\n"
        '    """Settle one entry, returning cents."""'
    ),
    "javascript": (
        "/**\n"
        " * Formats cents as money.\n"
        " */\n"
        'export function formatMoney(cents, currency = "EUR") { ... }'
    ),
    "typescript": (
        "/** Clamp a quota to a ceiling. */\n"
        "export const clampQuota = (q: Quota, ceiling: number): Quota => { ... };"
    ),
    "go": ("// IsZero reports whether the slot is unset.\nfunc IsZero(slot int64) bool { ... }"),
    "rust": (
        "/// Merges two tallies.\npub fn merge_tallies(a: &Tally, b: &Tally) -> Tally { ... }"
    ),
    "java": (
        "public class RateCard {\n"
        "    /** Price of a parcel in the given zone. */\n"
        "    public long priceFor(Parcel parcel, int zone) { ... }"
    ),
    "c": (
        "/* Pops one item, at most max bytes. */\nint ring_pop(struct ring *r, size_t max)\n{ ... }"
    ),
    "cpp": (
        "class Grid {\n"
        "    // Splits every cell along the axis.\n"
        "    void split(int axis, bool balanced) { ... }"
    ),
}

# A line of each definition's body: bodies must never reach the prompt.
BODY_LINES = {
    "python": "amount = entry.amount - fee_cents",
    "javascript": "toFixed",
    "typescript": "Math.min",
    "go": "slot == 0",
    "rust": "a.yes + b.yes",
    "java": "base * zone",
    "c": "r->cap",
    "cpp": "cells_ *= 2",
}

LANG_IDS = list(SCOPES)


def _sample(lang_id: str) -> tuple[str, int]:
    return split_cursor(getattr(samples, lang_id.upper()))


@pytest.mark.parametrize("lang_id", LANG_IDS)
def test_enclosing_scopes(lang_id):
    text, offset = _sample(lang_id)
    lang = language_for(lang_id)
    tree = parse(text, lang)
    scopes = enclosing_scopes(SourceText(text), tree, offset, lang)
    assert [s.header for s in scopes] == SCOPES[lang_id]
    assert all(text[s.start :].startswith(s.header) for s in scopes)


@pytest.mark.parametrize("lang_id", LANG_IDS)
def test_imports(lang_id):
    text, _ = _sample(lang_id)
    lang = language_for(lang_id)
    found = find_imports(SourceText(text), parse(text, lang), lang)
    assert [i.text for i in found] == IMPORTS[lang_id]


@pytest.mark.parametrize("lang_id", LANG_IDS)
def test_definition_rendering_keeps_signature_and_docs_not_body(lang_id):
    path, text, name = samples.DEFINERS[lang_id]
    lang = language_for(lang_id)
    defs = extract_definitions(SourceText(text), parse(text, lang), lang, path)
    (found,) = [d for d in defs if d.name == name]
    assert found.text == DEFINITIONS[lang_id]


@pytest.mark.parametrize("lang_id", LANG_IDS)
def test_referenced_definition_from_open_document(lang_id):
    text, offset = _sample(lang_id)
    path, other, _ = samples.DEFINERS[lang_id]
    ctx = collect_context(
        ContextRequest(
            text,
            offset,
            f"main{language_for(lang_id).extensions[0]}",
            count_tokens,
            budget=4000,
            language_id=lang_id,
            open_documents=[OpenDocument(path, other, lang_id)],
        )
    )
    texts = {f.path: f.text for f in ctx.files}
    # Small open files go in whole; the definition is then not repeated.
    assert texts[path] == other
    assert any(p.kind == "open_file" and p.path == path for p in ctx.report.included)


@pytest.mark.parametrize("lang_id", LANG_IDS)
def test_referenced_definition_from_workspace_index(lang_id, tmp_path):
    text, offset = _sample(lang_id)
    rel, other, _ = samples.DEFINERS[lang_id]
    target = tmp_path / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(other)
    index = WorkspaceIndex()
    index.add_root(str(tmp_path))
    index.refresh()
    ctx = collect_context(
        ContextRequest(
            text,
            offset,
            str(tmp_path / f"main{language_for(lang_id).extensions[0]}"),
            count_tokens,
            budget=4000,
            language_id=lang_id,
            index=index,
            workspace_root=str(tmp_path),
        )
    )
    assert [f.path for f in ctx.files] == [rel]
    signature = DEFINITIONS[lang_id].split("\n")[-1]
    assert signature in ctx.files[0].text
    assert BODY_LINES[lang_id] not in ctx.files[0].text
    # A member is not repeated when its whole container is already there.
    assert ctx.files[0].text.count(signature) == 1
