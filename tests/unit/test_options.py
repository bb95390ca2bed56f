"""camelCase options: defaults, valid values, and clear messages for invalid ones."""

from __future__ import annotations

from completion.settings import Settings
from lsp.options import parse_settings, to_wire


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
