"""A thin, typed layer over llama.cpp's low-level C API (through llama-cpp-python's ctypes).

Owns loading a GGUF model, its vocabulary (tokenize, detokenize, control tokens, the chat
template and its rendering) and contexts with several sequences whose memory can be trimmed,
copied, saved and restored; nothing else imports llama_cpp. Nothing here decides what to
evaluate: that is the engine's job. One `LlamaContext` must only ever be used from one thread
at a time (llama.cpp contexts are not thread-safe). ("Context" alone, elsewhere, means the code
context a prompt is built from.)
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from airgap_lsp.completion.healing import PieceIndex

log = logging.getLogger(__name__)

_backend_lock = threading.Lock()
_backend_ready = False


def _llama():
    """Import llama_cpp lazily and initialise the backend once, with llama.cpp's logs on stderr
    silenced unless AIRGAP_LSP_LLAMA_LOG is set (they are verbose and never go to stdout)."""
    global _backend_ready
    import llama_cpp

    with _backend_lock:
        if not _backend_ready:
            llama_cpp.llama_backend_init()
            if not os.environ.get("AIRGAP_LSP_LLAMA_LOG"):
                _silence_llama_logs(llama_cpp)
            _backend_ready = True
    return llama_cpp


_log_callback_ref = None


def _silence_llama_logs(llama_cpp) -> None:
    global _log_callback_ref

    @llama_cpp.llama_log_callback
    def _quiet(level, text, user_data):
        if level == 4:  # GGML_LOG_LEVEL_ERROR
            message = text.decode("utf-8", "replace").rstrip()
            # An aborted decode (cancellation, time budget) is reported as an error by
            # llama.cpp; it is routine here and surfaces as Aborted.
            routine = "compute status: 1" in message or "error 1" in message or "ret = 2" in message
            log.log(logging.DEBUG if routine else logging.WARNING, "llama.cpp: %s", message)

    _log_callback_ref = _quiet
    llama_cpp.llama_log_set(_quiet, ctypes.c_void_p(0))


def apply_chat_template(
    messages: Sequence[tuple[str, str]], template: str | None, add_assistant: bool = True
) -> str | None:
    """(role, content) messages rendered by llama.cpp's chat template engine, which recognises
    the template (None: its default); None when llama.cpp does not know the template."""
    import llama_cpp

    arr = (llama_cpp.llama_chat_message * len(messages))()
    keep = []
    for i, (role, content) in enumerate(messages):
        r, c = role.encode(), content.encode()
        keep += [r, c]
        arr[i].role = r
        arr[i].content = c
    tmpl = template.encode() if template else None
    size = 4096 + sum(len(c) for _, c in messages) * 2
    buf = ctypes.create_string_buffer(size)
    n = llama_cpp.llama_chat_apply_template(tmpl, arr, len(messages), add_assistant, buf, size)
    if n > size:
        buf = ctypes.create_string_buffer(n)
        n = llama_cpp.llama_chat_apply_template(tmpl, arr, len(messages), add_assistant, buf, n)
    if n < 0:
        return None
    return buf.raw[:n].decode("utf-8")


class RuntimeError_(Exception):
    """llama.cpp refused to load a model or evaluate a batch."""


class Aborted(Exception):
    """An evaluation was stopped by the abort check."""


@dataclass(frozen=True, slots=True)
class ControlTokens:
    """Control tokens read from the model's vocabulary (None where the model has none)."""

    fim_prefix: int | None
    fim_suffix: int | None
    fim_middle: int | None
    fim_pad: int | None
    file_sep: int | None
    repo_name: int | None
    eos: int | None
    eot: int | None

    @property
    def has_fim(self) -> bool:
        return None not in (self.fim_prefix, self.fim_suffix, self.fim_middle)


