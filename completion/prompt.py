"""Prompts built at token level.

Owns the fill-in-the-middle prompt (Qwen's repository-level format: repo name, other files
behind file separators, then prefix/suffix/middle of the current file) and the chat-template
prompt used by models without FIM tokens and by code actions. Control tokens always come from
the model's vocabulary; the user's text is always tokenized with special-token parsing off, so a
file that contains the text `<|fim_middle|>` stays plain text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from airgap_lsp.completion.healing import back_off
from airgap_lsp.completion.runtime import ControlTokens, apply_chat_template

log = logging.getLogger(__name__)

REPO_NAME = "workspace"


class Vocabulary(Protocol):
    """What prompt building needs from a model (runtime.Model satisfies it)."""

    @property
    def control(self) -> ControlTokens: ...

    @property
    def add_bos(self) -> bool: ...

    @property
    def bos(self) -> int | None: ...

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]: ...

    def detokenize(self, tokens: Sequence[int]) -> str: ...

    def piece(self, token: int) -> bytes: ...

    def chat_template(self) -> str | None:
        """The model's own chat template (None: llama.cpp's default)."""
        ...


@dataclass(frozen=True, slots=True)
class Budget:
    """Token budgets of the prompt's parts."""

    prefix: int = 1024
    suffix: int = 256
    extra: int = 512


@dataclass(frozen=True, slots=True)
class PromptInput:
    prefix: str
    suffix: str
    path: str = "untitled"
    extra_files: Sequence[tuple[str, str]] = ()
    language: str = ""
    # Text just before the cursor, placed after the middle marker: the model continues it.
    # What the user types goes here, so the prefix and suffix before it stay cached.
    middle: str = ""


@dataclass(frozen=True, slots=True)
class Prompt:
    tokens: list[int]
    kind: str  # "fim" or "chat"
    prefix_tokens: int
    suffix_tokens: int
    extra_tokens: int
    # Leading tokens that do not depend on the cursor (kept first for KV-cache reuse).
    stable_tokens: int = 0
    prefix_text: str = ""  # the part of the prefix the model actually sees
    suffix_text: str = ""
    middle_text: str = ""
    heal: str = ""  # the middle's last token, left out: the output spells it first
    notes: list[str] = field(default_factory=list)


