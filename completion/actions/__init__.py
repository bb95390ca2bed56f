"""Code actions' model-side logic: explain, document, fix, test and rewrite code.

Owns everything between a document (text, code-point offsets, path, languageId) and a result
the editor can show. Knows nothing of LSP. This package only re-exports the public names of
its modules:

- `data`: the action kinds, errors and records (`Plan`, `Run`, `Outcome`, `Edit`, `NewFile`);
- `text`: line endings, indentation units, re-indentation, whole-line spans;
- `extract`: strict extraction of the reply's code block and the closing-fence stop rule;
- `edits`: the minimal edit of a range and applying edits;
- `targets`: the parsed document and the function or class at a cursor (tree-sitter);
- `prompts`: context notes, chat message pieces and the token prompt (chat template);
- `docstrings`: the docstring action's plan (style and where the docstring goes);
- `plans`: the fix, rewrite, explain and tests plans;
- `run`: running a plan on the engine;
- `outcomes`: turning a reply into an `Outcome`;
- `naming`: where a tests file goes, Python module names and test frameworks.
"""

from __future__ import annotations

from airgap_lsp.completion.actions.data import (
    DOCSTRING,
    EXPLAIN,
    FIX,
    KINDS,
    REWRITE,
    TESTS,
    ActionCancelled,
    ActionError,
    Edit,
    NewFile,
    Outcome,
    Plan,
    Run,
)
from airgap_lsp.completion.actions.docstrings import plan_docstring
from airgap_lsp.completion.actions.edits import apply_edits, minimal_edit
from airgap_lsp.completion.actions.extract import extract_code_block, fence_stop
from airgap_lsp.completion.actions.naming import (
    framework_for,
    path_for_tests,
    python_framework,
    python_module,
    tests_location,
    unused_path,
)
from airgap_lsp.completion.actions.outcomes import finish, outcome_of
from airgap_lsp.completion.actions.plans import plan_explain, plan_fix, plan_rewrite, plan_tests
from airgap_lsp.completion.actions.prompts import (
    action_prompt,
    context_notes,
    language_tag,
    language_title,
    shown,
)
from airgap_lsp.completion.actions.run import run_plan
from airgap_lsp.completion.actions.targets import Parsed, Target, find_target, pick_definition
from airgap_lsp.completion.actions.text import (
    full_lines,
    indent_unit,
    newline_of,
    reindent,
    to_lf,
    with_newlines,
)

__all__ = [
    "DOCSTRING",
    "EXPLAIN",
    "FIX",
    "KINDS",
    "REWRITE",
    "TESTS",
    "ActionCancelled",
    "ActionError",
    "Edit",
    "NewFile",
    "Outcome",
    "Parsed",
    "Plan",
    "Run",
    "Target",
    "action_prompt",
    "apply_edits",
    "context_notes",
    "extract_code_block",
    "fence_stop",
    "find_target",
    "finish",
    "framework_for",
    "full_lines",
    "indent_unit",
    "language_tag",
    "language_title",
    "minimal_edit",
    "newline_of",
    "outcome_of",
    "path_for_tests",
    "pick_definition",
    "plan_docstring",
    "plan_explain",
    "plan_fix",
    "plan_rewrite",
    "plan_tests",
    "python_framework",
    "python_module",
    "reindent",
    "run_plan",
    "shown",
    "tests_location",
    "to_lf",
    "unused_path",
    "with_newlines",
]
