"""A scripted stand-in for the engine, for completer tests that must not depend on a model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from airgap_lsp.completion.code_context import ContextProvider
from airgap_lsp.completion.completer import Completer, CompletionRequest, Suggestion
from airgap_lsp.completion.engine import DecodeOptions, DecodeResult, DecodeStats
from airgap_lsp.completion.settings import CompletionSettings

# (prefix window, suffix window) -> raw model output, or (output, output once the first
# token of that output is banned at its place: the completer's retry)
Answer = Callable[[str, str], "str | tuple[str, str]"]


class ScriptedEngine:
    """Stands in for the engine: answers from the prompt's prefix/suffix windows, streams the
    answer through the completer's stop rule character by character, ends with `eog`."""

    def __init__(self, vocab, answer: Answer, prompt_ms_per_token: float | None = None) -> None:  # type: ignore[no-untyped-def]
        self.target = vocab
        self.draft = None
        self.prompt_ms_per_token = prompt_ms_per_token  # None: no prompt time budget applies
        self.answer = answer
        self.asked: list[tuple[str, str]] = []
        self.prompts: list[list[int]] = []
        self.deadlines: list[float | None] = []  # the prompt deadline of each request
        self.predict_budgets: list[float | None] = []  # the generation budget of each request
        self.calibration: dict[str, object] = {}  # what the real engine measured at load
        self.bans: list[tuple[int, frozenset[int]] | None] = []  # each request's banned token

    def tokens_to_evaluate(self, key: str, prompt: Sequence[int]) -> int:
        return len(prompt)  # nothing cached

    def generate(self, key, prompt: Sequence[int], options: DecodeOptions, stop, cancelled):  # type: ignore[no-untyped-def]
        ctl = self.target.control
        tokens = list(prompt)
        self.prompts.append(tokens)
        self.deadlines.append(options.max_prompt_ms)
        self.predict_budgets.append(options.max_predict_ms)
        self.bans.append(options.ban)
        pre = tokens.index(ctl.fim_prefix)
        suf = tokens.index(ctl.fim_suffix)
        mid = tokens.index(ctl.fim_middle)
        prefix = self.target.detokenize(tokens[pre + 1 : suf])
        suffix = self.target.detokenize(tokens[suf + 1 : mid])
        prefix += self.target.detokenize(tokens[mid + 1 :])  # a typed middle, if any
        # Token healing: the backed-off text is spelled first and is not part of the result.
        prefix += options.heal
        self.asked.append((prefix, suffix))
        answer = self.answer(prefix, suffix)
        if isinstance(answer, tuple):
            raw = answer[1] if options.ban is not None else answer[0]
        else:
            raw = answer
        for i in range(1, len(raw) + 1):
            cut = stop(raw[:i]) if stop else None
            if cut is not None:
                # The tokens generated so far (the stop rule fired on the last of them).
                return DecodeResult(self.target.tokenize(raw[:i]), raw[:cut], "stop", DecodeStats())
        return DecodeResult(self.target.tokenize(raw), raw, "eog", DecodeStats())


def suggest(  # type: ignore[no-untyped-def]
    vocab,
    doc: str,
    answer: Answer,
    language: str,
    path: str,
    settings: CompletionSettings | None = None,
    prompt_ms_per_token: float | None = None,
    step_ms: float | None = None,
) -> tuple[Suggestion | None, ScriptedEngine]:
    """The suggestion at the `|` in `doc`, and the engine that was asked (`step_ms`: the
    decode step time the engine measured at load; None: none measured)."""
    offset = doc.index("|")
    text = doc[:offset] + doc[offset + 1 :]
    engine = ScriptedEngine(vocab, answer, prompt_ms_per_token)
    if step_ms is not None:
        engine.calibration = {"verify_ms": {1: step_ms, 2: 2 * step_ms}}
    context = ContextProvider()
    context.open(path, path, language, text)
    completer = Completer(engine, settings or CompletionSettings(), context)  # type: ignore[arg-type]
    request = CompletionRequest(path, text, offset, path=path, language=language)
    return completer.complete(request, lambda: False), engine


def complete(  # type: ignore[no-untyped-def]
    vocab, doc: str, answer: Answer, language: str, path: str
) -> tuple[str | None, ScriptedEngine]:
    """The suggestion's text at the `|` in `doc`."""
    suggestion, engine = suggest(vocab, doc, answer, language, path)
    return (suggestion.text if suggestion else None), engine
