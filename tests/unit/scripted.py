"""A scripted stand-in for the engine, for completer tests that must not depend on a model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from completion.code_context import ContextProvider
from completion.completer import Completer, CompletionRequest, Suggestion
from completion.engine import DecodeOptions, DecodeResult, DecodeStats
from completion.settings import CompletionSettings

Answer = Callable[[str, str], str]  # (prefix window, suffix window) -> raw model output


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

    def tokens_to_evaluate(self, key: str, prompt: Sequence[int]) -> int:
        return len(prompt)  # nothing cached

    def generate(self, key, prompt: Sequence[int], options: DecodeOptions, stop, cancelled):  # type: ignore[no-untyped-def]
        ctl = self.target.control
        tokens = list(prompt)
        self.prompts.append(tokens)
        self.deadlines.append(options.max_prompt_ms)
        pre = tokens.index(ctl.fim_prefix)
        suf = tokens.index(ctl.fim_suffix)
        mid = tokens.index(ctl.fim_middle)
        prefix = self.target.detokenize(tokens[pre + 1 : suf])
        suffix = self.target.detokenize(tokens[suf + 1 : mid])
        prefix += self.target.detokenize(tokens[mid + 1 :])  # a typed middle, if any
        self.asked.append((prefix, suffix))
        raw = self.answer(prefix, suffix)
        for i in range(1, len(raw) + 1):
            cut = stop(raw[:i]) if stop else None
            if cut is not None:
                return DecodeResult([], raw[:cut], "stop", DecodeStats())
        return DecodeResult([], raw, "eog", DecodeStats())


def suggest(  # type: ignore[no-untyped-def]
    vocab,
    doc: str,
    answer: Answer,
    language: str,
    path: str,
    settings: CompletionSettings | None = None,
    prompt_ms_per_token: float | None = None,
) -> tuple[Suggestion | None, ScriptedEngine]:
    """The suggestion at the `|` in `doc`, and the engine that was asked."""
    offset = doc.index("|")
    text = doc[:offset] + doc[offset + 1 :]
    engine = ScriptedEngine(vocab, answer, prompt_ms_per_token)
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
