"""airgap-lsp's language server layer: the only package that knows LSP (pygls, lsprotocol)."""

__version__ = "0.1.0"
