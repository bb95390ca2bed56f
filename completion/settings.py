"""The runtime's settings, as typed frozen dataclasses with defaults.

Owns what can be configured about models and completions (the LSP layer maps its camelCase
wire options onto these; the CLI builds them from flags). Defaults are chosen from
measurements on a 2-core CPU with the embedded 1.5B/0.5B pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airgap_lsp.completion.models import AUTO

DRAFTING_MODES = ("auto", "model", "ngram", "none")
BACKENDS = ("local", "llama-server", "openai", "ollama")


@dataclass(frozen=True, slots=True)
class ModelSettings:
    # A registry name, a GGUF path, a discovered name (ollama:qwen3.5:9b) or "auto": the best
    # model on this machine that fits its memory, else the embedded pair (completion.model_plan).
    target: str = AUTO
    draft: str = AUTO  # "" disables the draft model; "auto": one of the target's vocabulary
    context_size: int = 4096  # tokens per cached document
    gpu_layers: int = 0
    threads: int = 0  # 0 = all cores
    cached_documents: int = 4  # llama.cpp sequences kept for prefix reuse
    # A cap on the KV memory of those sequences, in MB (0: none): fewer documents are cached
    # when cachedDocuments x contextSize would need more (llama.cpp sets it aside at load).
    cache_memory_mb: int = 0
    search_paths: tuple[str, ...] = ()  # more folders searched for GGUF models
    # Where completions run: "local" (in-process) or a remote engine a team shares.
    backend: str = "local"  # local | llama-server | openai (vLLM, SGLang) | ollama
    endpoint: str = ""  # the remote engine's base URL, e.g. https://llm.example.com:8080
    model: str = ""  # the served model's name (openai, ollama)
    tokenizer: str = ""  # GGUF whose vocabulary the served model has ("": the default target)
    api_key_env: str = ""  # NAME of the environment variable holding the API key
    api_key_file: str = ""  # path of a file holding the API key (keys never go in settings)
    ca_file: str = ""  # PEM of a private CA to trust instead of the system's
    connect_timeout_ms: int = 3000
    request_timeout_ms: int = 30000
    fallback: str = ""  # "local": the in-process model while the remote is down


@dataclass(frozen=True, slots=True)
class CompletionSettings:
    enabled: bool = True
    disabled_languages: tuple[str, ...] = ()
    max_tokens: int = 128
    max_lines: int = 24
    max_prompt_ms: int = 4000  # the prompt shrinks to fit (measured speed, cached tokens)
    max_predict_ms: int = 8000  # never less than max_tokens steps at the measured step time
    debounce_ms: int = 0
    drafting: str = "auto"
    prefix_tokens: int = 1024
    suffix_tokens: int = 256
    steady_context: bool = True  # keep a document's chosen context while typing in it
    extra_context_tokens: int = 512
    single_line_model: str = "target"  # "target" or "draft": which model writes single lines
    use_context: bool = True  # tree-sitter context: definitions, other files, recent edits
    shaping: bool = True  # syntax-aware trimming of the output
    # Idle work before a request: the prompt's shared part on open/save, the suggestion where
    # the cursor rests (never on battery).
    prewarm: bool = True


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    file: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    models: ModelSettings = field(default_factory=ModelSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    log: LogSettings = field(default_factory=LogSettings)
