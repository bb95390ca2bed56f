"""JavaScript/TypeScript, Go, Rust and Java cross-file tasks (target with █ at the cursor)."""

from __future__ import annotations

TASKS: list[dict] = [
    # ---- JavaScript / TypeScript ---------------------------------------------------------
    {
        "id": "js-options-object",
        "language": "javascript",
        "files": {
            "src/tiles.js": """/**
 * Lays out tiles. Options: { gutterPx, wrapAfter }.
 */
export function quiltTiles(tiles, { gutterPx = 0, wrapAfter = 4 } = {}) {
  return tiles.map((t, i) => ({ ...t, row: Math.floor(i / wrapAfter), gap: gutterPx }));
}
""",
        },
        "target": (
            "src/board.js",
            """import { quiltTiles } from "./tiles.js";

// Rows of three tiles with an 8 px gutter.
export function layoutBoard(tiles) {
  return █quiltTiles(tiles, { gutterPx: 8, wrapAfter: 3 });
}
""",
        ),
    },
    {
        "id": "js-class-method",
        "language": "javascript",
        "files": {
            "lib/spool.js": """export class Spool {
  constructor() {
    this.threads = [];
  }

  /** Winds a thread of the given colour and length (cm). */
  windThread(colour, lengthCm) {
    this.threads.push({ colour, lengthCm });
    return this;
  }
}
""",
        },
        "target": (
            "lib/loom.js",
            """import { Spool } from "./spool.js";

export function warp(colours) {
  const spool = new Spool();
  for (const c of colours) {
    // every thread is 120 cm long
    █spool.windThread(c, 120);
  }
  return spool;
}
""",
        ),
    },
    {
        "id": "js-constant",
        "language": "javascript",
        "files": {
            "config/limits.js": """export const MAX_GLOMP_BATCH = 64;
export const GLOMP_TIMEOUT_MS = 2500;
""",
        },
        "target": (
            "config/batcher.js",
            """import { MAX_GLOMP_BATCH, GLOMP_TIMEOUT_MS } from "./limits.js";

export function chunk(items) {
  const out = [];
  for (let i = 0; i < items.length; i += MAX_GLOMP_BATCH) {
    █out.push(items.slice(i, i + MAX_GLOMP_BATCH));
  }
  return { out, timeout: GLOMP_TIMEOUT_MS };
}
""",
        ),
    },
    {
        "id": "ts-interface-field",
        "language": "typescript",
        "files": {
            "src/types.ts": """export interface Burrow {
  tunnelCount: number;
  deepestChamberCm: number;
}
""",
        },
        "target": (
            "src/survey.ts",
            """import { Burrow } from "./types";

export function deepest(burrows: Burrow[]): number {
  return Math.max(...burrows.map((b) => █b.deepestChamberCm));
}
""",
        ),
    },
    {
        "id": "ts-enum-member",
        "language": "typescript",
        "files": {
            "src/phase.ts": """export enum Moult {
  Dormant = "dormant",
  Shedding = "shedding",
  Regrown = "regrown",
}
""",
        },
        "target": (
            "src/molt.ts",
            """import { Moult } from "./phase";

export function isShedding(p: Moult): boolean {
  return p === █Moult.Shedding;
}
""",
        ),
    },
    {
        "id": "ts-function-arg-order",
        "language": "typescript",
        "files": {
            "src/scale.ts": """/** Scale `value` from [fromMax] to [toMax]; mind the order. */
export function rescaleGizmo(toMax: number, value: number, fromMax: number): number {
  return (value / fromMax) * toMax;
}
""",
        },
        "target": (
            "src/meter.ts",
            """import { rescaleGizmo } from "./scale";

// value is out of 1023, the gauge shows 0..100
export function gaugePercent(value: number): number {
  return █rescaleGizmo(100, value, 1023);
}
""",
        ),
    },
    {
        "id": "ts-type-alias-union",
        "language": "typescript",
        "files": {
            "src/route.ts": """export type Waypoint = { lat: number; lon: number; halt: boolean };

export function plotWaypoints(points: Waypoint[], closeLoop: boolean): string {
  return points.map((p) => `${p.lat},${p.lon}`).join(closeLoop ? ";" : "|");
}
""",
        },
        "target": (
            "src/trip.ts",
            """import { plotWaypoints, Waypoint } from "./route";

// a round trip returns to its start
export function roundTrip(points: Waypoint[]): string {
  return █plotWaypoints(points, true);
}
""",
        ),
    },
    {
        "id": "ts-class-static",
        "language": "typescript",
        "files": {
            "src/clock.ts": """export class Sundial {
  static fromShadowLength(lengthCm: number, gnomonCm: number): Sundial {
    return new Sundial(Math.atan(lengthCm / gnomonCm));
  }
  constructor(public angle: number) {}
}
""",
        },
        "target": (
            "src/garden.ts",
            """import { Sundial } from "./clock";

export function dialFor(shadowCm: number): Sundial {
  const gnomon = 30;
  return █Sundial.fromShadowLength(shadowCm, gnomon);
}
""",
        ),
    },
    {
        "id": "js-default-export",
        "language": "javascript",
        "files": {
            "src/fizz.js": """/** Fizzles `n` sparks; `damp` halves them. */
export default function fizzleSparks(n, damp = false) {
  return damp ? Math.floor(n / 2) : n;
}
""",
        },
        "target": (
            "src/show.js",
            """import fizzleSparks from "./fizz.js";

// It rained, so the sparks are damp.
export function rainyFinale(n) {
  return █fizzleSparks(n, true);
}
""",
        ),
    },
    # ---- Go --------------------------------------------------------------------------------
    {
        "id": "go-method",
        "language": "go",
        "files": {
            "go.mod": "module example.com/quarry\n\ngo 1.21\n",
            "stone/slab.go": """package stone

// Slab is a cut block.
type Slab struct {
	WidthCm  int
	HeightCm int
}

// ChiselEdge trims depthMm from the slab edge and reports the new width.
func (s *Slab) ChiselEdge(depthMm int, polish bool) int {
	s.WidthCm -= depthMm / 10
	return s.WidthCm
}
""",
        },
        "target": (
            "stone/yard.go",
            """package stone

// Finish trims 20 mm and polishes every slab.
func Finish(slabs []*Slab) {
	for _, s := range slabs {
		█s.ChiselEdge(20, true)
	}
}
""",
        ),
    },
    {
        "id": "go-struct-field",
        "language": "go",
        "files": {
            "go.mod": "module example.com/hive\n\ngo 1.21\n",
            "bees/colony.go": """package bees

// Colony is one hive.
type Colony struct {
	QueenAge    int
	DroneCount  int
	HoneyGrams  int
}
""",
        },
        "target": (
            "bees/harvest.go",
            """package bees

// TotalHoney adds up the honey of all colonies.
func TotalHoney(cs []Colony) int {
	total := 0
	for _, c := range cs {
		█total += c.HoneyGrams
	}
	return total
}
""",
        ),
    },
    {
        "id": "go-constant",
        "language": "go",
        "files": {
            "go.mod": "module example.com/relay\n\ngo 1.21\n",
            "relay/limits.go": """package relay

const (
	// MaxHopCount bounds forwarding.
	MaxHopCount = 9
	// HopPenaltyMs is added per hop.
	HopPenaltyMs = 15
)
""",
        },
        "target": (
            "relay/route.go",
            """package relay

// Latency of a route; routes longer than the hop limit are rejected (-1).
func Latency(hops int) int {
	if hops > █MaxHopCount {
		return -1
	}
	return hops * HopPenaltyMs
}
""",
        ),
    },
    {
        "id": "go-package-func",
        "language": "go",
        "files": {
            "go.mod": "module example.com/mill\n\ngo 1.21\n",
            "grain/grind.go": """package grain

// Grind mills kilos of grain at the given coarseness (1 fine .. 5 coarse).
func Grind(coarseness int, kilos float64) float64 {
	return kilos * (1 - 0.02*float64(coarseness))
}
""",
        },
        "target": (
            "bakery/flour.go",
            """package bakery

import "example.com/mill/grain"

// FineFlour mills the kilos at the finest setting.
func FineFlour(kilos float64) float64 {
	return █grain.Grind(1, kilos)
}
""",
        ),
    },
    {
        "id": "go-constructor",
        "language": "go",
        "files": {
            "go.mod": "module example.com/canal\n\ngo 1.21\n",
            "lock/gate.go": """package lock

// Gate is a canal lock gate.
type Gate struct {
	name  string
	depth float64
}

// NewGate opens a gate at the given water depth in metres.
func NewGate(depthM float64, name string) *Gate {
	return &Gate{name: name, depth: depthM}
}
""",
        },
        "target": (
            "lock/flight.go",
            """package lock

// Flight builds a gate per name, each 3.5 m deep.
func Flight(names []string) []*Gate {
	gates := make([]*Gate, 0, len(names))
	for _, n := range names {
		█gates = append(gates, NewGate(3.5, n))
	}
	return gates
}
""",
        ),
    },
    {
        "id": "go-interface-method",
        "language": "go",
        "files": {
            "go.mod": "module example.com/owl\n\ngo 1.21\n",
            "owl/hoot.go": """package owl

// Hooter can be asked to hoot a number of times at a pitch.
type Hooter interface {
	HootRepeatedly(times int, pitchHz float64) error
}
""",
        },
        "target": (
            "owl/night.go",
            """package owl

// Midnight hoots twelve times at 440 Hz.
func Midnight(h Hooter) error {
	return █h.HootRepeatedly(12, 440)
}
""",
        ),
    },
    {
        "id": "go-error-var",
        "language": "go",
        "files": {
            "go.mod": "module example.com/kite\n\ngo 1.21\n",
            "kite/errors.go": """package kite

import "errors"

// ErrStringSnapped is returned when the line breaks.
var ErrStringSnapped = errors.New("kite: string snapped")
""",
        },
        "target": (
            "kite/fly.go",
            """package kite

// Fly fails when the wind is stronger than the line.
func Fly(windKnots, lineKnots int) error {
	if windKnots > lineKnots {
		return █ErrStringSnapped
	}
	return nil
}
""",
        ),
    },
    {
        "id": "go-embedded-field",
        "language": "go",
        "files": {
            "go.mod": "module example.com/tide\n\ngo 1.21\n",
            "tide/table.go": """package tide

// Reading is one gauge reading.
type Reading struct {
	Station   string
	LevelMm   int
	Timestamp int64
}
""",
        },
        "target": (
            "tide/alarm.go",
            """package tide

// Flooded lists stations whose level is above limitMm.
func Flooded(rs []Reading, limitMm int) []string {
	var out []string
	for _, r := range rs {
		if █r.LevelMm > limitMm {
			out = append(out, r.Station)
		}
	}
	return out
}
""",
        ),
    },
    # ---- Rust ------------------------------------------------------------------------------
    {
        "id": "rs-method",
        "language": "rust",
        "files": {
            "src/lib.rs": "pub mod anvil;\npub mod forge;\n",
            "src/anvil.rs": """/// A smithing anvil.
pub struct Anvil {
    pub strikes: u32,
}

impl Anvil {
    /// Strikes the anvil `times` times with the given hammer weight in grams.
    pub fn clang_repeatedly(&mut self, hammer_grams: u32, times: u32) -> u32 {
        self.strikes += times;
        hammer_grams * times
    }
}
""",
        },
        "target": (
            "src/forge.rs",
            """use crate::anvil::Anvil;

/// Ten strikes with an 800 g hammer.
pub fn temper(a: &mut Anvil) -> u32 {
    █a.clang_repeatedly(800, 10)
}
""",
        ),
    },
    {
        "id": "rs-struct-field",
        "language": "rust",
        "files": {
            "src/lib.rs": "pub mod hull;\npub mod survey;\n",
            "src/hull.rs": """/// A boat hull.
pub struct Hull {
    pub keel_depth_cm: u32,
    pub beam_cm: u32,
}
""",
        },
        "target": (
            "src/survey.rs",
            """use crate::hull::Hull;

/// Can the hull pass a channel `depth_cm` deep?
pub fn clears(h: &Hull, depth_cm: u32) -> bool {
    █h.keel_depth_cm < depth_cm
}
""",
        ),
    },
    {
        "id": "rs-enum-variant",
        "language": "rust",
        "files": {
            "src/lib.rs": "pub mod weather;\npub mod sail;\n",
            "src/weather.rs": """/// Sea states.
#[derive(Debug, PartialEq)]
pub enum Swell {
    Glassy,
    Choppy,
    Mountainous,
}
""",
        },
        "target": (
            "src/sail.rs",
            """use crate::weather::Swell;

/// Only the calmest sea is safe for a dinghy.
pub fn dinghy_ok(s: &Swell) -> bool {
    *s == █Swell::Glassy
}
""",
        ),
    },
    {
        "id": "rs-const",
        "language": "rust",
        "files": {
            "src/lib.rs": "pub mod limits;\npub mod pump;\n",
            "src/limits.rs": """/// Highest safe pressure, in kilopascals.
pub const BURST_KPA: u32 = 850;
/// Lowest useful pressure.
pub const TRICKLE_KPA: u32 = 40;
""",
        },
        "target": (
            "src/pump.rs",
            """use crate::limits::{BURST_KPA, TRICKLE_KPA};

/// Clamp to the safe range.
pub fn regulate(kpa: u32) -> u32 {
    █kpa.clamp(TRICKLE_KPA, BURST_KPA)
}
""",
        ),
    },
    {
        "id": "rs-assoc-fn",
        "language": "rust",
        "files": {
            "src/lib.rs": "pub mod lantern;\npub mod street;\n",
            "src/lantern.rs": """pub struct Lantern {
    pub lumens: u32,
    pub wick_mm: u32,
}

impl Lantern {
    /// A lantern with a wick of `wick_mm` burning at `lumens`.
    pub fn with_wick(wick_mm: u32, lumens: u32) -> Self {
        Lantern { lumens, wick_mm }
    }
}
""",
        },
        "target": (
            "src/street.rs",
            """use crate::lantern::Lantern;

/// Street lamps: 12 mm wicks, 300 lumens.
pub fn lamps(n: usize) -> Vec<Lantern> {
    (0..n).map(|_| █Lantern::with_wick(12, 300)).collect()
}
""",
        ),
    },
    # ---- Java ------------------------------------------------------------------------------
    {
        "id": "java-method",
        "language": "java",
        "files": {
            "src/main/java/org/mill/Millstone.java": """package org.mill;

/** A turning millstone. */
public class Millstone {
    /** Grinds grams of grain at rpm; returns grams of flour. */
    public int grindGrist(int rpm, int grams) {
        return grams - rpm / 10;
    }
}
""",
        },
        "target": (
            "src/main/java/org/mill/Miller.java",
            """package org.mill;

public class Miller {
    /** 500 grams at 60 rpm. */
    public int batch(Millstone stone) {
        return █stone.grindGrist(60, 500);
    }
}
""",
        ),
    },
    {
        "id": "java-constant",
        "language": "java",
        "files": {
            "src/main/java/org/zoo/Limits.java": """package org.zoo;

public final class Limits {
    public static final int MAX_PENGUINS_PER_POOL = 14;
    public static final int FEEDS_PER_DAY = 3;
}
""",
        },
        "target": (
            "src/main/java/org/zoo/Pool.java",
            """package org.zoo;

public class Pool {
    public boolean crowded(int penguins) {
        return penguins > █Limits.MAX_PENGUINS_PER_POOL;
    }
}
""",
        ),
    },
    {
        "id": "java-getter",
        "language": "java",
        "files": {
            "src/main/java/org/astro/Comet.java": """package org.astro;

public class Comet {
    private final double tailLengthKm;

    public Comet(double tailLengthKm) {
        this.tailLengthKm = tailLengthKm;
    }

    public double getTailLengthKm() {
        return tailLengthKm;
    }
}
""",
        },
        "target": (
            "src/main/java/org/astro/Sky.java",
            """package org.astro;

import java.util.List;

public class Sky {
    public double longestTail(List<Comet> comets) {
        double best = 0;
        for (Comet c : comets) {
            best = Math.max(best, █c.getTailLengthKm());
        }
        return best;
    }
}
""",
        ),
    },
    {
        "id": "java-builder-order",
        "language": "java",
        "files": {
            "src/main/java/org/post/Parcel.java": """package org.post;

public class Parcel {
    /** Note the order: destination first, then weight in grams, then express. */
    public static Parcel of(String destination, int grams, boolean express) {
        return new Parcel();
    }
}
""",
        },
        "target": (
            "src/main/java/org/post/Counter.java",
            """package org.post;

public class Counter {
    /** A 250 g standard (not express) letter to the given town. */
    public Parcel letterTo(String town) {
        return █Parcel.of(town, 250, false);
    }
}
""",
        ),
    },
]
