"""Initialization options and `workspace/configuration` (section "airgap") on the wire.

Owns the mapping from camelCase JSON to the typed settings of `completion.settings`: every
known key is checked against its field's type, allowed values and range; anything invalid is
reported back as a message for the user and replaced by its default, never a crash.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, get_type_hints

from airgap_lsp.completion.remote.config import SETTING_CHECKS
from airgap_lsp.completion.settings import (
    BACKENDS,
    DRAFTING_MODES,
    CompletionSettings,
    LogSettings,
    ModelSettings,
    Settings,
)

SECTIONS: dict[str, type] = {
    "models": ModelSettings,
    "completion": CompletionSettings,
    "log": LogSettings,
}
# Every integer option has a range: a huge value would allocate a context of that size, run
# for hours or sleep forever before a request (the range is the message the user gets).
BOUNDS: dict[tuple[str, str], tuple[int, int]] = {
    ("models", "context_size"): (256, 131_072),
    ("models", "gpu_layers"): (0, 1_000),
    ("models", "threads"): (0, 256),
    ("models", "cached_documents"): (1, 32),
    ("models", "cache_memory_mb"): (0, 1_048_576),
    ("models", "connect_timeout_ms"): (100, 600_000),
    ("models", "request_timeout_ms"): (100, 3_600_000),
    ("completion", "max_tokens"): (1, 4_096),
    ("completion", "max_lines"): (1, 1_000),
    ("completion", "max_prompt_ms"): (0, 600_000),
    ("completion", "max_predict_ms"): (0, 600_000),
    ("completion", "debounce_ms"): (0, 5_000),
    ("completion", "prefix_tokens"): (0, 131_072),
    ("completion", "suffix_tokens"): (0, 131_072),
    ("completion", "extra_context_tokens"): (0, 131_072),
}
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("models", "backend"): BACKENDS,
    ("models", "fallback"): ("", "local"),
    ("completion", "drafting"): DRAFTING_MODES,
    ("completion", "single_line_model"): ("target", "draft"),
    ("log", "level"): ("debug", "info", "warning", "error"),
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _shown(value: Any) -> str:
    """A value as quoted in a message, cut short (a client may send a megabyte)."""
    text = (
        repr(value) if not isinstance(value, int) or value.bit_length() < 200 else "a huge number"
    )
    return text if len(text) <= 60 else text[:57] + "..."


def _coerce(value: Any, hint: Any, where: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where} must be true or false, got {_shown(value)}")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where} must be a non-negative integer, got {_shown(value)}")
        return value
    if hint is str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, got {_shown(value)}")
        return value
    if hint == tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where} must be a list of strings, got {_shown(value)}")
        return tuple(value)
    raise ValueError(f"{where}: unsupported option type")


def parse_settings(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings from a JSON object (over `base` or the defaults), and the problems found."""
    base = base or Settings()
    problems: list[str] = []
    if raw is None or raw == []:  # Neovim encodes an empty table as []
        return base, problems
    if not isinstance(raw, dict):
        return base, [f"airgap options must be an object, got {type(raw).__name__}; using defaults"]
    sections: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in SECTIONS:
            problems.append(f"unknown option section {key!r} ignored")
            continue
        sections[key] = value
    updated: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        current = getattr(base, name)
        data = sections.get(name)
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(f"{name} must be an object; using defaults")
            continue
        hints = get_type_hints(cls)
        changes: dict[str, Any] = {}
        known = {camel(f.name): f.name for f in dataclasses.fields(cls)}
        for key, value in data.items():
            field = known.get(key) or (snake(key) if snake(key) in hints else None)
            where = f"{name}.{key}"
            if field is None:
                problems.append(f"unknown option {where!r} ignored")
                continue
            try:
                coerced = _coerce(value, hints[field], where)
                allowed = CHOICES.get((name, field))
                if allowed and coerced not in allowed:
                    raise ValueError(
                        f"{where} must be one of {', '.join(allowed)}, got {_shown(value)}"
                    )
                bounds = BOUNDS.get((name, field))
                if bounds and not bounds[0] <= coerced <= bounds[1]:
                    low, high = bounds
                    raise ValueError(
                        f"{where} must be between {low:,} and {high:,}, got {_shown(value)}"
                    )
                check = SETTING_CHECKS.get((name, field))
                problem = check(coerced) if check else None
                if problem:
                    raise ValueError(f"{where} {problem}")
            except ValueError as exc:
                default = getattr(cls(), field)
                problems.append(f"{exc}; using the default {default!r}")
                continue
            changes[field] = coerced
        updated[name] = dataclasses.replace(current, **changes)
    return dataclasses.replace(base, **updated), problems


def to_wire(settings: Settings) -> dict[str, Any]:
    """Settings as the camelCase JSON a client sends (documentation and tests)."""
    out: dict[str, Any] = {}
    for name in SECTIONS:
        section = getattr(settings, name)
        out[name] = {
            camel(f.name): (list(v) if isinstance(v := getattr(section, f.name), tuple) else v)
            for f in dataclasses.fields(section)
        }
    return out