class Model:
    """A loaded GGUF model and its vocabulary."""

    def __init__(self, path: str | Path, gpu_layers: int = 0, vocab_only: bool = False) -> None:
        llama_cpp = _llama()
        self._c = llama_cpp
        self.path = Path(path)
        if not self.path.is_file():
            raise RuntimeError_(f"model file not found: {self.path}")
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = gpu_layers
        params.vocab_only = vocab_only
        self._ptr = llama_cpp.llama_model_load_from_file(str(self.path).encode(), params)
        if not self._ptr:
            raise RuntimeError_(f"llama.cpp could not load {self.path} (not a valid GGUF model?)")
        self._vocab = llama_cpp.llama_model_get_vocab(self._ptr)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.n_ctx_train = llama_cpp.llama_model_n_ctx_train(self._ptr)
        self.arch = self.meta("general.architecture") or "unknown"
        self.name = self.meta("general.name") or self.path.stem
        self.is_recurrent = bool(
            llama_cpp.llama_model_is_recurrent(self._ptr)
            or llama_cpp.llama_model_is_hybrid(self._ptr)
        )
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))
        self.bos = self._token_or_none(llama_cpp.llama_vocab_bos(self._vocab))
        self.control = ControlTokens(
            fim_prefix=self._token_or_none(llama_cpp.llama_vocab_fim_pre(self._vocab)),
            fim_suffix=self._token_or_none(llama_cpp.llama_vocab_fim_suf(self._vocab)),
            fim_middle=self._token_or_none(llama_cpp.llama_vocab_fim_mid(self._vocab)),
            fim_pad=self._token_or_none(llama_cpp.llama_vocab_fim_pad(self._vocab)),
            file_sep=self._token_or_none(llama_cpp.llama_vocab_fim_sep(self._vocab)),
            repo_name=self._token_or_none(llama_cpp.llama_vocab_fim_rep(self._vocab)),
            eos=self._token_or_none(llama_cpp.llama_vocab_eos(self._vocab)),
            eot=self._token_or_none(llama_cpp.llama_vocab_eot(self._vocab)),
        )
        self._piece_cache: dict[int, bytes] = {}
        self._piece_index: PieceIndex | None = None
        self._free = llama_cpp.llama_model_free

    @staticmethod
    def _token_or_none(token: int) -> int | None:
        return None if token < 0 else int(token)

    def meta(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(512)
        n = self._c.llama_model_meta_val_str(self._ptr, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace") if n >= 0 else None

    def size_bytes(self) -> int:
        return int(self._c.llama_model_size(self._ptr))

    def chat_template(self) -> str | None:
        raw = self._c.llama_model_chat_template(self._ptr, None)
        return raw.decode("utf-8", "replace") if raw else None

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        """Tokens of `text`; with special=False, text such as `<|fim_middle|>` is plain text."""
        # A client may send lone UTF-16 surrogates (JSON allows "\ud800"); they have no UTF-8
        # form, so each becomes "?" for the model, one code point for one as before.
        data = text.encode("utf-8", "replace")
        capacity = len(data) + 8
        buf = (self._c.llama_token * capacity)()
        n = self._c.llama_tokenize(self._vocab, data, len(data), buf, capacity, add_bos, special)
        if n < 0:
            capacity = -n
            buf = (self._c.llama_token * capacity)()
            n = self._c.llama_tokenize(
                self._vocab, data, len(data), buf, capacity, add_bos, special
            )
        return list(buf[:n])

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for; control tokens render as nothing."""
        cached = self._piece_cache.get(token)
        if cached is not None:
            return cached
        buf = ctypes.create_string_buffer(64)
        n = self._c.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._c.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        out = buf.raw[:n]
        self._piece_cache[token] = out
        return out

    def piece_index(self) -> PieceIndex:
        """The vocabulary sorted for token healing (built on first use, ≈ 0.5 s)."""
        if self._piece_index is None:
            self._piece_index = PieceIndex(self.n_vocab, self.piece)
        return self._piece_index

    def token_text(self, token: int) -> str:
        """The vocabulary's own spelling of a token (control tokens included)."""
        raw = self._c.llama_vocab_get_text(self._vocab, token)
        return raw.decode("utf-8", "replace") if raw else ""

    def detokenize(self, tokens: Sequence[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", "replace")

    def is_eog(self, token: int) -> bool:
        return bool(self._c.llama_vocab_is_eog(self._vocab, token))

    def is_control(self, token: int) -> bool:
        return bool(self._c.llama_vocab_is_control(self._vocab, token))

    def vocab_fingerprint(self, step: int = 997) -> tuple[int, int, tuple[str, ...]]:
        """What llama.cpp's speculative example compares to accept a draft model: vocabulary
        type and size, and the spelling of tokens (every `step`-th id, the same ids for any
        model, so two fingerprints compare position by position)."""
        kind = int(self._c.llama_vocab_type(self._vocab))
        texts = tuple(self.token_text(i) for i in range(0, self.n_vocab, step))
        return kind, self.n_vocab, texts

    def close(self) -> None:
        if getattr(self, "_ptr", None):
            self._free(self._ptr)
            self._ptr = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


AbortCheck = Callable[[], bool]


class LlamaContext:
    """A llama.cpp context over a model, with `n_seq` independent sequences."""

    def __init__(
        self,
        model: Model,
        n_ctx: int = 4096,
        n_batch: int = 512,
        n_seq: int = 1,
        threads: int = 0,
        n_rs_seq: int = 0,
    ) -> None:
        if n_rs_seq > 0 and model.is_recurrent and n_batch <= n_rs_seq + 1:
            # llama.cpp asserts (and aborts the process) on the first decode otherwise.
            raise ValueError(f"n_batch ({n_batch}) must exceed n_rs_seq + 1 ({n_rs_seq + 1})")
        c = model._c
        self._c = c
        self.model = model
        params = c.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = n_seq
        params.n_rs_seq = n_rs_seq
        threads = threads or max(1, os.cpu_count() or 1)
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = True
        # A KV stream per sequence: attention then spans only the sequence's own cells (not
        # every cached document's), and a sequence's cell layout, hence its last-bit numerics,
        # does not depend on what other sequences hold.
        params.kv_unified = False
        self._abort_check: AbortCheck | None = None
        self._abort_cb = c.ggml_abort_callback(self._on_abort)
        params.abort_callback = self._abort_cb
        params.abort_callback_data = None
        self._ptr = c.llama_init_from_model(model._ptr, params)
        if not self._ptr:
            raise RuntimeError_(f"llama.cpp could not create a context (n_ctx={n_ctx})")
        self.n_ctx = int(c.llama_n_ctx(self._ptr))  # in all; each sequence has n_ctx / n_seq
        self.n_batch = n_batch
        self.n_seq = n_seq
        self.n_rs_seq = int(c.llama_n_rs_seq(self._ptr))
        self._mem = c.llama_get_memory(self._ptr)
        self._batch = c.llama_batch_init(n_batch, 0, 1)
        self.n_vocab = model.n_vocab
        self.evaluated_tokens = 0  # every token ever sent through decode (for tests/stats)
        # Size of the last piece decoded per sequence: recurrent snapshots cover only it.
        self._last_piece: dict[int, int] = {}

    def _on_abort(self, _data) -> bool:
        check = self._abort_check
        return bool(check and check())

    def decode(
        self,
        tokens: Sequence[int],
        pos0: int,
        seq: int = 0,
        logits: str = "last",
        abort: AbortCheck | None = None,
    ) -> None:
        """Evaluate `tokens` at positions pos0.. in sequence `seq`.

        logits: "last" (only the last token's row), "all" (a row per token) or "none".
        Larger inputs are split into n_batch pieces (only the final piece's logits remain
        readable, so "all" is meant for inputs of at most n_batch); `abort` is checked between
        pieces and
        inside llama.cpp's graph computation, raising Aborted (the memory then holds a
        prefix of the tokens, which the caller must trim).
        """
        n = len(tokens)
        if n == 0:
            return
        start = 0
        while start < n:
            end = min(n, start + self.n_batch)
            if abort and abort():
                raise Aborted()
            b = self._batch
            for i in range(start, end):
                j = i - start
                b.token[j] = tokens[i]
                b.pos[j] = pos0 + i
                b.n_seq_id[j] = 1
                b.seq_id[j][0] = seq
                want = logits == "all" or (logits == "last" and i == n - 1)
                b.logits[j] = 1 if want else 0
            b.n_tokens = end - start
            self._abort_check = abort
            try:
                rc = self._c.llama_decode(self._ptr, b)
            finally:
                self._abort_check = None
            if rc == 2:
                raise Aborted()
            if rc != 0:
                raise RuntimeError_(f"llama_decode returned {rc}")
            self.evaluated_tokens += end - start
            self._last_piece[seq] = end - start
            start = end

    def logits(self, i: int = -1) -> np.ndarray:
        """Logits row i of the last decode call's final piece (-1 = its last output).

        A view of llama.cpp's buffer: the next decode overwrites it; copy what must persist.
        """
        ptr = self._c.llama_get_logits_ith(self._ptr, i)
        if not ptr:
            raise RuntimeError_(f"no logits for output {i}")
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def seq_rm(self, seq: int, p0: int, p1: int = -1) -> bool:
        """Forget positions [p0, p1) of a sequence; False where the memory cannot do it
        (recurrent state cannot be cut back arbitrarily)."""
        return bool(self._c.llama_memory_seq_rm(self._mem, seq, p0, p1))

    def rollback(self, seq: int, n: int, end: int) -> bool:
        """Forget the last n tokens of a sequence whose last position is end - 1.

        Recurrent state can only be taken back within the last decoded piece and within
        n_rs_seq tokens; llama.cpp itself accepts some longer rollbacks and silently leaves a
        wrong state, so they are refused here.
        """
        if n <= 0:
            return True
        if self.model.is_recurrent and (n >= self._last_piece.get(seq, 0) or n > self.n_rs_seq):
            return False
        ok = self.seq_rm(seq, end - n, -1)
        if ok and self.model.is_recurrent:
            self._last_piece[seq] = 0  # a rollback is single-use until the next decode
        return ok

    def seq_cp(self, src: int, dst: int, p0: int = -1, p1: int = -1) -> None:
        self._c.llama_memory_seq_cp(self._mem, src, dst, p0, p1)

    def seq_pos_max(self, seq: int) -> int:
        return int(self._c.llama_memory_seq_pos_max(self._mem, seq))

    def clear(self) -> None:
        self._c.llama_memory_clear(self._mem, True)

    def seq_state(self, seq: int) -> bytes:
        """A sequence's whole state (KV and recurrent), for an exact restore later."""
        size = self._c.llama_state_seq_get_size(self._ptr, seq)
        buf = (ctypes.c_uint8 * size)()
        n = self._c.llama_state_seq_get_data(self._ptr, buf, size, seq)
        return bytes(buf[:n])

    def set_seq_state(self, seq: int, state: bytes) -> None:
        buf = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        n = self._c.llama_state_seq_set_data(self._ptr, buf, len(state), seq)
        if n == 0:
            raise RuntimeError_("llama.cpp refused to restore a sequence state")

    def close(self) -> None:
        if getattr(self, "_ptr", None):
            self._c.llama_batch_free(self._batch)
            self._c.llama_free(self._ptr)
            self._ptr = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
