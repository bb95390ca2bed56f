"""Python cross-file tasks: definer files, the target with █ at the cursor, and a test."""

from __future__ import annotations

T = '"""'

TASKS: list[dict] = [
    {
        "id": "py-ledger-kwonly",
        "files": {
            "billing/__init__.py": "",
            "billing/ledger.py": f"""def frobnicate_ledger(entry, *, strict=True, ceiling_cents=0):
    {T}Return the entry amount in cents; non-strict mode ignores negative entries,
    and a positive ceiling caps the amount.{T}
    amount = entry["cents"]
    if amount < 0 and not strict:
        return 0
    if ceiling_cents and amount > ceiling_cents:
        return ceiling_cents
    return amount
""",
        },
        "target": (
            "billing/report.py",
            f"""from billing.ledger import frobnicate_ledger


def summarize(entries, ceiling):
    {T}Sum the entries, non-strict, each capped at `ceiling` cents.{T}
    totals = []
    for entry in entries:
        totals.append(█frobnicate_ledger(entry, strict=False, ceiling_cents=ceiling))
    return sum(totals)
""",
        ),
        "test": """from billing.report import summarize


def test_summarize():
    entries = [{"cents": 500}, {"cents": -200}, {"cents": 90}]
    assert summarize(entries, 300) == 390
""",
    },
    {
        "id": "py-argument-order",
        "files": {
            "geo/__init__.py": "",
            "geo/shift.py": f"""def wobble_point(dy, dx, point):
    {T}Move `point` (an (x, y) tuple) by dx horizontally and dy vertically.{T}
    x, y = point
    return (x + dx, y + dy)
""",
        },
        "target": (
            "geo/path.py",
            f"""from geo.shift import wobble_point


def nudge_all(points, dx, dy):
    {T}Move every point by (dx, dy).{T}
    return [█wobble_point(dy, dx, p) for p in points]
""",
        ),
        "test": """from geo.path import nudge_all


def test_nudge_all():
    assert nudge_all([(0, 0), (1, 2)], 3, -1) == [(3, -1), (4, 1)]
""",
    },
    {
        "id": "py-constant-name",
        "files": {
            "net/__init__.py": "",
            "net/limits.py": """QUIBBLE_RETRY_CEILING = 7
QUIBBLE_BACKOFF_MS = 125
""",
        },
        "target": (
            "net/retry.py",
            f"""from net import limits


def total_backoff(attempts):
    {T}Total wait in ms: attempts beyond the retry ceiling are not made.{T}
    made = min(attempts, █limits.QUIBBLE_RETRY_CEILING)
    return made * limits.QUIBBLE_BACKOFF_MS
""",
        ),
        "test": """from net.retry import total_backoff


def test_total_backoff():
    assert total_backoff(3) == 375
    assert total_backoff(20) == 875
""",
    },
    {
        "id": "py-dataclass-field",
        "files": {
            "farm/__init__.py": "",
            "farm/model.py": """from dataclasses import dataclass


@dataclass
class Gribble:
    moniker: str
    hoof_count: int
    pasture_acres: float
""",
        },
        "target": (
            "farm/census.py",
            f"""from farm.model import Gribble


def total_hooves(herd: list[Gribble]) -> int:
    {T}Number of hooves in the herd.{T}
    return sum(█g.hoof_count for g in herd)
""",
        ),
        "test": """from farm.census import total_hooves
from farm.model import Gribble


def test_total_hooves():
    herd = [Gribble("a", 4, 1.0), Gribble("b", 3, 2.0)]
    assert total_hooves(herd) == 7
""",
    },
    {
        "id": "py-method-name",
        "files": {
            "vault/__init__.py": "",
            "vault/store.py": f"""class Strongbox:
    def __init__(self):
        self._items = {{}}

    def stash_trinket(self, label, value):
        {T}Keep `value` under `label`.{T}
        self._items[label] = value

    def peek_trinket(self, label, default=None):
        {T}Return the value under `label`, or `default`.{T}
        return self._items.get(label, default)
""",
        },
        "target": (
            "vault/ops.py",
            f"""from vault.store import Strongbox


def fill(box: Strongbox, pairs):
    {T}Keep every (label, value) pair in the box.{T}
    for label, value in pairs:
        █box.stash_trinket(label, value)
    return box
""",
        ),
        "test": """from vault.ops import fill
from vault.store import Strongbox


def test_fill():
    box = fill(Strongbox(), [("a", 1), ("b", 2)])
    assert box.peek_trinket("a") == 1 and box.peek_trinket("b") == 2
""",
    },
    {
        "id": "py-default-lookup",
        "files": {
            "vault/__init__.py": "",
            "vault/store.py": f"""class Strongbox:
    def __init__(self, items):
        self._items = dict(items)

    def peek_trinket(self, label, default=None):
        {T}Return the value under `label`, or `default`.{T}
        return self._items.get(label, default)
""",
        },
        "target": (
            "vault/report.py",
            f"""from vault.store import Strongbox


def weight_of(box: Strongbox, label):
    {T}Weight stored under `label`; 0 when missing.{T}
    return █box.peek_trinket(label, 0)
""",
        ),
        "test": """from vault.report import weight_of
from vault.store import Strongbox


def test_weight_of():
    box = Strongbox({"x": 5})
    assert weight_of(box, "x") == 5
    assert weight_of(box, "y") == 0
""",
    },
    {
        "id": "py-enum-member",
        "files": {
            "tram/__init__.py": "",
            "tram/states.py": """import enum


class Clankiness(enum.Enum):
    SERENE = 1
    RATTLY = 2
    HOWLING = 3
""",
        },
        "target": (
            "tram/audit.py",
            f"""from tram.states import Clankiness


def is_loudest(state):
    {T}True for the loudest clankiness level.{T}
    return state is █Clankiness.HOWLING
""",
        ),
        "test": """from tram.audit import is_loudest
from tram.states import Clankiness


def test_is_loudest():
    assert is_loudest(Clankiness.HOWLING)
    assert not is_loudest(Clankiness.RATTLY)
""",
    },
    {
        "id": "py-classmethod-ctor",
        "files": {
            "orbit/__init__.py": "",
            "orbit/body.py": f"""class Moonlet:
    def __init__(self, mass_kg, radius_m):
        self.mass_kg = mass_kg
        self.radius_m = radius_m

    @classmethod
    def from_tonnes_and_km(cls, tonnes, km):
        {T}Build from tonnes and kilometres.{T}
        return cls(tonnes * 1000, km * 1000)
""",
        },
        "target": (
            "orbit/catalog.py",
            f"""from orbit.body import Moonlet


def load(rows):
    {T}rows are (tonnes, km) pairs.{T}
    out = []
    for tonnes, km in rows:
        out.append(█Moonlet.from_tonnes_and_km(tonnes, km))
    return out
""",
        ),
        "test": """from orbit.catalog import load


def test_load():
    (m,) = load([(2, 3)])
    assert (m.mass_kg, m.radius_m) == (2000, 3000)
""",
    },
    {
        "id": "py-dict-key-constant",
        "files": {
            "cfg/__init__.py": "",
            "cfg/keys.py": """SPROCKET_KEY = "sprocket.teeth"
GASKET_KEY = "gasket.ply"
""",
        },
        "target": (
            "cfg/read.py",
            f"""from cfg.keys import GASKET_KEY, SPROCKET_KEY


def teeth(settings: dict) -> int:
    {T}Number of sprocket teeth in the settings.{T}
    return int(settings[█SPROCKET_KEY])


def ply(settings: dict) -> int:
    return int(settings[GASKET_KEY])
""",
        ),
        "test": """from cfg.read import teeth


def test_teeth():
    assert teeth({"sprocket.teeth": "12", "gasket.ply": "3"}) == 12
""",
    },
    {
        "id": "py-keyword-unit",
        "files": {
            "brew/__init__.py": "",
            "brew/kettle.py": f"""def simmer_wort(litres, *, minutes, hop_grams=0):
    {T}Bitterness units of a boil.{T}
    return litres * minutes + 3 * hop_grams
""",
        },
        "target": (
            "brew/recipe.py",
            f"""from brew.kettle import simmer_wort


def pale_ale(litres):
    {T}A 60 minute boil with 25 g of hops.{T}
    return █simmer_wort(litres, minutes=60, hop_grams=25)
""",
        ),
        "test": """from brew.recipe import pale_ale


def test_pale_ale():
    assert pale_ale(2) == 195
""",
    },
    {
        "id": "py-exception-class",
        "files": {
            "dock/__init__.py": "",
            "dock/errors.py": '''class BerthOverflowError(Exception):
    """No berth is free."""


class HullBreachError(Exception):
    """The hull leaks."""
''',
        },
        "target": (
            "dock/harbour.py",
            f"""from dock.errors import BerthOverflowError


def moor(berths: list, ship):
    {T}Take the first free berth (None) or fail when none is free.{T}
    if None not in berths:
        raise █BerthOverflowError(ship)
    berths[berths.index(None)] = ship
    return berths
""",
        ),
        "test": """import pytest

from dock.errors import BerthOverflowError
from dock.harbour import moor


def test_moor():
    assert moor([None, "a"], "b") == ["b", "a"]
    with pytest.raises(BerthOverflowError):
        moor(["a"], "b")
""",
    },
    {
        "id": "py-property",
        "files": {
            "shop/__init__.py": "",
            "shop/basket.py": f"""class Hamper:
    def __init__(self, prices):
        self._prices = list(prices)

    @property
    def grand_tally(self):
        {T}Sum of all prices.{T}
        return sum(self._prices)
""",
        },
        "target": (
            "shop/checkout.py",
            f"""from shop.basket import Hamper


def needs_courier(h: Hamper) -> bool:
    {T}Hampers worth more than 100 go by courier.{T}
    return █h.grand_tally > 100
""",
        ),
        "test": """from shop.basket import Hamper
from shop.checkout import needs_courier


def test_needs_courier():
    assert needs_courier(Hamper([60, 50]))
    assert not needs_courier(Hamper([10]))
""",
    },
    {
        "id": "py-tuple-return-order",
        "files": {
            "stats/__init__.py": "",
            "stats/spread.py": f"""def lumpy_bounds(values):
    {T}Return (high, low) of the values.{T}
    return max(values), min(values)
""",
        },
        "target": (
            "stats/range_.py",
            f"""from stats.spread import lumpy_bounds


def width(values):
    {T}Distance between the highest and lowest value.{T}
    █high, low = lumpy_bounds(values)
    return high - low
""",
        ),
        "test": """from stats.range_ import width


def test_width():
    assert width([3, 9, 4]) == 6
""",
    },
    {
        "id": "py-module-function-alias",
        "files": {
            "text/__init__.py": "",
            "text/mangle.py": f"""def zigzag_case(word, *, start_upper=False):
    {T}Alternate letter case, starting lower unless start_upper.{T}
    out = []
    upper = start_upper
    for ch in word:
        out.append(ch.upper() if upper else ch.lower())
        upper = not upper
    return "".join(out)
""",
        },
        "target": (
            "text/banner.py",
            f"""from text import mangle


def shout(word):
    {T}Zigzag case, starting with an upper-case letter.{T}
    return █mangle.zigzag_case(word, start_upper=True)
""",
        ),
        "test": """from text.banner import shout


def test_shout():
    assert shout("abcd") == "AbCd"
""",
    },
    {
        "id": "py-nested-attribute",
        "files": {
            "fleet/__init__.py": "",
            "fleet/parts.py": """from dataclasses import dataclass


@dataclass
class Sprocketry:
    cog_radius_mm: int


@dataclass
class Velocipede:
    drivetrain: Sprocketry
    saddle_height_mm: int
""",
        },
        "target": (
            "fleet/inspect.py",
            f"""from fleet.parts import Velocipede


def big_cog(v: Velocipede) -> bool:
    {T}True when the drivetrain cog is wider than 40 mm.{T}
    return █v.drivetrain.cog_radius_mm > 40
""",
        ),
        "test": """from fleet.inspect import big_cog
from fleet.parts import Sprocketry, Velocipede


def test_big_cog():
    assert big_cog(Velocipede(Sprocketry(41), 700))
    assert not big_cog(Velocipede(Sprocketry(40), 700))
""",
    },
    {
        "id": "py-static-helper-args",
        "files": {
            "kiln/__init__.py": "",
            "kiln/heat.py": f"""class Firing:
    @staticmethod
    def ramp_celsius(target, start, per_hour):
        {T}Hours needed to go from `start` to `target` at `per_hour` degrees an hour.{T}
        return (target - start) / per_hour
""",
        },
        "target": (
            "kiln/schedule.py",
            f"""from kiln.heat import Firing


def bisque_hours(room_temp):
    {T}Hours to reach 1000 degrees from room temperature at 100 degrees an hour.{T}
    return █Firing.ramp_celsius(1000, room_temp, 100)
""",
        ),
        "test": """from kiln.schedule import bisque_hours


def test_bisque_hours():
    assert bisque_hours(20) == 9.8
""",
    },
    {
        "id": "py-typed-dict-key",
        "files": {
            "atlas/__init__.py": "",
            "atlas/types.py": """from typing import TypedDict


class Isthmus(TypedDict):
    span_km: float
    tidal_reach_m: float
""",
        },
        "target": (
            "atlas/measure.py",
            f"""from atlas.types import Isthmus


def floods(i: Isthmus, height_m: float) -> bool:
    {T}True when the water rises above the tidal reach.{T}
    return height_m > █i["tidal_reach_m"]
""",
        ),
        "test": """from atlas.measure import floods


def test_floods():
    assert floods({"span_km": 1.0, "tidal_reach_m": 2.0}, 3.0)
    assert not floods({"span_km": 1.0, "tidal_reach_m": 2.0}, 1.0)
""",
    },
]
