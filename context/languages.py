"""Language table: LSP languageIds and file extensions mapped to tree-sitter grammars and queries.

Owns which grammar wheel serves which language, the node types that make up scopes, imports,
function bodies and identifiers, and the definition query per language. Grammars, parsers and
queries are created lazily on first use so that importing `context` stays cheap and an editor
that only ever opens Go files never loads the C++ grammar.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from functools import cache

import tree_sitter as ts


@dataclass(frozen=True, slots=True)
class Language:
    """Static description of one supported language; compare and hash by `name`."""

    name: str
    module: str
    factory: str
    language_ids: tuple[str, ...]
    extensions: tuple[str, ...]
    scope_types: frozenset[str]
    function_types: frozenset[str]
    import_types: frozenset[str]
    identifier_types: tuple[str, ...]
    comment_types: frozenset[str]
    # Definition query: each pattern captures the definition as @def and its name as @name.
    definition_query: str
    # Node types that wrap a captured @def and belong to its rendering (decorators, `export`).
    def_wrappers: frozenset[str]
    # Node types of definitions that contain other definitions (their header prefixes members).
    container_types: frozenset[str]
    line_comment: str
    indent_blocks: bool = False
    # One indentation level where a file shows none yet (gofmt indents with tabs).
    indent: str = "    "


_PY_DEFS = """
(function_definition name: (identifier) @name) @def
(class_definition name: (identifier) @name) @def
(module (expression_statement (assignment left: (identifier) @name)) @def)
"""

_JS_DEFS = """
(function_declaration name: (_) @name) @def
(generator_function_declaration name: (_) @name) @def
(class_declaration name: (_) @name) @def
(method_definition name: (_) @name) @def
(program (lexical_declaration (variable_declarator name: (identifier) @name)) @def)
(program (variable_declaration (variable_declarator name: (identifier) @name)) @def)
(export_statement (lexical_declaration (variable_declarator name: (identifier) @name)) @def)
"""

_TS_DEFS = (
    _JS_DEFS
    + """
(abstract_class_declaration name: (_) @name) @def
(interface_declaration name: (_) @name) @def
(type_alias_declaration name: (_) @name) @def
(enum_declaration name: (_) @name) @def
(function_signature name: (_) @name) @def
(public_field_definition name: (_) @name) @def
"""
)

_GO_DEFS = """
(function_declaration name: (identifier) @name) @def
(method_declaration name: (field_identifier) @name) @def
(type_spec name: (type_identifier) @name) @def
(const_spec name: (identifier) @name) @def
(source_file (var_declaration (var_spec name: (identifier) @name) @def))
"""

_RUST_DEFS = """
(function_item name: (identifier) @name) @def
(function_signature_item name: (identifier) @name) @def
(struct_item name: (type_identifier) @name) @def
(enum_item name: (type_identifier) @name) @def
(union_item name: (type_identifier) @name) @def
(trait_item name: (type_identifier) @name) @def
(type_item name: (type_identifier) @name) @def
(const_item name: (identifier) @name) @def
(static_item name: (identifier) @name) @def
(macro_definition name: (identifier) @name) @def
"""

_JAVA_DEFS = """
(class_declaration name: (identifier) @name) @def
(interface_declaration name: (identifier) @name) @def
(enum_declaration name: (identifier) @name) @def
(record_declaration name: (identifier) @name) @def
(annotation_type_declaration name: (identifier) @name) @def
(method_declaration name: (identifier) @name) @def
(constructor_declaration name: (identifier) @name) @def
(field_declaration declarator: (variable_declarator name: (identifier) @name)) @def
(constant_declaration declarator: (variable_declarator name: (identifier) @name)) @def
"""

_C_DEFS = """
(function_definition declarator: (function_declarator declarator: (identifier) @name)) @def
(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator declarator: (identifier) @name))) @def
(translation_unit
  (declaration declarator: (function_declarator declarator: (identifier) @name)) @def)
(translation_unit (declaration
  declarator: (pointer_declarator
    declarator: (function_declarator declarator: (identifier) @name))) @def)
(struct_specifier name: (type_identifier) @name body: (_)) @def
(union_specifier name: (type_identifier) @name body: (_)) @def
(enum_specifier name: (type_identifier) @name body: (_)) @def
(type_definition declarator: (type_identifier) @name) @def
(preproc_def name: (identifier) @name) @def
(preproc_function_def name: (identifier) @name) @def
"""

_CPP_DEFS = """
(function_definition declarator: (function_declarator declarator: (_) @name)) @def
(function_definition
  declarator: (reference_declarator (function_declarator declarator: (_) @name))) @def
(function_definition
  declarator: (pointer_declarator declarator: (function_declarator declarator: (_) @name))) @def
