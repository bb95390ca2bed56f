"""On battery or not, from a power-supply tree laid out as Linux's /sys/class/power_supply."""

from __future__ import annotations

from pathlib import Path

from airgap_lsp.completion.power import on_battery


def supply(root: Path, name: str, **files: str) -> None:
    (root / name).mkdir(parents=True)
    for key, value in files.items():
        (root / name / key).write_text(value + "\n")


def test_a_discharging_battery_without_mains_is_battery(tmp_path: Path) -> None:
    supply(tmp_path, "AC", type="Mains", online="0")
    supply(tmp_path, "BAT0", type="Battery", status="Discharging")
    assert on_battery(tmp_path)


def test_mains_online_or_a_charging_battery_is_not(tmp_path: Path) -> None:
    supply(tmp_path, "AC", type="Mains", online="1")
    supply(tmp_path, "BAT0", type="Battery", status="Discharging")  # as some firmware says
    assert not on_battery(tmp_path)
    other = tmp_path / "other"
    supply(other, "BAT0", type="Battery", status="Charging")
    assert not on_battery(other)


def test_unknown_is_mains(tmp_path: Path) -> None:
    assert not on_battery(tmp_path / "missing")
    assert not on_battery(tmp_path)  # a desktop or server: no supplies at all
