"""A remote engine from the settings: checks of the `models.*` remote options, the API key (read
from the environment variable or file the settings name, never from the settings), the pool,
the vocabulary, and the start-up checks (the engine answers; its tokenizer matches ours).
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airgap_lsp.completion.remote.http import Endpoint, EngineError, Pool, parse_endpoint
from airgap_lsp.completion.settings import ModelSettings

if TYPE_CHECKING:  # the engine (numpy, the runtime) is imported when one is made, not by options
    from airgap_lsp.completion.remote.engines import RemoteEngine

log = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_warned_plain: set[str] = set()  # endpoints already warned about (once per process)


def _check_endpoint(value: Any) -> str | None:
    if not value:
        return None
    try:
        parse_endpoint(value)
    except ValueError as exc:
        return str(exc)
    return None


def _check_env_name(value: Any) -> str | None:
    # The message never repeats the value: it may be a key pasted in the wrong place.
    if value and not _ENV_NAME.fullmatch(value):
        return (
            "must be the name of an environment variable (letters, digits, _), not the key "
            "itself: keys never go in settings"
        )
    return None


# (section, field) -> a check of an already typed value: a problem (completing "models.x ...")
# or None. lsp.options applies them like its ranges and choices.
SETTING_CHECKS: dict[tuple[str, str], Callable[[Any], str | None]] = {
    ("models", "endpoint"): _check_endpoint,
    ("models", "api_key_env"): _check_env_name,
}


class RemoteSetupError(Exception):
    """The remote engine's settings cannot work; the message is for the user."""


def api_key(m: ModelSettings) -> str:
    """The API key the settings point to ("" when none is configured)."""
    if m.api_key_env:
        key = os.environ.get(m.api_key_env, "").strip()
        if not key:
            raise RemoteSetupError(
                f"models.apiKeyEnv names {m.api_key_env}, which is not set in the server's "
                "environment"
            )
        return key
    if m.api_key_file:
        path = Path(m.api_key_file).expanduser()
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not text"
            raise RemoteSetupError(f"models.apiKeyFile {path} cannot be read: {reason}") from None
        if not key:
            raise RemoteSetupError(f"models.apiKeyFile {path} is empty")
        return key
    return ""


def endpoint_of(m: ModelSettings) -> Endpoint:
    if not m.endpoint:
        raise RemoteSetupError(
            f"models.backend is {m.backend!r} but models.endpoint is not set (the engine's "
            "URL, e.g. http://127.0.0.1:8080)"
        )
    try:
        return parse_endpoint(m.endpoint)
    except ValueError as exc:
        raise RemoteSetupError(f"models.endpoint {exc}") from None


def plain_http_warning(endpoint: Endpoint) -> str | None:
    """Once per process and endpoint: code sent in the clear to another machine."""
    if endpoint.scheme != "http" or endpoint.loopback or endpoint.shown in _warned_plain:
        return None
    _warned_plain.add(endpoint.shown)
    return (
        f"models.endpoint {endpoint.shown} is plain http to another machine: your code leaves "
        "this machine unencrypted; use https (with models.caFile for a private CA)"
    )


def make_pool(m: ModelSettings, endpoint: Endpoint) -> Pool:
    key = api_key(m)
    if m.ca_file and endpoint.scheme == "https":
        path = Path(m.ca_file).expanduser()
        if not path.is_file():
            raise RemoteSetupError(f"models.caFile {path} does not exist")
    try:
        return Pool(
            endpoint,
            secret=key,
            ca_file=str(Path(m.ca_file).expanduser()) if m.ca_file else "",
            connect_timeout_s=m.connect_timeout_ms / 1000,
            request_timeout_s=m.request_timeout_ms / 1000,
        )
    except (ssl.SSLError, OSError) as exc:
        raise RemoteSetupError(
            f"models.caFile {m.ca_file} is not a PEM certificate: {exc}"
        ) from None


@dataclass
class Connected:
    engine: RemoteEngine
    warnings: list[str] = field(default_factory=list)


def connect(m: ModelSettings, report: Callable[[str, int], None] | None = None) -> Connected:
    """The engine for these settings; configuration errors raise RemoteSetupError, an engine
    that does not answer yet is a warning (completions start when it does)."""
    from airgap_lsp.completion.remote.dialects import dialect_for
    from airgap_lsp.completion.remote.engines import RemoteEngine
    from airgap_lsp.completion.remote.tokenizer import TokenizerError, load_tokenizer

    say = report or (lambda _m, _p: None)
    if m.backend in ("openai", "ollama") and not m.model:
        raise RemoteSetupError(
            f"models.backend {m.backend!r} needs models.model: the name the engine serves the "
            "model under"
        )
    endpoint = endpoint_of(m)
    warnings: list[str] = []
    plain = plain_http_warning(endpoint)
    if plain:
        warnings.append(plain)
    pool = make_pool(m, endpoint)
    say("loading the served model's vocabulary", 20)
    try:
        vocab = load_tokenizer(m.tokenizer, m.search_paths)
    except TokenizerError as exc:
        raise RemoteSetupError(str(exc)) from None
    engine = RemoteEngine(
        dialect_for(m.backend), pool, vocab, served_model=m.model, context_size=m.context_size
    )
    say(f"checking {endpoint.shown}", 60)
    warnings += start_checks(engine, m)
    for warning in warnings:
        log.warning("%s", warning)
    return Connected(engine, warnings)


def start_checks(engine: RemoteEngine, m: ModelSettings) -> list[str]:
    """The probe round trip: the engine answers, and its tokenizer is ours (otherwise
    prompts go as text)."""
    from airgap_lsp.completion.remote.tokenizer import compare, probe_text

    tokenizer = m.tokenizer or "the default target"
    local = engine.target.tokenize(probe_text(engine.target), special=True)
    t0 = time.monotonic()
    try:
        pool = engine.pool
        limit = min(pool.request_timeout_s, pool.connect_timeout_s + 2.0)
        remote = engine.remote_tokens(probe_text(engine.target), timeout_s=limit)
    except EngineError as exc:
        engine.health.failed(exc.message)
        return [f"the engine does not answer yet ({exc}); completions start when it does"]
    log.info("tokenizer probe answered in %.0f ms", (time.monotonic() - t0) * 1000)
    if remote is None:
        return []  # Ollama: no tokenizer endpoint; its prompts go as text anyway
    match = compare(local, remote)
    if match.same:
        log.info("%s", match.describe(tokenizer))
        return []
    engine.text_prompts = True
    return [match.describe(tokenizer)]
