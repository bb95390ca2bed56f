"""camelCase options: defaults, valid values, and clear messages for invalid ones."""

from __future__ import annotations

from airgap_lsp.completion.settings import Settings
from airgap_lsp.lsp.options import parse_settings, to_wire


def test_defaults_round_trip():
    settings, problems = parse_settings(to_wire(Settings()))
    assert settings == Settings() and problems == []
    assert parse_settings(None) == (Settings(), [])


def test_valid_values_apply():
    raw = {
        "models": {"target": "/m/x.gguf", "draft": "", "contextSize": 2048},
        "completion": {"maxTokens": 32, "drafting": "ngram", "disabledLanguages": ["markdown"]},
        "log": {"level": "debug"},
    }
    s, problems = parse_settings(raw)
    assert problems == []
    assert s.models.target == "/m/x.gguf" and s.models.draft == "" and s.models.context_size == 2048
    assert s.completion.max_tokens == 32 and s.completion.drafting == "ngram"
    assert s.completion.disabled_languages == ("markdown",)
    assert s.log.level == "debug"


def test_invalid_values_give_messages_and_defaults():
    raw = {
        "models": {"contextSize": "big", "gpuLayers": -3},
        "completion": {"drafting": "telepathy", "enabled": "yes", "maxTokens": 16},
        "colour": {},
        "log": {"nope": 1},
    }
    s, problems = parse_settings(raw)
    assert s.models.context_size == Settings().models.context_size
    assert s.models.gpu_layers == 0
    assert s.completion.drafting == "auto" and s.completion.enabled is True
    assert s.completion.max_tokens == 16  # the valid one still applies
    text = "\n".join(problems)
    assert "models.contextSize must be a non-negative integer" in text
    assert "completion.drafting must be one of auto, model, ngram, none" in text
    assert "completion.enabled must be true or false" in text
    assert "unknown option section 'colour'" in text
    assert "unknown option 'log.nope'" in text
    assert len(problems) == 6


def test_not_an_object():
    s, problems = parse_settings(["x"])
    assert s == Settings() and "must be an object" in problems[0]


def test_integer_options_have_upper_bounds():
    raw = {
        "models": {"contextSize": 10**12, "cachedDocuments": 100_000, "threads": 10**6},
        "completion": {"maxTokens": 10**9, "debounceMs": 86_400_000, "maxLines": 0},
    }
    s, problems = parse_settings(raw)
    defaults = Settings()
    assert s.models == defaults.models
    assert s.completion.max_tokens == defaults.completion.max_tokens
    assert s.completion.debounce_ms == defaults.completion.debounce_ms
    assert s.completion.max_lines == defaults.completion.max_lines
    text = "\n".join(problems)
    assert "models.contextSize must be between 256 and 131,072, got 1000000000000" in text
    assert "completion.debounceMs must be between 0 and 5,000" in text
    assert "completion.maxLines must be between 1 and 1,000, got 0" in text
    assert len(problems) == 6
    # A number too long to print whole is still reported, briefly.
    _, problems = parse_settings({"completion": {"maxTokens": 10**400}})
    assert len(problems) == 1 and len(problems[0]) < 200


def test_every_integer_option_has_a_range():
    import dataclasses
    from typing import get_type_hints

    from airgap_lsp.lsp.options import BOUNDS, SECTIONS

    for name, cls in SECTIONS.items():
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] is int:
                lo, hi = BOUNDS[(name, f.name)]
                assert lo <= getattr(cls(), f.name) <= hi, (name, f.name)
