"""Turning a model's reply into an `Outcome`: explanation Markdown, the replacing edit of a
fix or rewrite, the docstring edit or the new test file; `ActionError` when it is unusable.
"""

from __future__ import annotations

import ast
import re

from airgap_lsp.completion.actions.data import (
    DOCSTRING,
    EXPLAIN,
    FIX,
    REWRITE,
    TESTS,
    ActionError,
    Edit,
    NewFile,
    Outcome,
    Plan,
    Run,
)
from airgap_lsp.completion.actions.edits import apply_edits, minimal_edit
from airgap_lsp.completion.actions.extract import extract_code_block
from airgap_lsp.completion.actions.prompts import language_tag
from airgap_lsp.completion.actions.targets import _errors, pick_definition
from airgap_lsp.completion.actions.text import (
    indent_unit,
    newline_of,
    reindent,
    to_lf,
    with_newlines,
)
from airgap_lsp.context.text import indentation, line_start


def outcome_of(plan: Plan, run: Run) -> Outcome:
    """The result of a model run; ActionError when it is unusable."""
    if run.stop_reason in ("budget", "prompt_budget"):
        raise ActionError("the model took too long; nothing was changed")
    if run.stop_reason == "context_full":
        raise ActionError(
            f"the request ({run.prompt_tokens:,} tokens) does not fit the model's context "
            "(models.contextSize); select less code; nothing was changed"
        )
    return finish(plan, run.reply)


def finish(plan: Plan, reply: str) -> Outcome:
    """The result of a plan from the model's full reply; ActionError when it is unusable."""
    if plan.kind == EXPLAIN:
        return _finish_explain(plan, reply)
    code = extract_code_block(reply)
    if plan.kind == DOCSTRING:
        return _finish_docstring(plan, code)
    if plan.kind == TESTS:
        return _finish_tests(plan, code)
    return _finish_replace(plan, code)


def _finish_explain(plan: Plan, reply: str) -> Outcome:
    explanation = reply.strip()
    if not explanation:
        raise ActionError("the model returned no explanation")
    first = plan.text.count("\n", 0, plan.start) + 1
    last = first + plan.text.count("\n", plan.start, plan.end)
    code = _block_of(plan, plan.text[plan.start : plan.end])
    md = f"# Explanation of `{plan.path}` lines {first}–{last}\n\n{code}\n\n{explanation}\n"
    return Outcome(markdown=md)


def _block_of(plan: Plan, code: str) -> str:
    return f"```{language_tag(plan.language)}\n{to_lf(code).rstrip()}\n```"


def _finish_replace(plan: Plan, code: str) -> Outcome:
    text, nl = plan.text, newline_of(plan.text)
    unit = indent_unit(text)
    if plan.kind == REWRITE and plan.extra.get("partial"):
        new = reindent(code, "", unit)
        lead = indentation(text[line_start(text, plan.start) :])
        new = new.replace("\n", "\n" + lead)
    else:
        if plan.kind == FIX and plan.name:
            code = pick_definition(code, plan.name, plan.language)
        new = reindent(code, plan.indent, unit)
    if plan.kind == FIX and plan.name and plan.name not in "\n".join(new.split("\n")[:4]):
        raise ActionError(
            f"the model's reply does not contain the whole of `{plan.name}`; nothing changed"
        )
    new = with_newlines(new, nl)
    edit = minimal_edit(text, plan.start, plan.end, new)
    if edit is None:
        raise ActionError("the model proposed no change")
    patched = apply_edits(text, [edit])
    if _errors(patched, plan.language) > _errors(text, plan.language):
        raise ActionError("the model's code does not parse; nothing was changed")
    return Outcome(edits=(edit,))


def _finish_docstring(plan: Plan, code: str) -> Outcome:
    text, nl = plan.text, newline_of(plan.text)
    unit = indent_unit(text)
    style = plan.extra.get("style", "")
    doc = _python_docstring(code, plan.name) if style == "docstring" else _doc_comment(code)
    block = reindent(doc, plan.indent, unit)
    if plan.extra.get("inline"):
        new = "\n" + block + "\n" + plan.indent
    else:
        new = block + "\n"
        if plan.start == len(text) and not text.endswith("\n"):
            new = "\n" + new
    new = with_newlines(new, nl)
    if plan.start < plan.end:  # replacing a docstring: its last line keeps its line break
        new = new[: -len(nl)] if new.endswith(nl) else new
    edit = Edit(plan.start, plan.end, new)
    if _errors(apply_edits(text, [edit]), plan.language) > _errors(text, plan.language):
        raise ActionError("the model's docstring does not parse; nothing was changed")
    return Outcome(edits=(edit,))


def _python_docstring(code: str, name: str) -> str:
    """The docstring literal (with its lines' relative indentation) from a reply that holds a
    string, or the whole documented function/class."""
    src = reindent(code, "")
    try:
        module = ast.parse(src)
    except SyntaxError:
        raise ActionError("the model's docstring is not valid Python; nothing changed") from None
    node: ast.stmt | None = None
    body = module.body
    if body and isinstance(body[0], ast.Expr) and _is_str(body[0].value):
        node = body[0]
    else:
        defs = [
            d
            for d in ast.walk(module)
            if isinstance(d, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        defs.sort(key=lambda d: d.name != name)
        for d in defs:
            if d.body and isinstance(d.body[0], ast.Expr) and _is_str(d.body[0].value):
                node = d.body[0]
                break
    if node is None or node.end_lineno is None:
        raise ActionError("the model did not return a docstring; nothing was changed")
    lines = src.split("\n")[node.lineno - 1 : node.end_lineno]
    return "\n".join(lines)


def _is_str(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


_COMMENT_LINE = re.compile(r"^\s*(/\*|\*|//)")


def _doc_comment(code: str) -> str:
    """The leading comment lines of a reply (a bare comment, or one above a definition)."""
    lines = to_lf(code).strip("\n").split("\n")
    out: list[str] = []
    in_block = False
    for line in lines:
        stripped = line.strip()
        if in_block:
            out.append(line)
            in_block = "*/" not in stripped
            continue
        if not stripped and not out:
            continue
        if not _COMMENT_LINE.match(line):
            break
        out.append(line)
        in_block = stripped.startswith("/*") and "*/" not in stripped
    if not out or in_block:
        raise ActionError("the model did not return a doc comment; nothing was changed")
    return "\n".join(out)


def _finish_tests(plan: Plan, code: str) -> Outcome:
    body = reindent(code, "")
    name, module = plan.name, plan.extra.get("module", "")
    if plan.language is not None and plan.language.name == "python":
        try:
            tree = ast.parse(body)
        except SyntaxError:
            raise ActionError("the model's tests are not valid Python; nothing changed") from None
        tests = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test")
        ]
        if not tests:
            raise ActionError("the model's reply contains no test function; nothing changed")
        imported = any(
            isinstance(n, ast.ImportFrom | ast.Import)
            and any((a.asname or a.name) == name or a.name == "*" for a in n.names)
            for n in ast.walk(tree)
        )
        if module and not imported:
            body = f"from {module} import {name}\n\n\n" + body
    text = with_newlines(body.rstrip("\n") + "\n", newline_of(plan.text))
    return Outcome(new_file=NewFile(plan.extra.get("test_path", ""), text))
