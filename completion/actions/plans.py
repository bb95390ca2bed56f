"""The plans of the fix, rewrite, explain and tests actions: which code each one covers, its
prompt and its token budget.
"""

from __future__ import annotations

from airgap_lsp.completion.actions.data import EXPLAIN, FIX, REWRITE, TESTS, ActionError, Plan
from airgap_lsp.completion.actions.prompts import (
    _approx_tokens,
    _block,
    _prefill,
    _system,
    context_notes,
    shown,
)
from airgap_lsp.completion.actions.targets import Parsed, find_target
from airgap_lsp.completion.actions.text import full_lines
from airgap_lsp.context.nodes import ancestors
from airgap_lsp.context.text import indentation, line_end, line_start

_MAX_REGION_LINES = 150
_FIX_WINDOW_LINES = 12


def _about_code(parsed: Parsed, start: int, end: int, ask: str) -> str:
    """The user message asking `ask` of text[start:end]: context notes, the code, the ask."""
    code = parsed.text[start:end]
    return (
        context_notes(parsed, start, end)
        + f"Code from `{parsed.path}`:\n{_block(parsed, code)}\n\n{ask}"
    )


def plan_fix(parsed: Parsed, start: int, end: int, message: str) -> Plan:
    """Fix the problem a diagnostic reports at text[start:end]."""
    text = parsed.text
    target = find_target(parsed, start, classes=False)
    if target is not None and text.count("\n", target.start, target.end) < _MAX_REGION_LINES:
        r_start, r_end, name = target.start, target.end, target.name
    else:
        r_start, r_end, name = _statement_region(parsed, start, end)
    code = text[r_start:r_end]
    line = text[line_start(text, start) : line_end(text, start)].strip()
    where = f"at line {text.count(chr(10), r_start, start) + 1} (`{line[:120]}`)"
    ask = (
        f"Problem {where}: {message.strip()}\n\n"
        "Rewrite the code above with the problem fixed. Change only what is needed and keep "
        "everything else exactly as it is. Reply with the complete corrected code in one code "
        "block."
    )
    user = _about_code(parsed, r_start, r_end, ask)
    n = _approx_tokens(code)
    return Plan(
        kind=FIX,
        text=text,
        path=parsed.path,
        language=parsed.language,
        messages=(("system", _system(parsed.language, "You fix bugs precisely.")), ("user", user)),
        prefill=_prefill(parsed),
        copy_source=shown(code),
        max_tokens=min(1024, n + n // 2 + 64),
        expected_tokens=n,
        start=r_start,
        end=r_end,
        indent=indentation(code),
        name=name,
        title="Fix with AI",
    )


def _statement_region(parsed: Parsed, start: int, end: int) -> tuple[int, int, str]:
    """Outside functions: the top-level statement around the problem, else a line window."""
    text, tree = parsed.text, parsed.tree
    if tree is not None:
        b = parsed.source.to_byte(start)
        node = tree.root_node.descendant_for_byte_range(b, b)
        for cur in ancestors(node) if node is not None else []:
            if cur.parent is not None and cur.parent.parent is None:
                s = parsed.source.to_char(cur.start_byte)
                e = parsed.source.to_char(cur.end_byte)
                if text.count("\n", s, e) < _MAX_REGION_LINES:
                    s, e = full_lines(text, s, max(e, end))
                    return s, e, ""
                break
    s, e = full_lines(text, start, end)
    for _ in range(_FIX_WINDOW_LINES // 2):
        s = line_start(text, max(0, s - 1))
        e = line_end(text, min(len(text), e + 1))
    s, e = full_lines(text, s, e)
    return s, e, ""


def plan_rewrite(parsed: Parsed, start: int, end: int, instruction: str) -> Plan:
    """Rewrite the selection text[start:end] following the user's instruction."""
    text = parsed.text
    if start >= end or not text[start:end].strip():
        raise ActionError("select the code to rewrite first")
    if not instruction.strip():
        raise ActionError("no instruction given for the rewrite")
    s, e = full_lines(text, start, end)
    partial = "\n" not in text[start:end].rstrip("\n") and text[s:start].strip() != ""
    if not partial:
        start, end = s, e
    code = text[start:end]
    ask = (
        f"Instruction: {instruction.strip()}\n\nRewrite the code above following the "
        "instruction. Reply with only the rewritten code in one code block."
    )
    user = _about_code(parsed, start, end, ask)
    n = _approx_tokens(code)
    return Plan(
        kind=REWRITE,
        text=text,
        path=parsed.path,
        language=parsed.language,
        messages=(
            ("system", _system(parsed.language, "You rewrite code as instructed.")),
            ("user", user),
        ),
        prefill=_prefill(parsed),
        copy_source=shown(code),
        max_tokens=min(1024, 2 * n + 96),
        expected_tokens=n,
        start=start,
        end=end,
        indent=indentation(text[line_start(text, start) :]) if not partial else "",
        title="Rewrite selection",
        extra={"partial": "1" if partial else "", "instruction": instruction.strip()},
    )


def plan_explain(parsed: Parsed, start: int, end: int) -> Plan:
    """Explain the selection (or the function at the cursor when nothing is selected)."""
    text = parsed.text
    if start >= end or not text[start:end].strip():
        target = find_target(parsed, start)
        if target is None:
            raise ActionError("select the code to explain first")
        start, end = target.start, target.end
    else:
        start, end = full_lines(text, start, end)
    code = text[start:end]
    user = _about_code(
        parsed,
        start,
        end,
        "Explain what this code does and how, concisely, in Markdown: a one-sentence summary, "
        "then the key points as a short list. Mention any bug you notice. Do not rewrite the "
        "code.",
    )
    return Plan(
        kind=EXPLAIN,
        text=text,
        path=parsed.path,
        language=parsed.language,
        messages=(
            ("system", _system(parsed.language, "You explain code clearly and briefly.")),
            ("user", user),
        ),
        prefill="",
        copy_source=shown(code),
        max_tokens=320,
        expected_tokens=200,
        start=start,
        end=end,
        indent="",
        title="Explain this code",
    )


def plan_tests(parsed: Parsed, offset: int, test_path: str, module: str, framework: str) -> Plan:
    """Unit tests for the function at `offset`, to go into `test_path`."""
    target = find_target(parsed, offset)
    if target is None:
        raise ActionError("no function at the cursor")
    code = parsed.text[target.start : target.end]
    py = parsed.language is not None and parsed.language.name == "python"
    first = f" Start with `from {module} import {target.name}`." if py else ""
    user = (
        context_notes(parsed, target.start, target.end)
        + f"Code from `{parsed.path}` (module `{module}`):\n{_block(parsed, code)}\n\n"
        f"Write {framework} unit tests for `{target.name}`.{first} Write 3 to 5 short test "
        "functions covering typical and edge cases; assert exact expected values you are sure "
        "of. Reply with only the test file's code in one code block."
    )
    return Plan(
        kind=TESTS,
        text=parsed.text,
        path=parsed.path,
        language=parsed.language,
        messages=(
            ("system", _system(parsed.language, "You write focused unit tests.")),
            ("user", user),
        ),
        prefill=_prefill(parsed),
        copy_source=shown(code),
        max_tokens=420,
        expected_tokens=250,
        start=target.start,
        end=target.end,
        indent="",
        name=target.name,
        title=f"Generate unit tests for `{target.name}`",
        extra={"test_path": test_path, "module": module, "framework": framework},
    )
