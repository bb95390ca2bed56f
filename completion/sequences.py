"""Which tokens each llama.cpp sequence holds, and how to bring a sequence to a new prompt.

Owns prompt-prefix reuse across requests: every sequence (slot) of a context remembers the
tokens in its memory; a new prompt goes to the slot sharing its longest prefix (or its own
document's slot, a free one, or the least recently used one), only the differing tail is
evaluated, and other documents' slots survive until memory runs out. A document whose prompt
shares a long prefix with another document's sequence (the repository's name and other files'
context come first in the prompt) starts from a copy of that sequence's memory instead of
evaluating the shared part again, and the other document keeps its own. For recurrent and hybrid
models, whose state cannot be cut back to an arbitrary position, state checkpoints taken while
evaluating a prompt are restored instead (also when copying), or the sequence is rebuilt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from airgap_lsp.completion.runtime import AbortCheck, LlamaContext, RuntimeError_

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 256
MAX_CHECKPOINTS = 8
# Copying another sequence's memory moves its whole KV stream (tens of MB, ~10 ms on a CPU):
# worth it only when it saves evaluating at least this many tokens (~6-60 ms each on a CPU).
COPY_AT_LEAST = 16


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _thin(checkpoints: list[tuple[int, bytes]]) -> None:
    """Keep at most MAX_CHECKPOINTS, spread over the prompt: drop the one whose neighbours are
    closest together, so edits anywhere (not only near the end) find a nearby checkpoint."""
    while len(checkpoints) > MAX_CHECKPOINTS:
        i = min(
            range(1, len(checkpoints) - 1),
            key=lambda k: checkpoints[k + 1][0] - checkpoints[k - 1][0],
        )
        del checkpoints[i]


@dataclass(slots=True)
class Slot:
    seq: int
    tokens: list[int] = field(default_factory=list)
    key: str | None = None
    last_used: float = 0.0
    # Recurrent models: (position, state bytes) taken at prompt positions.
    checkpoints: list[tuple[int, bytes]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Prepared:
    slot: Slot
    reused: int  # prompt tokens already in memory
    evaluated: int  # prompt tokens evaluated now


class SequenceCache:
    """Slots of one context; `prepare` leaves a slot holding exactly the prompt, with the last
    prompt token's logits ready."""

    def __init__(
        self, llama: LlamaContext, recurrent: bool = False, checkpoint_every: int = CHECKPOINT_EVERY
    ) -> None:
        self.llama = llama
        self.recurrent = recurrent
        self.checkpoint_every = checkpoint_every
        self.slots = [Slot(i) for i in range(llama.n_seq)]
        self._closed: set[str] = set()
        self._closed_lock = threading.Lock()

    def forget(self, key: str) -> None:
        """The document `key` closed (any thread): its slot is the first to be reused. Its
        tokens stay: another document sharing that prefix can still start from them."""
        with self._closed_lock:
            self._closed.add(key)

    def _release_closed(self) -> None:
        with self._closed_lock:
            closed, self._closed = self._closed, set()
        for slot in self.slots:
            if slot.key in closed:
                slot.key = None
                slot.last_used = 0.0

    @property
    def capacity(self) -> int:
        """Tokens one slot can hold: each sequence has its own KV stream of n_ctx / n_seq
        cells, so dropping other slots never makes room for a longer prompt."""
        return self.llama.n_ctx // self.llama.n_seq

    def _choose(self, key: str, prompt: Sequence[int]) -> Slot:
        shared, _, best = max(
            ((common_prefix(s.tokens, prompt), s.key == key, s) for s in self.slots),
            key=lambda t: (t[0], t[1]),
        )
        # A slot of this document or of none that holds most of the prompt is taken as it is;
        # another open document's slot is not taken over (prepare copies what it shares).
        if shared * 2 >= len(prompt) and best.tokens and best.key in (key, None):
            return best
        own = next((s for s in self.slots if s.key == key), None)
        if own is not None:
            return own
        free = next((s for s in self.slots if not s.tokens), None)
        if free is not None:
            return free
        return min(self.slots, key=lambda s: s.last_used)

    def prepare(self, key: str, prompt: Sequence[int], abort: AbortCheck | None = None) -> Prepared:
        if not prompt:
            raise ValueError("empty prompt")
        self._release_closed()
        slot = self._choose(key, prompt)
        keep = min(common_prefix(slot.tokens, prompt), len(prompt) - 1)
        copied = self._copy_shared(slot, prompt, keep)
        keep = copied or self.truncate(slot, keep)
        slot.key = key
        slot.last_used = time.monotonic()
        self._evaluate(slot, prompt[keep:], abort, checkpoint=self.recurrent)
        return Prepared(slot, reused=keep, evaluated=len(prompt) - keep)

    def _copy_shared(self, slot: Slot, prompt: Sequence[int], keep: int) -> int:
        """When another slot holds a longer prefix of the prompt than `slot` keeps, make `slot`
        a copy of that prefix (the other slot is left as it is); returns the tokens copied, 0
        when copying would not save COPY_AT_LEAST evaluations."""
        donors = [s for s in self.slots if s is not slot and s.tokens]
        if not donors or len(prompt) - 1 - keep < COPY_AT_LEAST:
            return 0  # nothing to copy, or too little left to save (a keystroke's prompt)
        shared, donor = max(
            ((min(common_prefix(s.tokens, prompt), len(prompt) - 1), s) for s in donors),
            key=lambda t: t[0],
        )
        if self.recurrent:
            # Recurrent state exists only where a checkpoint was taken; never shifted or cut.
            usable = [c for c in donor.checkpoints if c[0] <= shared]
            if not usable or usable[-1][0] - keep < COPY_AT_LEAST:
                return 0
            pos, state = usable[-1]
            self.llama.seq_rm(slot.seq, -1, -1)
            self.llama.set_seq_state(slot.seq, state)
            slot.tokens = donor.tokens[:pos]
            slot.checkpoints = list(usable)
            return pos
        if shared - keep < COPY_AT_LEAST:
            return 0
        self.llama.seq_rm(slot.seq, -1, -1)
        self.llama.seq_cp(donor.seq, slot.seq)
        slot.tokens = list(donor.tokens)
        slot.checkpoints = []
        if self.truncate(slot, shared) != shared:  # a transformer's cut does not fail
            self.drop(slot)
            return 0
        return shared

    def truncate(self, slot: Slot, n: int) -> int:
        """Cut a slot's memory back to its first n tokens; returns how many it really keeps."""
        if n >= len(slot.tokens):
            return len(slot.tokens)
        # Recurrent snapshots only describe the last batch, so a cut elsewhere is not trusted to
        # seq_rm; recurrent models restore a checkpoint instead.
        if not self.recurrent and self.llama.seq_rm(slot.seq, n, -1):
            del slot.tokens[n:]
            return n
        return self._restore(slot, n)

    def _restore(self, slot: Slot, n: int) -> int:
        """Rebuild a recurrent slot from its latest checkpoint at or before n (or from empty)."""
        usable = [c for c in slot.checkpoints if c[0] <= n]
        self.llama.seq_rm(slot.seq, -1, -1)
        if usable:
            pos, state = usable[-1]
            self.llama.set_seq_state(slot.seq, state)
            slot.checkpoints = usable
            del slot.tokens[pos:]
            return pos
        slot.tokens.clear()
        slot.checkpoints.clear()
        return 0

    def extend(
        self,
        slot: Slot,
        tokens: Sequence[int],
        abort: AbortCheck | None = None,
        logits: str = "last",
    ) -> None:
        """Evaluate tokens at the end of a slot (generation and verification use this)."""
        self._evaluate(slot, tokens, abort, logits=logits)

    def _evaluate(
        self,
        slot: Slot,
        tokens: Sequence[int],
        abort: AbortCheck | None,
        logits: str = "last",
        checkpoint: bool = False,
    ) -> None:
        if not tokens:
            return
        if checkpoint:
            # Evaluate in pieces that end on checkpoint positions, saving state at each.
            start = 0
            while start < len(tokens):
                pos = len(slot.tokens)
                step = self.checkpoint_every - pos % self.checkpoint_every
                piece = tokens[start : start + step]
                self._decode(slot, piece, abort, logits)
                start += len(piece)
                if len(slot.tokens) % self.checkpoint_every == 0 and start < len(tokens):
                    slot.checkpoints.append((len(slot.tokens), self.llama.seq_state(slot.seq)))
                    _thin(slot.checkpoints)
            return
        self._decode(slot, tokens, abort, logits)

    def _decode(
        self, slot: Slot, tokens: Sequence[int], abort: AbortCheck | None, logits: str
    ) -> None:
        pos = len(slot.tokens)
        for _attempt in range(len(self.slots) + 1):
            try:
                self.llama.decode(tokens, pos, slot.seq, logits=logits, abort=abort)
                slot.tokens.extend(tokens)
                return
            except RuntimeError_ as exc:
                # Out of memory cells: drop the least recently used other slot, then retry.
                victims = [s for s in self.slots if s is not slot and s.tokens]
                if "returned 1" not in str(exc) or not victims:
                    self._resync(slot, pos)
                    raise
                victim = min(victims, key=lambda s: s.last_used)
                log.info("KV memory full: dropping cached sequence %d", victim.seq)
                self.drop(victim)
                self._resync(slot, pos)
            except BaseException:
                self._resync(slot, pos)
                raise
        raise RuntimeError_("no memory for the prompt even after dropping every other slot")

    def _resync(self, slot: Slot, pos: int) -> None:
        """After a failed or aborted decode, make the slot's memory match slot.tokens again."""
        del slot.tokens[pos:]
        if self.llama.seq_pos_max(slot.seq) + 1 <= pos:
            return
        if not self.recurrent and self.llama.seq_rm(slot.seq, pos, -1):
            return
        self._restore(slot, pos)

    def rollback(self, slot: Slot, n: int) -> None:
        """Forget the last n tokens right after a verification batch (rejected drafts)."""
        if n <= 0:
            return
        keep = len(slot.tokens) - n
        if not self.llama.rollback(slot.seq, n, len(slot.tokens)):
            raise RuntimeError_(
                f"could not roll back {n} tokens (recurrent snapshots: {self.llama.n_rs_seq})"
            )
        del slot.tokens[keep:]

    def drop(self, slot: Slot) -> None:
        self.llama.seq_rm(slot.seq, -1, -1)
        slot.tokens.clear()
        slot.checkpoints.clear()
        slot.key = None

    def clear(self) -> None:
        for slot in self.slots:
            self.drop(slot)
