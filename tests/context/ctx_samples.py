"""Small real-looking source files per language, with the cursor marked by █."""

PYTHON = '''import json
from billing.ledger import Ledger, settle_account as settle

MAX_ROUNDS = 4


class Reconciler(Base):
    """Reconciles ledgers."""

    def run(self, ledger: Ledger) -> int:
        total = 0
        for entry in ledger.entries:
            if entry.pending:
                total += settle(entry, █)
        return total
'''

JAVASCRIPT = """import { formatMoney } from "./money.js";
import fs from "node:fs";

/** Renders invoices. */
export class InvoiceView {
  constructor(store) {
    this.store = store;
  }

  render(invoice) {
    const lines = invoice.items.map((item) => {
      return formatMoney(item.amount, █);
    });
    return lines.join("\\n");
  }
}
"""

TYPESCRIPT = """import type { Quota } from "./quota";
import { clampQuota } from "./quota";

export interface Tenant {
  id: string;
  quota: Quota;
}

export function refreshTenant(t: Tenant, now: Date): Tenant {
  if (t.quota.expires < now) {
    return { ...t, quota: clampQuota(t.quota, █) };
  }
  return t;
}
"""

GO = """package sched

import (
	"fmt"
	"time"
)

// Planner plans runs.
type Planner struct {
	Window time.Duration
}

// Next returns the next slot.
func (p *Planner) Next(now time.Time) (time.Time, error) {
	for i := 0; i < 3; i++ {
		if now.IsZero() {
			return now, fmt.Errorf(█)
		}
	}
	return now.Add(p.Window), nil
}
"""

RUST = """use std::collections::HashMap;
use crate::tally::{Tally, merge_tallies};

/// Keeps counts.
pub struct Counter {
    counts: HashMap<String, u32>,
}

impl Counter {
    /// Adds one.
    pub fn bump(&mut self, key: &str) -> u32 {
        match self.counts.get_mut(key) {
            Some(v) => {
                *v += █;
                *v
            }
            None => 0,
        }
    }
}
"""

JAVA = """package org.example.shipping;

import java.util.List;
import org.example.rates.RateCard;

/** Quotes shipments. */
public class Quoter {
    private final RateCard card;

    public Quoter(RateCard card) {
        this.card = card;
    }

    public long quote(List<Parcel> parcels) {
        long sum = 0;
        for (Parcel p : parcels) {
            sum += card.priceFor(p, █);
        }
        return sum;
    }
}
"""

C = """#include <stdio.h>
#include "ring.h"

/* Drains the ring. */
static int drain(struct ring *r, int limit)
{
    int n = 0;
    while (n < limit) {
        if (ring_empty(r)) {
            break;
        }
        n += ring_pop(r, █);
    }
    return n;
}
"""

CPP = """#include <vector>
#include "grid.hpp"

namespace geo {

class Mesher {
public:
    int refine(Grid& g, int depth) {
        for (int i = 0; i < depth; ++i) {
            g.split(█);
        }
        return depth;
    }
};

}  // namespace geo
"""

# Files defining the symbols the samples above use.
DEFINERS = {
    "python": (
        "billing/ledger.py",
        '''from dataclasses import dataclass


@dataclass
class Ledger:
    """Entries of one account."""

    entries: list


def settle_account(entry, *, fee_cents: int = 0) -> int:
    """Settle one entry, returning cents."""
    amount = entry.amount - fee_cents
    return max(amount, 0)
''',
        "settle_account",
    ),
    "javascript": (
        "src/money.js",
        """/**
 * Formats cents as money.
 */
export function formatMoney(cents, currency = "EUR") {
  return (cents / 100).toFixed(2) + " " + currency;
}
""",
        "formatMoney",
    ),
    "typescript": (
        "src/quota.ts",
        """export interface Quota {
  limit: number;
  expires: Date;
}

/** Clamp a quota to a ceiling. */
export const clampQuota = (q: Quota, ceiling: number): Quota => {
  return { ...q, limit: Math.min(q.limit, ceiling) };
};
""",
        "clampQuota",
    ),
    "go": (
        "sched/errors.go",
        """package sched

import "errors"

// ErrNoSlot is returned when no slot is free.
var ErrNoSlot = errors.New("no slot")

// IsZero reports whether the slot is unset.
func IsZero(slot int64) bool {
	return slot == 0
}
""",
        "IsZero",
    ),
    "rust": (
        "src/tally.rs",
        """/// A tally of votes.
#[derive(Debug, Default)]
pub struct Tally {
    pub yes: u32,
    pub no: u32,
}

/// Merges two tallies.
pub fn merge_tallies(a: &Tally, b: &Tally) -> Tally {
    Tally { yes: a.yes + b.yes, no: a.no + b.no }
}
""",
        "merge_tallies",
    ),
    "java": (
        "src/org/example/rates/RateCard.java",
        """package org.example.rates;

/** Prices per zone. */
public class RateCard {
    private final long base;

    /** Price of a parcel in the given zone. */
    public long priceFor(Parcel parcel, int zone) {
        return base * zone + parcel.weight();
    }
}
""",
        "priceFor",
    ),
    "c": (
        "ring.c",
        """#include "ring.h"

/* Pops one item, at most max bytes. */
int ring_pop(struct ring *r, size_t max)
{
    r->head = (r->head + 1) % r->cap;
    return (int)max;
}
""",
        "ring_pop",
    ),
    "cpp": (
        "grid.hpp",
        """#pragma once

class Grid {
public:
    // Splits every cell along the axis.
    void split(int axis, bool balanced) {
        cells_ *= 2;
    }
private:
    int cells_ = 1;
};
""",
        "split",
    ),
}
