"""The prompt time budget sheds context, but never below the floor that keeps quality.

On a slow CPU the prompt time budget used to halve the windows down to a hundred tokens, and
single lines lost the names they needed (85 % against llama-server's 95 % on one machine). The
budget now sheds other files first, then halves the windows down to a floor, and the
suggestion says what was shed.
"""

from __future__ import annotations

from airgap_lsp.completion.completer import Completer, CompletionRequest
from airgap_lsp.completion.engine_process import DraftAlone
from airgap_lsp.completion.planner import MIN_PREFIX_TOKENS, MIN_SUFFIX_TOKENS
from airgap_lsp.completion.settings import CompletionSettings
from tests.unit.scripted import ScriptedEngine, suggest

LONG = "".join(f"def helper_{i}(value):\n    return value * {i} + {i}\n\n\n" for i in range(120))
DOC = LONG + "def main(current_string):\n    result = |\n    return result\n" + LONG


def test_a_slow_cpu_keeps_the_floor_of_context(vocab):
    # 100 ms a prompt token: a 4 s budget would fit 32 tokens.
    suggestion, engine = suggest(
        vocab, DOC, lambda p, s: "current_string", "python", "m.py", prompt_ms_per_token=100.0
    )
    assert suggestion is not None and suggestion.text == "current_string"
    prefix, suffix = engine.asked[-1]
    assert len(vocab.tokenize(prefix)) >= MIN_PREFIX_TOKENS * 0.75
    assert len(vocab.tokenize(suffix)) >= MIN_SUFFIX_TOKENS * 0.75
    assert "def main(current_string):" in prefix
    assert "other files" in suggestion.shed
    assert "before the cursor" in suggestion.shed


def test_nothing_is_shed_when_the_prompt_fits(vocab):
    suggestion, _ = suggest(
        vocab, DOC, lambda p, s: "current_string", "python", "m.py", prompt_ms_per_token=0.01
    )
    assert suggestion is not None and suggestion.shed == ""


def test_a_smaller_configured_window_is_not_grown_by_the_floor(vocab):
    settings = CompletionSettings(prefix_tokens=100, suffix_tokens=20)
    _, engine = suggest(
        vocab, DOC, lambda p, s: "x", "python", "m.py", settings, prompt_ms_per_token=100.0
    )
    prefix, suffix = engine.asked[-1]
    assert len(vocab.tokenize(prefix)) <= 100
    assert len(vocab.tokenize(suffix)) <= 20


def test_a_prompt_kept_at_its_floor_gets_the_time_it_needs(vocab):
    """The engine's prompt deadline is raised to what the floor needs: with the budget's
    4 s, the kept prompt would be aborted and the user would see nothing."""
    suggestion, engine = suggest(
        vocab, DOC, lambda p, s: "current_string", "python", "m.py", prompt_ms_per_token=100.0
    )
    assert suggestion is not None
    needed = len(engine.prompts[-1]) * 100.0
    deadline = engine.deadlines[-1]
    assert deadline is not None and deadline >= needed > 4000


BODY = "def mean(values):\n    |\n"


def test_a_slow_cpu_gets_the_time_a_whole_block_needs(vocab):
    """Generation had a fixed 8 s: at ~100 ms a step (an AVX2-only CPU) a function body was
    cut before its last line, where a faster CPU wrote it whole. The budget is now at least
    the time max_tokens steps take at the step time measured at load."""
    body = "total = sum(values)\n    return total / len(values)"
    suggestion, engine = suggest(vocab, BODY, lambda p, s: body, "python", "m.py", step_ms=100.0)
    assert suggestion is not None and suggestion.multiline
    budget = engine.predict_budgets[-1]
    assert budget is not None and budget >= 128 * 100.0 > 8000


def test_a_fast_cpu_and_a_remote_engine_keep_the_configured_budget(vocab):
    fast, engine = suggest(vocab, BODY, lambda p, s: "return 0", "python", "m.py", step_ms=20.0)
    assert fast is not None and engine.predict_budgets[-1] == 8000
    # A remote engine measures no step time.
    remote, engine = suggest(vocab, BODY, lambda p, s: "return 0", "python", "m.py")
    assert remote is not None and engine.predict_budgets[-1] == 8000
    # 0 turns the budget off, however slow the CPU.
    off = CompletionSettings(max_predict_ms=0)
    _, engine = suggest(vocab, BODY, lambda p, s: "return 0", "python", "m.py", off, step_ms=100.0)
    assert engine.predict_budgets[-1] is None


class _PairEngine(ScriptedEngine):
    """A supervised pair whose draft model may write single lines alone."""

    def __init__(self, vocab) -> None:  # type: ignore[no-untyped-def]
        super().__init__(vocab, lambda p, s: "current_string")
        self.draft = vocab
        self.alone: list[bool] = []

    def draft_alone(self) -> DraftAlone:
        return DraftAlone(self, self.target)  # type: ignore[arg-type]

    def generate(self, key, prompt, options, stop, cancelled, alone=False):  # type: ignore[no-untyped-def]
        self.alone.append(alone)
        return super().generate(key, prompt, options, stop, cancelled)


def test_the_draft_model_writing_single_lines_alone_gets_the_configured_budget(vocab):
    """The draft alone measures no step time of its own: the setting applies (it used to have
    no calibration attribute, and every single line it wrote failed)."""
    doc = "def main(current_string):\n    result = \n    return result\n"
    engine = _PairEngine(vocab)
    engine.calibration = {"verify_ms": {1: 100.0}}
    settings = CompletionSettings(single_line_model="draft")
    completer = Completer(engine, settings, None)  # type: ignore[arg-type]
    offset = doc.index("= ") + 2
    request = CompletionRequest("m.py", doc, offset, path="m.py", language="python")
    suggestion = completer.complete(request, lambda: False)
    assert engine.alone == [True]
    assert suggestion is not None and suggestion.text == "current_string"
    assert engine.predict_budgets == [8000]