(field_declaration declarator: (function_declarator declarator: (_) @name)) @def
(field_declaration declarator: (field_identifier) @name) @def
(declaration declarator: (function_declarator declarator: (_) @name)) @def
(class_specifier name: (_) @name body: (_)) @def
(struct_specifier name: (_) @name body: (_)) @def
(union_specifier name: (_) @name body: (_)) @def
(enum_specifier name: (_) @name body: (_)) @def
(type_definition declarator: (type_identifier) @name) @def
(alias_declaration name: (type_identifier) @name) @def
(preproc_def name: (identifier) @name) @def
(preproc_function_def name: (identifier) @name) @def
"""

_C_LIKE_IDS = ("identifier", "type_identifier", "field_identifier")

PYTHON = Language(
    name="python",
    module="tree_sitter_python",
    factory="language",
    language_ids=("python",),
    extensions=(".py", ".pyi", ".pyw"),
    scope_types=frozenset(
        {
            "class_definition",
            "function_definition",
            "if_statement",
            "elif_clause",
            "else_clause",
            "for_statement",
            "while_statement",
            "with_statement",
            "try_statement",
            "except_clause",
            "finally_clause",
            "match_statement",
            "case_clause",
        }
    ),
    function_types=frozenset({"function_definition"}),
    import_types=frozenset(
        {"import_statement", "import_from_statement", "future_import_statement"}
    ),
    identifier_types=("identifier",),
    comment_types=frozenset({"comment"}),
    definition_query=_PY_DEFS,
    def_wrappers=frozenset({"decorated_definition"}),
    container_types=frozenset({"class_definition"}),
    line_comment="#",
    indent_blocks=True,
)

_JS_SCOPES = frozenset(
    {
        "class_declaration",
        "class",
        "function_declaration",
        "generator_function_declaration",
        "function_expression",
        "arrow_function",
        "method_definition",
        "if_statement",
        "else_clause",
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
        "try_statement",
        "catch_clause",
        "switch_statement",
    }
)
_JS_FUNCTIONS = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "function_expression",
        "arrow_function",
        "method_definition",
    }
)

JAVASCRIPT = Language(
    name="javascript",
    module="tree_sitter_javascript",
    factory="language",
    language_ids=("javascript", "javascriptreact"),
    extensions=(".js", ".jsx", ".mjs", ".cjs"),
    scope_types=_JS_SCOPES,
    function_types=_JS_FUNCTIONS,
    import_types=frozenset({"import_statement"}),
    identifier_types=("identifier", "property_identifier", "shorthand_property_identifier"),
    comment_types=frozenset({"comment"}),
    definition_query=_JS_DEFS,
    def_wrappers=frozenset({"export_statement"}),
    container_types=frozenset({"class_declaration"}),
    line_comment="//",
)


def _typescript(
    name: str, factory: str, language_ids: tuple[str, ...], exts: tuple[str, ...]
) -> Language:
    return Language(
        name=name,
        module="tree_sitter_typescript",
        factory=factory,
        language_ids=language_ids,
        extensions=exts,
        scope_types=_JS_SCOPES
        | {"abstract_class_declaration", "interface_declaration", "enum_declaration"},
        function_types=_JS_FUNCTIONS,
        import_types=frozenset({"import_statement"}),
        identifier_types=(
            "identifier",
            "property_identifier",
            "shorthand_property_identifier",
            "type_identifier",
        ),
        comment_types=frozenset({"comment"}),
        definition_query=_TS_DEFS,
        def_wrappers=frozenset({"export_statement"}),
        container_types=frozenset(
            {"class_declaration", "abstract_class_declaration", "interface_declaration"}
        ),
        line_comment="//",
    )


TYPESCRIPT = _typescript(
    "typescript", "language_typescript", ("typescript",), (".ts", ".mts", ".cts")
)
TSX = _typescript("tsx", "language_tsx", ("typescriptreact",), (".tsx",))

GO = Language(
    name="go",
    module="tree_sitter_go",
    factory="language",
    language_ids=("go",),
    extensions=(".go",),
    scope_types=frozenset(
        {
            "function_declaration",
            "method_declaration",
            "func_literal",
            "if_statement",
            "for_statement",
            "expression_switch_statement",
            "type_switch_statement",
            "select_statement",
            "expression_case",
            "type_case",
            "communication_case",
            "default_case",
        }
    ),
    function_types=frozenset({"function_declaration", "method_declaration", "func_literal"}),
    import_types=frozenset({"import_declaration", "package_clause"}),
    identifier_types=("identifier", "type_identifier", "field_identifier", "package_identifier"),
    comment_types=frozenset({"comment"}),
    definition_query=_GO_DEFS,
    def_wrappers=frozenset({"type_declaration", "const_declaration", "var_declaration"}),
    container_types=frozenset(),
    line_comment="//",
    indent="\t",
)

RUST = Language(
    name="rust",
    module="tree_sitter_rust",
    factory="language",
    language_ids=("rust",),
    extensions=(".rs",),
    scope_types=frozenset(
        {
            "mod_item",
            "impl_item",
            "trait_item",
            "function_item",
            "closure_expression",
            "if_expression",
            "else_clause",
            "for_expression",
            "while_expression",
            "loop_expression",
            "match_expression",
            "match_arm",
        }
    ),
    function_types=frozenset({"function_item", "closure_expression"}),
    import_types=frozenset({"use_declaration", "extern_crate_declaration"}),
    identifier_types=("identifier", "type_identifier", "field_identifier"),
    comment_types=frozenset({"line_comment", "block_comment"}),
    definition_query=_RUST_DEFS,
    def_wrappers=frozenset(),
    container_types=frozenset({"impl_item", "trait_item", "mod_item"}),
    line_comment="//",
)

JAVA = Language(
    name="java",
    module="tree_sitter_java",
    factory="language",
    language_ids=("java",),
    extensions=(".java",),
    scope_types=frozenset(
        {
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "method_declaration",
            "constructor_declaration",
            "lambda_expression",
            "if_statement",
            "for_statement",
            "enhanced_for_statement",
            "while_statement",
            "do_statement",
            "try_statement",
            "catch_clause",
            "switch_expression",
        }
    ),
    function_types=frozenset(
        {"method_declaration", "constructor_declaration", "lambda_expression"}
    ),
    import_types=frozenset({"import_declaration", "package_declaration"}),
    identifier_types=("identifier", "type_identifier"),
    comment_types=frozenset({"line_comment", "block_comment"}),
    definition_query=_JAVA_DEFS,
    def_wrappers=frozenset(),
    container_types=frozenset(
        {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"}
    ),
    line_comment="//",
)

_C_SCOPES = frozenset(
    {
        "function_definition",
        "if_statement",
        "else_clause",
        "for_statement",
        "while_statement",
        "do_statement",
        "switch_statement",
        "case_statement",
    }
)

C = Language(
    name="c",
    module="tree_sitter_c",
    factory="language",
    language_ids=("c",),
    extensions=(".c", ".h"),
    scope_types=_C_SCOPES | {"struct_specifier", "union_specifier", "enum_specifier"},
    function_types=frozenset({"function_definition"}),
    import_types=frozenset({"preproc_include"}),
    identifier_types=_C_LIKE_IDS,
    comment_types=frozenset({"comment"}),
    definition_query=_C_DEFS,
    def_wrappers=frozenset(),
    container_types=frozenset({"struct_specifier"}),
    line_comment="//",
)

CPP = Language(
    name="cpp",
    module="tree_sitter_cpp",
    factory="language",
    language_ids=("cpp", "c++"),
    extensions=(".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp"),
    scope_types=_C_SCOPES
    | {
        "class_specifier",
        "struct_specifier",
        "namespace_definition",
        "lambda_expression",
        "try_statement",
        "catch_clause",
        "for_range_loop",
    },
    function_types=frozenset({"function_definition", "lambda_expression"}),
    import_types=frozenset({"preproc_include", "using_declaration"}),
    identifier_types=(*_C_LIKE_IDS, "namespace_identifier"),
    comment_types=frozenset({"comment"}),
    definition_query=_CPP_DEFS,
    def_wrappers=frozenset({"template_declaration"}),
    container_types=frozenset({"class_specifier", "struct_specifier"}),
    line_comment="//",
)

LANGUAGES: tuple[Language, ...] = (PYTHON, JAVASCRIPT, TYPESCRIPT, TSX, GO, RUST, JAVA, C, CPP)

_BY_ID = {lid: lang for lang in LANGUAGES for lid in lang.language_ids}
_BY_EXT = {ext: lang for lang in LANGUAGES for ext in lang.extensions}


def language_for(language_id: str | None = None, path: str | None = None) -> Language | None:
    """Language for an LSP languageId, else for the path's extension; None means plain text."""
    if language_id:
        lang = _BY_ID.get(language_id.lower())
        if lang is not None:
            return lang
    if path:
        return _BY_EXT.get(os.path.splitext(path)[1].lower())
    return None


@cache
def grammar(lang: Language) -> ts.Language:
    """The tree-sitter grammar, importing its wheel on first use."""
    module = importlib.import_module(lang.module)
    return ts.Language(getattr(module, lang.factory)())


@cache
def query(lang: Language, source: str) -> ts.Query:
    """A compiled query for `lang`; compiled once per (language, source)."""
    return ts.Query(grammar(lang), source)


@cache
def identifier_query(lang: Language) -> ts.Query:
    """Query capturing every identifier-like leaf as @id."""
    alternatives = " ".join(f"({t})" for t in lang.identifier_types)
    return query(lang, f"[{alternatives}] @id")


_local = threading.local()


def parser_for(lang: Language) -> ts.Parser:
    """A parser for `lang`, one per thread because parsers are not thread-safe."""
    parsers: dict[str, ts.Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = {}
        _local.parsers = parsers
    parser = parsers.get(lang.name)
    if parser is None:
        parser = ts.Parser(grammar(lang))
        parsers[lang.name] = parser
    return parser
