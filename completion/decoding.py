"""Decoding one planned prompt into the text of a suggestion.

Owns what happens between a prompt and the text shown: the stop rule for the chosen shape (a
chat reply ends at its code block's closing fence), the clean-up of the output (complete lines
only when time or tokens ran out inside a block, the end fitted to what follows the cursor,
syntax-aware trimming, and the first line of several that do not fit the code below) and the
one retry that steers away from a placeholder answer or from a copy of the code below.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

from airgap_lsp.completion.engine import DecodeOptions, DecodeResult, Engine, IsCancelled, StopRule
from airgap_lsp.completion.postprocess import finalize, is_placeholder, strip_code_fence
from airgap_lsp.completion.prompt import Prompt
from airgap_lsp.context import Shape, only_code_below, settle_infill, stop_index, unstrand

STOPPED = frozenset({"cancelled", "budget", "prompt_budget"})  # no time left for a retry

Clean = Callable[[DecodeResult], str | None]  # the text worth showing, or None
FitSyntax = Callable[[str], str]  # the text trimmed to the document's syntax


@dataclass(frozen=True, slots=True)
class Decoded:
    result: DecodeResult
    text: str | None  # the clean text; None: nothing worth showing


def stop_rule(prompt: Prompt, shape: Shape) -> StopRule:
    """Where the output must end: a chat reply at its code block's closing fence, FIM output
    where the shape says."""
    # Module-level functions and partials: the rule travels to the engine's process (pickled)
    # and runs there after every token, so it stops the decoding at once.
    if prompt.kind == "chat":
        return _fence
    return functools.partial(_shape_stop, shape=shape)


def _fence(text: str) -> int | None:
    closing = text.find("```", text.find("\n") + 1) if text.startswith("```") else -1
    return closing if closing > 0 else None


def _shape_stop(text: str, shape: Shape) -> int | None:
    return stop_index(text, shape, shape.line_prefix)


def clean_output(
    result: DecodeResult, prompt: Prompt, shape: Shape, fit_syntax: FitSyntax | None
) -> str | None:
    """The output as a suggestion: None when nothing worth showing is left."""
    raw = strip_code_fence(result.text) if prompt.kind == "chat" else result.text
    if result.stop_reason in ("budget", "max_tokens") and "\n" in raw:
        # Out of time or tokens inside a block: keep the complete lines only (the prefetch
        # computes the rest while the user reads them).
        raw = raw[: raw.rindex("\n") + 1]
    if prompt.kind != "chat":
        raw = settle_infill(raw, shape, ended=result.stop_reason in ("eog", "stop"))
    if shape.code_below and only_code_below(raw, shape):
        return None  # the stop rule could not tell yet: the middle ended there
    text = finalize(raw, prompt.suffix_text, shape)
    if text is not None and fit_syntax is not None:
        shaped = fit_syntax(text)
        if not shaped.strip() and shape.code_below:
            # Several lines with code below that do not fit it as a whole: their first line
            # still starts the answer (a loop's head, say; the user types on from there).
            shaped = _first_line(text, shape)
        text = shaped if shaped.strip() else None
    if text is not None:
        # Last, after every other cut: the jump that strands the code below may be left last
        # by the syntax check, which drops the lines after it.
        text = unstrand(text, shape) or None
    return text


def _first_line(text: str, shape: Shape) -> str:
    """The text up to the end of its first non-empty line, when more lines follow it and it
    is neither a placeholder nor the code below again; else ''."""
    start = len(text) - len(text.lstrip("\r\n"))
    end = text.find("\n", start)
    if end < 0 or not text[end:].strip():
        return ""
    line = text[:end].rstrip()
    stripped = line.strip()
    if is_placeholder(line) or (shape.next_lines and stripped == shape.next_lines[0]):
        return ""
    return line if any(c.isalnum() for c in stripped) else ""


def decode(
    engine: Engine,
    key: str,
    prompt: Prompt,
    options: DecodeOptions,
    shape: Shape,
    clean: Clean,
    is_cancelled: IsCancelled,
) -> Decoded:
    """Generate from the prompt and clean the output, retrying once past a placeholder or past
    a copy of the code below."""
    stop = stop_rule(prompt, shape)
    result = engine.generate(key, prompt.tokens, options, stop, is_cancelled)
    text = clean(result)
    if result.stop_reason in STOPPED:
        return Decoded(result, text)
    # Instruct-tuned models like to leave `# Your code here` + `pass` in an empty body, and
    # to answer a hole on a line of its own by writing the line below it again (which the
    # stop rule cuts to nothing). Nobody wants either; ask once more with the token that
    # began it forbidden there (the prompt is cached: only decoding repeats).
    placeholder = text is not None and is_placeholder(text)
    copied = text is None and shape.at_line_start and _copies_code_below(engine, result, shape)
    if placeholder or copied:
        at = _row_departure(engine, result, shape) if copied else None
        retried = _retry(engine, key, prompt, options, stop, clean, is_cancelled, result, at)
        if retried is not None:
            result, text = retried
    return Decoded(result, text)


def _copies_code_below(engine: Engine, result: DecodeResult, shape: Shape) -> bool:
    """The output's first line is the line that follows the hole."""
    raw = engine.target.detokenize(result.tokens).lstrip("\r\n")
    return bool(shape.next_lines) and raw.split("\n", 1)[0].strip() == shape.next_lines[0]


ROW_PREFIX = 2  # characters the rows around the hole must share to be rows of one table


def _row_departure(engine: Engine, result: DecodeResult, shape: Shape) -> int | None:
    """Where a copy of the line below departs from the line above, when both lines begin
    alike (rows of a table or a list: `255, // 'Ú'` above, `255, // 'Ü'` below): the hole is
    most likely another such row, which shares that beginning too, so the retry keeps it and
    bans the copy's token there instead of its first one. None otherwise."""
    below, above = shape.next_lines[0] if shape.next_lines else "", shape.prev_line
    shared = 0
    while shared < min(len(above), len(below)) and above[shared] == below[shared]:
        shared += 1
    if shared < ROW_PREFIX or shared >= len(below):
        return None
    detokenize = engine.target.detokenize
    for i in range(len(result.tokens)):
        if len(detokenize(result.tokens[: i + 1]).lstrip()) > shared:
            return i
    return None


def _retry(
    engine: Engine,
    key: str,
    prompt: Prompt,
    options: DecodeOptions,
    stop: StopRule,
    clean: Clean,
    is_cancelled: IsCancelled,
    result: DecodeResult,
    at: int | None = None,
) -> tuple[DecodeResult, str] | None:
    """The output with one of its tokens banned at its place (`at`; by default its first
    visible token), if the retry gives something worth showing that is no placeholder."""
    tokens = result.tokens
    if at is None:
        at = next((i for i, t in enumerate(tokens) if engine.target.piece(t).strip()), None)
    if at is None:
        return None
    ban = (at, frozenset({tokens[at]}))
    retry = engine.generate(
        key, prompt.tokens, dataclasses.replace(options, ban=ban), stop, is_cancelled
    )
    text = clean(retry)
    if text is None or is_placeholder(text):
        return None
    retry.stats.generated += result.stats.generated
    retry.stats.predict_ms += result.stats.predict_ms
    retry.stats.prompt_ms += result.stats.prompt_ms
    return retry, text
