"""airgap-lsp: an offline coding assistant in a language server.

The distribution's one top-level name. Its three packages live at the top of the repository
(`lsp/`, `completion/`, `context/`, linked here) and are installed as `airgap_lsp.lsp` (the
protocol layer), `airgap_lsp.completion` (the model runtime) and `airgap_lsp.context` (code
context from tree-sitter), so that installing airgap-lsp never claims a generic top-level name
that another package, or the user's own `context.py`, may also use.
"""
