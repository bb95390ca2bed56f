"""Whether this machine runs on battery, from Linux's power-supply class (cheap to read).

Owns the one question idle work asks before it spends energy: pre-warming evaluates prompts
nobody asked for yet, which a laptop on battery should not pay for. Unknown (no such files, not
Linux) counts as mains power.
"""

from __future__ import annotations

from pathlib import Path

POWER_SUPPLY = Path("/sys/class/power_supply")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""


def on_battery(root: Path = POWER_SUPPLY) -> bool:
    """True when a battery discharges and no mains supply is online."""
    try:
        supplies = list(root.iterdir())
    except OSError:
        return False
    mains_online = False
    discharging = False
    for supply in supplies:
        kind = _read(supply / "type")
        if kind in ("Mains", "USB") and _read(supply / "online") == "1":
            mains_online = True
        elif kind == "Battery" and _read(supply / "status") == "Discharging":
            discharging = True
    return discharging and not mains_online
