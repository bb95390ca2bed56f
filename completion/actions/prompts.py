"""Prompt construction: the context notes (imports, enclosing scopes, definitions the code
uses), the pieces of the chat messages (system line, code block, prefill) and the token prompt
with the model's chat template.
"""

from __future__ import annotations

import textwrap

import tree_sitter as ts

from airgap_lsp.completion.actions.data import Plan
from airgap_lsp.completion.actions.targets import Parsed
from airgap_lsp.completion.actions.text import to_lf
from airgap_lsp.completion.prompt import Vocabulary, chat_tokens
from airgap_lsp.context import Language
from airgap_lsp.context.definitions import extract_definitions
from airgap_lsp.context.imports import find_imports
from airgap_lsp.context.languages import identifier_query
from airgap_lsp.context.scopes import enclosing_scopes
from airgap_lsp.context.text import indent_width, indentation, line_start

_TAGS = {"cpp": "cpp", "tsx": "tsx", "typescript": "typescript", "javascript": "javascript"}


_CONTEXT_CHARS = 1500


def language_tag(language: Language | None) -> str:
    return "" if language is None else _TAGS.get(language.name, language.name)


def language_title(language: Language | None) -> str:
    names = {"cpp": "C++", "tsx": "TypeScript (TSX)", "javascript": "JavaScript"}
    if language is None:
        return "code"
    return names.get(language.name, language.name.capitalize())


def context_notes(parsed: Parsed, start: int, end: int, limit: int = _CONTEXT_CHARS) -> str:
    """Imports, enclosing scope headers and the file's definitions of names used in
    text[start:end], as one short code block (empty when there is nothing to add)."""
    lang, tree = parsed.language, parsed.tree
    if lang is None or tree is None:
        return ""
    source = parsed.source
    pieces: list[str] = [imp.text for imp in find_imports(source, tree, lang) if imp.end <= start]
    own = indent_width(parsed.text[line_start(parsed.text, start) :])
    scopes = [
        s.header
        for s in enclosing_scopes(source, tree, start + len(indentation(parsed.text[start:])), lang)
        if s.start < start and indent_width(s.header) < own
    ]
    qc = ts.QueryCursor(identifier_query(lang))
    qc.set_byte_range(source.to_byte(start), source.to_byte(end))
    names = {
        source.slice_bytes(n.start_byte, n.end_byte)
        for n in qc.captures(tree.root_node).get("id", [])
    }
    first, last = source.line_of(start), source.line_of(end)
    defs = [
        d.text
        for d in extract_definitions(source, tree, lang, parsed.path, names=names, max_lines=12)
        if d.end_line < first or d.start_line > last
    ]
    out: list[str] = []
    used = 0
    for piece in [*pieces, *defs, *scopes]:
        if used + len(piece) > limit:
            continue
        out.append(piece)
        used += len(piece) + 1
    if not out:
        return ""
    tag = language_tag(lang)
    head = f"Context from `{parsed.path}` (for reference only, do not repeat it):"
    return f"{head}\n```{tag}\n" + "\n".join(out) + "\n```\n\n"


def _system(language: Language | None, task: str) -> str:
    return f"You are an expert {language_title(language)} programmer. {task}"


def _block(parsed: Parsed, code: str) -> str:
    return f"```{language_tag(parsed.language)}\n{shown(code)}\n```"


def shown(code: str) -> str:
    """Code as the prompt shows it (and as the reply is expected to copy it): LF, dedented."""
    return textwrap.dedent(to_lf(code)).strip("\n")


def _prefill(parsed: Parsed) -> str:
    return f"```{language_tag(parsed.language)}\n"


def _approx_tokens(code: str) -> int:
    return max(16, len(code) // 3)


def action_prompt(vocab: Vocabulary, plan: Plan) -> list[int]:
    """The plan's chat prompt with the model's template, thinking switched off, prefill last."""
    template = vocab.chat_template()
    tokens = chat_tokens(vocab, plan.messages, template)
    if template and ("enable_thinking" in template or "<think>" in template):
        tokens += vocab.tokenize("<think>\n\n</think>\n\n", special=True)
    if plan.prefill:
        tokens += vocab.tokenize(plan.prefill)
    return tokens
