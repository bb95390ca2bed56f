"""Code context for inline completion: syntax trees, context pieces, budgeted assembly, shaping.

Takes text and code-point offsets, returns frozen dataclasses; never imports the LSP or model
libraries. Token counting is injected as `count_tokens: Callable[[str], int]`.

Public API::

    language_for(language_id: str | None = None, path: str | None = None) -> Language | None
        LSP languageId (python, javascript, javascriptreact, typescript, typescriptreact, go,
        rust, java, c, cpp) or file extension -> Language; None means plain text.

    SyntaxCache()                      per-URI trees kept up to date incrementally
        .open(uri, text, language: Language | None) -> None
        .change(uri, edits: Iterable[TextEdit] = (), *, text: str | None = None) -> str
        .close(uri) -> None
        .text(uri) -> str | None
        .tree(uri) -> tree_sitter.Tree | None
        .document(uri) -> ParsedDocument | None
    TextEdit(start: int, end: int, new_text: str)   code points in the text before the edit

    ChunkRing(max_chunks=16, chunk_lines=32, similarity=0.9)
        .add(path, text, start_line=0, kind="edit" | "view") -> bool
        .add_around(path, document, line, kind="edit") -> bool
        .chunks() -> tuple[Chunk, ...]            oldest first
        .remove_path(path), .clear()

    WorkspaceIndex(*, max_file_bytes=512 KiB, max_files=20_000)
        .add_root(path), .remove_root(path)
        .refresh() -> int                          re-parses changed files only
        .refresh_in_background() -> threading.Thread
        .update_file(path), .remove_file(path)
        .lookup(name) -> tuple[Definition, ...]
        .lookup_prefix(prefix, limit=10) -> tuple[Definition, ...]
        .members_of(type_name) -> tuple[Definition, ...]   Go methods/constructors, impl fns…
        .module_files(name) -> list[str]                   files a qualifier `name.` may mean
        .files_in_dir(directory) -> list[str], .definitions_in(path), .files()
    Definition(name, kind, path, start_line, end_line, text, top_level, owner)
        `text` is the rendered signature: container header, doc comment, header, docstring.

    collect_context(ContextRequest(text, offset, path, count_tokens, budget=2048,
                                   language_id=None, tree=None, open_documents=(),
                                   ring=None, index=None, workspace_root=None,
                                   extra_fraction=0.4, suffix_fraction=0.25,
                                   file_overhead_tokens=1)) -> CodeContext
        CodeContext(prefix, suffix, files: tuple[ContextFile(path, text), ...], report,
                    window_start, window_end)
        OpenDocument(path, text, language_id=None, tree=None)

    decide_shape(text, offset, language=None, tree=None, *, max_lines=24, block=None) -> Shape
        the one decider of a suggestion's shape; Shape.mode is its CompletionMode
    stop_index(text, shape, line_prefix) -> int | None     the streaming stop rule
    settle_infill(text, shape) -> str     the whole middle, its undecided cut made
    unstrand(text, shape) -> str     the suggestion, without a jump that strands the code below
    only_code_below(text, shape) -> bool     a middle that is only the code below again
    completion_mode(text, offset, language, tree=None) -> CompletionMode
    shape_completion(text, offset, completion, language, *, mode=None, tree=None) -> str
        and its steps: trim_to_block, dedupe_suffix, heal_word_end, trim_parse_errors.
        `language` may be a Language, a languageId string or None.
"""

from airgap_lsp.context.assemble import (
    CodeContext,
    ContextFile,
    ContextReport,
    ContextRequest,
    IncludedPiece,
    OpenDocument,
    collect_context,
)
from airgap_lsp.context.definitions import Definition
from airgap_lsp.context.languages import LANGUAGES, Language, language_for
from airgap_lsp.context.ring import Chunk, ChunkRing
from airgap_lsp.context.shaping import (
    CompletionMode,
    Shape,
    as_if_enter,
    completion_mode,
    decide_shape,
    dedupe_suffix,
    heal_word_end,
    only_code_below,
    settle_infill,
    shape_completion,
    stop_index,
    trim_parse_errors,
    trim_to_block,
    unstrand,
)
from airgap_lsp.context.syntax import ParsedDocument, SyntaxCache, TextEdit
from airgap_lsp.context.workspace import WorkspaceIndex

__all__ = [
    "LANGUAGES",
    "Chunk",
    "ChunkRing",
    "CodeContext",
    "CompletionMode",
    "ContextFile",
    "ContextReport",
    "ContextRequest",
    "Definition",
    "IncludedPiece",
    "Language",
    "OpenDocument",
    "ParsedDocument",
    "Shape",
    "SyntaxCache",
    "TextEdit",
    "WorkspaceIndex",
    "as_if_enter",
    "collect_context",
    "completion_mode",
    "decide_shape",
    "dedupe_suffix",
    "heal_word_end",
    "language_for",
    "only_code_below",
    "settle_infill",
    "shape_completion",
    "stop_index",
    "trim_parse_errors",
    "trim_to_block",
    "unstrand",
]
