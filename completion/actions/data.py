"""The action kinds and the data passed between planning, running and finishing an action.

Owns the kind names, the user-facing `ActionError` and `ActionCancelled`, and the frozen
records: `Plan` (a prompt ready to run), `Run` (one model run), `Outcome` with its `Edit`s or
`NewFile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airgap_lsp.completion.worker import Cancelled
from airgap_lsp.context import Language

FIX, DOCSTRING, EXPLAIN, TESTS, REWRITE = "fix", "docstring", "explain", "tests", "rewrite"
KINDS = (FIX, DOCSTRING, EXPLAIN, TESTS, REWRITE)


class ActionError(Exception):
    """The action cannot produce a result; the message is meant for the user."""


class ActionCancelled(Cancelled):
    """The user cancelled the action while the model ran."""


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace text[start:end] with new_text (code points in the planned text)."""

    start: int
    end: int
    new_text: str


@dataclass(frozen=True, slots=True)
class NewFile:
    path: str
    text: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action produced: edits of the document, a new file or text to show."""

    edits: tuple[Edit, ...] = ()
    new_file: NewFile | None = None
    markdown: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """One action ready to run: the prompt and what is needed to turn the reply into a result."""

    kind: str
    text: str
    path: str
    language: Language | None
    messages: tuple[tuple[str, str], ...]
    prefill: str
    copy_source: str  # text the reply is expected to copy (n-gram drafting source)
    max_tokens: int
    expected_tokens: int
    start: int  # the range the result replaces (or inserts at, when start == end)
    end: int
    indent: str
    name: str = ""
    title: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def fenced(self) -> bool:
        return self.prefill.startswith("```")


@dataclass(frozen=True, slots=True)
class Run:
    """One model run of a plan."""

    reply: str
    stop_reason: str
    prompt_tokens: int
    generated: int
    prompt_ms: float
    predict_ms: float
    total_ms: float
    drafted: int
    accepted: int