def tail_tokens(vocab: Vocabulary, text: str, budget: int) -> tuple[list[int], str]:
    """At most `budget` tokens from the end of `text`, starting at a line boundary if cut."""
    if budget <= 0 or not text:
        return [], ""
    window = text[-budget * 8 :]
    if len(window) < len(text) and "\n" in window:
        window = window[window.index("\n") + 1 :]
    tokens = vocab.tokenize(window)
    if len(tokens) <= budget:
        return tokens, window
    kept = vocab.detokenize(tokens[-budget:])
    if "\n" in kept[:-1]:
        kept = kept[kept.index("\n") + 1 :]
    tokens = vocab.tokenize(kept)
    while len(tokens) > budget:  # re-tokenizing can merge differently; trim by lines
        kept = kept[kept.index("\n") + 1 :] if "\n" in kept else kept[len(kept) // 2 :]
        tokens = vocab.tokenize(kept)
    return tokens, kept


def head_tokens(vocab: Vocabulary, text: str, budget: int) -> tuple[list[int], str]:
    """At most `budget` tokens from the start of `text`, ending at a line boundary if cut."""
    if budget <= 0 or not text:
        return [], ""
    window = text[: budget * 8]
    if len(window) < len(text) and "\n" in window:
        window = window[: window.rindex("\n") + 1]
    tokens = vocab.tokenize(window)
    if len(tokens) <= budget:
        return tokens, window
    kept = vocab.detokenize(tokens[:budget])
    if "\n" in kept:
        kept = kept[: kept.rindex("\n") + 1]
    tokens = vocab.tokenize(kept)
    while len(tokens) > budget:
        kept = kept[: kept.rindex("\n", 0, len(kept) - 1) + 1] if "\n" in kept[:-1] else ""
        tokens = vocab.tokenize(kept)
    return tokens, kept


def fim_prompt(vocab: Vocabulary, request: PromptInput, budget: Budget) -> Prompt:
    """The repository-level FIM prompt:
    [bos] <|repo_name|>repo\\n (<|file_sep|>path\\ntext)* <|file_sep|>path\\n
    <|fim_prefix|>prefix<|fim_suffix|>suffix<|fim_middle|>middle
    """
    ctl = vocab.control
    if not ctl.has_fim:
        return chat_completion_prompt(vocab, request, budget)
    assert ctl.fim_prefix is not None and ctl.fim_suffix is not None
    assert ctl.fim_middle is not None
    tokens: list[int] = []
    if vocab.add_bos and vocab.bos is not None:
        tokens.append(vocab.bos)
    extra = _extra_tokens(vocab, request.extra_files, budget.extra)
    tokens += extra
    if ctl.file_sep is not None:
        tokens += [ctl.file_sep, *vocab.tokenize(request.path + "\n")]
    stable = len(tokens)
    prefix, prefix_text = tail_tokens(vocab, request.prefix, budget.prefix)
    suffix, suffix_text = head_tokens(vocab, request.suffix, budget.suffix)
    tokens += [ctl.fim_prefix, *prefix, ctl.fim_suffix, *suffix, ctl.fim_middle]
    middle, heal = back_off(vocab.tokenize(request.middle), vocab.piece, request.middle)
    tokens += middle
    return Prompt(
        tokens=tokens,
        kind="fim",
        prefix_tokens=len(prefix),
        suffix_tokens=len(suffix),
        extra_tokens=len(extra),
        stable_tokens=stable,
        prefix_text=prefix_text,
        suffix_text=suffix_text,
        middle_text=request.middle,
        heal=heal,
    )


def _extra_tokens(vocab: Vocabulary, files: Sequence[tuple[str, str]], budget: int) -> list[int]:
    ctl = vocab.control
    if not files or budget <= 0 or ctl.file_sep is None:
        return []
    out: list[int] = []
    if ctl.repo_name is not None:
        out += [ctl.repo_name, *vocab.tokenize(REPO_NAME + "\n")]
    for path, text in files:
        piece = [ctl.file_sep, *vocab.tokenize(f"{path}\n{text.rstrip()}\n")]
        if len(out) + len(piece) > budget:
            head, _ = head_tokens(vocab, text, budget - len(out) - 8)
            if not head:
                break
            piece = [ctl.file_sep, *vocab.tokenize(path + "\n"), *head]
            if len(out) + len(piece) > budget:
                break
        out += piece
    return out if len(out) <= budget else []


# A marker no source file contains; it stands for the user's text while the chat template is
# rendered, so that only the template's own text is parsed for special tokens.
_SENTINEL = "\u2063AIRGAP\u2063CONTENT\u2063"


def chat_tokens(
    vocab: Vocabulary, messages: Sequence[tuple[str, str]], template: str | None
) -> list[int]:
    """A chat prompt rendered with the model's template (llama.cpp's built-in detection), with the
    messages' text tokenized as plain text and only the template parsed for special tokens."""
    rendered = render_chat(
        [(role, _SENTINEL) for role, _ in messages], template, add_assistant=True
    )
    parts = rendered.split(_SENTINEL)
    if len(parts) != len(messages) + 1:
        raise ValueError("chat template did not place every message exactly once")
    tokens: list[int] = []
    if vocab.add_bos and vocab.bos is not None:
        tokens.append(vocab.bos)
    for i, (_, content) in enumerate(messages):
        tokens += vocab.tokenize(parts[i], special=True)
        tokens += vocab.tokenize(content)
    tokens += vocab.tokenize(parts[-1], special=True)
    return tokens


def render_chat(
    messages: Sequence[tuple[str, str]], template: str | None, add_assistant: bool = True
) -> str:
    """Render messages with llama.cpp's template engine; ChatML when the template is unknown."""
    rendered = apply_chat_template(messages, template, add_assistant)
    if rendered is None:
        log.info("unknown chat template; using ChatML")
        return _chatml(messages, add_assistant)
    return rendered


def _chatml(messages: Sequence[tuple[str, str]], add_assistant: bool) -> str:
    out = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages)
    return out + ("<|im_start|>assistant\n" if add_assistant else "")


CURSOR = "<CURSOR>"


def chat_completion_prompt(vocab: Vocabulary, request: PromptInput, budget: Budget) -> Prompt:
    """Completion through a chat template, for models without FIM tokens."""
    log.info("model has no FIM tokens: completing through its chat template instead")
    prefix, prefix_text = tail_tokens(vocab, request.prefix + request.middle, budget.prefix)
    suffix, suffix_text = head_tokens(vocab, request.suffix, budget.suffix)
    system = (
        "You complete code. Reply with only the code that belongs at "
        f"{CURSOR}, in one code block, nothing else."
    )
    user = f"File {request.path}:\n```{request.language}\n{prefix_text}{CURSOR}{suffix_text}\n```"
    template = vocab.chat_template()
    tokens = chat_tokens(vocab, [("system", system), ("user", user)], template)
    return Prompt(
        tokens=tokens,
        kind="chat",
        prefix_tokens=len(prefix),
        suffix_tokens=len(suffix),
        extra_tokens=0,
        prefix_text=prefix_text,
        suffix_text=suffix_text,
        notes=["chat-template prompt: the model has no FIM tokens"],
    )
