"""Remote engines with the local engine's interface, so the completer and the code actions run
on a shared llama-server, vLLM, SGLang or Ollama unchanged.

Owns `RemoteEngine.generate`: our prompt (token ids, or text for Ollama) in one streamed greedy
request, our stop rule applied to the streamed text (the stream is closed as soon as it fires,
which stops the engine's task), token healing (llama-server spells the healed text by grammar;
elsewhere an output that does not spell it gives no suggestion), the prompt and predict time
budgets, cancellation (the watchdog closes the stream), per-document affinity (llama-server's
`id_slot` of the slot that served the document last), and the `DecodeResult` with timings. It
also owns the engine's `Health` (told once per change) and `FallbackEngine`, which serves from
the in-process model while the remote is down and goes back when it answers again.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from airgap_lsp.completion.engine import (
    DecodeOptions,
    DecodeResult,
    DecodeStats,
    Engine,
    IsCancelled,
    StopRule,
)
from airgap_lsp.completion.health import Health
from airgap_lsp.completion.remote.dialects import (
    DONE,
    Chunk,
    Dialect,
    Request,
    Timings,
    heal_grammar,
)
from airgap_lsp.completion.remote.http import EngineError, Pool, Response
from airgap_lsp.completion.remote.tokenizer import render
from airgap_lsp.completion.runtime import Model
from airgap_lsp.completion.sequences import common_prefix

log = logging.getLogger(__name__)

KEPT_DOCUMENTS = 64  # documents whose last prompt is remembered (cache and slot affinity)
DRAIN_S = 0.5  # seconds spent reading a finished reply's tail so its connection is reused


def _never() -> bool:
    return False


class RemoteEngine:
    """An inference server behind `Engine`'s interface (`generate`, `target`,
    `prompt_ms_per_token`, `tokens_to_evaluate`)."""

    draft = None
    draft_warning = ""

    def __init__(
        self,
        dialect: Dialect,
        pool: Pool,
        vocab: Model,
        *,
        served_model: str = "",
        context_size: int = 0,
    ) -> None:
        self.dialect = dialect
        self.pool = pool
        self.target = vocab
        self.served_model = served_model
        self.context_size = context_size
        self.text_prompts = dialect.text_prompt  # also set when the tokenizers differ
        self.health = Health(pool.endpoint.shown)
        self.prompt_ms_per_token: float | None = None
        self.calibration: dict[str, object] = {}
        self._held: OrderedDict[str, list[int]] = OrderedDict()
        self._slots: dict[str, int] = {}
        name = served_model or "the served model"
        self.description = f"{name} on {dialect.name} at {pool.endpoint.shown}"

    # -- Engine's interface -----------------------------------------------------------------

    def generate(
        self,
        key: str,
        prompt: Sequence[int],
        options: DecodeOptions,
        stop: StopRule | None = None,
        cancelled: IsCancelled | None = None,
    ) -> DecodeResult:
        stats = DecodeStats(prompt_tokens=len(prompt))
        is_cancelled = cancelled or _never
        if options.ban is not None and (not self.dialect.can_ban or self.text_prompts):
            # The engine cannot keep a token out: a retry would only repeat the first answer.
            return DecodeResult([], "", "eog", stats)
        stats.reused_tokens = len(prompt) - self.tokens_to_evaluate(key, prompt)
        run = _Run(self, key, list(prompt), options, stop, is_cancelled, stats)
        return run.result()

    def tokens_to_evaluate(self, key: str, prompt: Sequence[int]) -> int:
        """How many prompt tokens the engine would evaluate, judged from what this server sent
        it lately (its slots hold those prompts unless other users' requests evicted them)."""
        held = max((common_prefix(h, prompt) for h in self._held.values()), default=0)
        return len(prompt) - held

    def calibrate(self, sizes: Sequence[int] = ()) -> dict[str, object]:
        return self.calibration

    def forget(self, key: str) -> None:
        """The document `key` closed: what it sent is no longer expected to be held (the
        engine's slots are its own and other users' requests reuse them)."""
        self._held.pop(key, None)
        self._slots.pop(key, None)

    def reset(self) -> None:
        self._held.clear()
        self._slots.clear()

    def close(self) -> None:
        self.pool.close()

    # -- helpers ----------------------------------------------------------------------------

    def payload(self, prompt: Sequence[int]) -> list[int] | str:
        """The prompt as the engine takes it: token ids, or text with control tokens spelled
        (Ollama; or any engine whose tokenizer differs from ours)."""
        if not self.text_prompts:
            return list(prompt)
        tokens = list(prompt)
        bos = self.target.bos
        if tokens and bos is not None and tokens[0] == bos:
            tokens = tokens[1:]  # the engine adds its own
        return render(self.target, tokens)

    def remember(self, key: str, tokens: list[int], slot: int | None) -> None:
        self._held.pop(key, None)
        self._held[key] = tokens  # last: the most recent (and safe against a concurrent forget)
        if slot is not None:
            self._slots[key] = slot
        while len(self._held) > KEPT_DOCUMENTS:
            old, _ = self._held.popitem(last=False)
            self._slots.pop(old, None)

    def learn_prompt_speed(self, timings: Timings) -> None:
        if timings.prompt_n >= 16 and timings.prompt_ms > 0:
            ms = timings.prompt_ms / timings.prompt_n
            old = self.prompt_ms_per_token
            self.prompt_ms_per_token = ms if old is None else 0.7 * old + 0.3 * ms

    def learn_prompt_floor(self, waited_ms: float, tokens: int) -> None:
        """The prompt budget ended before the engine had evaluated `tokens` prompt tokens: its
        prompt speed is at least this slow. Without it an engine too slow for the budget never
        finishes a prompt to learn from, and the planner, believing prompts cheap, never sheds
        context or grants a prompt at its floor the time it needs."""
        if tokens >= 16 and waited_ms > 0:
            floor = waited_ms / tokens
            self.prompt_ms_per_token = max(self.prompt_ms_per_token or 0.0, floor)

    def remote_tokens(self, text: str, timeout_s: float = 5.0) -> list[int] | None:
        """`text` tokenized by the engine (special tokens parsed), or None when the engine has
        no tokenizer endpoint."""
        last: EngineError | None = None
        for path in self.dialect.tokenize_paths:
            try:
                data = self.pool.json(
                    "POST",
                    path,
                    self.dialect.tokenize_body(text, self.served_model),
                    timeout_s=timeout_s,
                )
            except EngineError as exc:
                if exc.kind == "not_found":
                    last = exc
                    continue
                raise
            try:
                return self.dialect.parse_tokens(data)
            except ValueError:
                raise EngineError(
                    "protocol",
                    f"{self.pool.endpoint.shown}{path} answered without a token list",
                ) from None
        if last is not None:
            log.info("no tokenizer endpoint: %s", last)
        return None


def events(lines: Iterator[bytes], sse: bool, pool: Pool) -> Iterator[dict[str, Any]]:
    """Parsed events of an SSE (`data: {...}`, `data: [DONE]`, `: ping`) or NDJSON stream."""
    for line in lines:
        if not line.strip():
            continue
        payload = line
        if sse:
            if line.startswith(b":"):
                continue  # a comment: llama-server's keep-alive ping
            if line.startswith(b"data:"):
                payload = line[5:].strip()
            elif line.split(b":", 1)[0] in (b"event", b"id", b"retry"):
                continue
            if payload == b"[DONE]":
                yield DONE
                continue
        if payload.lstrip()[:1] == b"<":
            raise pool.html_error()
        try:
            event = json.loads(payload)
        except ValueError:
            raise EngineError(
                "protocol",
                f"{pool.endpoint.shown} streamed something that is not JSON: "
                f"{pool.excerpt(payload)}",
            ) from None
        if not isinstance(event, dict):
            raise EngineError("protocol", f"{pool.endpoint.shown} streamed {pool.excerpt(payload)}")
        yield event


class _Run:
    """One generation's state; exists only for the duration of `RemoteEngine.generate`."""

    def __init__(
        self,
        engine: RemoteEngine,
        key: str,
        prompt: list[int],
        options: DecodeOptions,
        stop: StopRule | None,
        cancelled: IsCancelled,
        stats: DecodeStats,
    ) -> None:
        self.e = engine
        self.key = key
        self.prompt = prompt
        self.o = options
        self.stop = stop
        self.cancelled = cancelled
        self.stats = stats
        self.text = ""
        self.tokens: list[int] = []
        self.generated = 0
        self.cut: int | None = None
        self.t_first: float | None = None
        self.timings: Timings | None = None
        self.slot: int | None = None
        self.healed_wrong = False
        self.budget_end = float("inf")  # the prompt budget's end, then the predict budget's
        self.budget_bound = False  # the current deadline is a budget's, not the timeout's

    @property
    def visible(self) -> str:
        """The output after the healed text (what the caller asked for)."""
        heal = self.o.heal
        if not heal:
            return self.text
        if len(self.text) < len(heal):
            self.healed_wrong = not heal.startswith(self.text)
            return ""
        self.healed_wrong = not self.text.startswith(heal)
        return "" if self.healed_wrong else self.text[len(heal) :]

    def result(self) -> DecodeResult:
        e, o = self.e, self.o
        t0 = time.monotonic()
        # The engine must answer within the request timeout, and then never fall silent for
        # longer; the prompt and predict budgets, when set, end the phases earlier (and are
        # no failure). The length of an answer that keeps coming is bounded by max_tokens.
        self.budget_end = t0 + o.max_prompt_ms / 1000 if o.max_prompt_ms else float("inf")
        request = Request(
            prompt=e.payload(self.prompt),
            max_tokens=o.max_tokens,
            max_predict_ms=o.max_predict_ms,
            slot=e._slots.get(self.key),
            grammar=heal_grammar(o.heal) if o.heal and e.dialect.name == "llama-server" else "",
            banned=o.ban[1] if o.ban is not None else frozenset(),
            model=e.served_model,
            context_size=e.context_size,
        )
        reason = ""
        error: EngineError | None = None
        try:
            response = e.pool.open(
                "POST",
                e.dialect.path,
                e.dialect.body(request),
                cancelled=self.cancelled,
                deadline=self._deadline(),
                accept=e.dialect.accept,
            )
            with response:
                if "html" in response.content_type:
                    raise e.pool.html_error()
                reason = self._read(response)
        except EngineError as exc:
            if exc.kind == "cancelled":
                reason = "cancelled"
            elif exc.kind == "deadline" and self.budget_bound:
                reason = "prompt_budget" if self.t_first is None else "budget"
            elif exc.kind == "deadline":
                error = e.pool.timeout_error()
            else:
                error = exc
        return self._finish(t0, reason, error)

    def _deadline(self) -> float:
        """The next moment the engine must have said something by."""
        silence = time.monotonic() + self.e.pool.request_timeout_s
        self.budget_bound = self.budget_end <= silence
        return min(silence, self.budget_end)

    def _read(self, response: Response) -> str:
        e, o = self.e, self.o
        for event in events(response.lines(), e.dialect.sse, e.pool):
            chunk = Chunk(done=True) if event is DONE else e.dialect.parse(event)
            if self.t_first is None and (chunk.text or chunk.tokens or chunk.done):
                self.t_first = time.monotonic()
                predict = o.max_predict_ms / 1000 if o.max_predict_ms else float("inf")
                self.budget_end = self.t_first + predict
            response.set_deadline(self._deadline())
            self.text += chunk.text
            if chunk.tokens is not None:
                self.tokens += chunk.tokens
                self.generated += len(chunk.tokens)
            elif chunk.text:
                self.generated += 1  # these engines stream one token per event
            if chunk.timings is not None:
                self.timings = chunk.timings
            if chunk.slot is not None:
                self.slot = chunk.slot
            visible = self.visible
            if self.healed_wrong:
                log.info("the engine did not spell the healed text %r; no suggestion", o.heal)
                return "eog"
            if self.stop is not None and (chunk.text or chunk.done):
                cut = self.stop(visible)
                if cut is not None:
                    self.cut = cut
                    return "stop"
            if chunk.done:
                self._drain(response)
                return chunk.finish or "eog"
            if self.generated >= o.max_tokens:
                # The engine ends its reply here itself; one that streams on is cut off.
                self._drain(response)
                return "max_tokens"
        # The body ended without the engine's last event: the connection closed midway.
        raise EngineError(
            "protocol", f"{e.pool.endpoint.shown} closed the connection in the middle of a reply"
        )

    def _drain(self, response: Response) -> None:
        """Read the rest of a finished reply (`[DONE]`, the usage event, the end of the body)
        so its connection is reused; give up quickly otherwise."""
        response.set_deadline(time.monotonic() + DRAIN_S)
        try:
            for _ in response.lines():
                pass
        except EngineError:
            pass

    def _finish(self, t0: float, reason: str, error: EngineError | None) -> DecodeResult:
        e, stats = self.e, self.stats
        now = time.monotonic()
        if error is not None:
            e.health.failed(error.message)
            stats.prompt_ms = (now - t0) * 1000
            return DecodeResult([], "", "error", stats)
        if self.t_first is not None or reason in ("eog", "stop", "max_tokens"):
            e.health.succeeded()
        first = self.t_first or now
        stats.prompt_ms = (first - t0) * 1000
        stats.predict_ms = (now - first) * 1000 if self.t_first is not None else 0.0
        stats.generated = self.generated
        stats.steps = self.generated
        if self.timings is not None:
            t = self.timings
            cached = t.cache_n if t.cache_n is not None else len(self.prompt) - t.prompt_n
            stats.reused_tokens = max(0, min(len(self.prompt), cached))
            e.learn_prompt_speed(t)
        if reason == "prompt_budget" and self.timings is None:
            e.learn_prompt_floor(stats.prompt_ms, len(self.prompt) - stats.reused_tokens)
        if reason in ("prompt_budget",) or (reason == "cancelled" and self.t_first is None):
            return DecodeResult([], "", reason, stats)
        visible = "" if self.healed_wrong else self.visible
        text = visible if self.cut is None else visible[: self.cut]
        tokens = self.tokens if self.tokens or not self.text else e.target.tokenize(self.text)
        if reason in ("eog", "stop", "max_tokens", "budget"):
            e.remember(self.key, self.prompt + tokens, self.slot)
        return DecodeResult(list(tokens), text, reason, stats)


class FallbackEngine:
    """The remote engine while it answers; the in-process engine (same vocabulary) while it
    does not, trying the remote again after a growing pause (1 s, doubling, at most 30 s)."""

    draft = None
    draft_warning = ""

    def __init__(self, remote: RemoteEngine, local: Engine) -> None:
        self.remote = remote
        self.local = local
        self.target = remote.target
        self.health = remote.health
        self.calibration: dict[str, object] = {}
        self.description = f"{remote.description} (falls back to {local.target.path.name})"

    def _local_now(self) -> bool:
        return not self.health.ok and time.monotonic() < self.health.retry_at

    @property
    def prompt_ms_per_token(self) -> float | None:
        if self._local_now():
            return self.local.prompt_ms_per_token
        return self.remote.prompt_ms_per_token

    def tokens_to_evaluate(self, key: str, prompt: Sequence[int]) -> int:
        active = self.local if self._local_now() else self.remote
        return active.tokens_to_evaluate(key, prompt)

    def generate(
        self,
        key: str,
        prompt: Sequence[int],
        options: DecodeOptions,
        stop: StopRule | None = None,
        cancelled: IsCancelled | None = None,
    ) -> DecodeResult:
        if not self._local_now():
            result = self.remote.generate(key, prompt, options, stop, cancelled)
            if result.stop_reason != "error" or (cancelled is not None and cancelled()):
                return result
        return self.local.generate(key, prompt, options, stop, cancelled)

    def calibrate(self, sizes: Sequence[int] = ()) -> dict[str, object]:
        return self.calibration

    def reset(self) -> None:
        self.remote.reset()
        self.local.reset()

    def close(self) -> None:
        self.remote.close()
