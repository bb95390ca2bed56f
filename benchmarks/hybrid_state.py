"""How to take a hybrid (Qwen3.5) sequence back: measured on a generated `qwen35` model.

Recurrent state cannot be cut back with `memory_seq_rm`. Two mechanisms exist in llama.cpp:
per-token recurrent snapshots (`n_rs_seq`), valid only within the last decoded batch (what
rejected drafts need), and whole sequence state save/restore (what a prompt that changed in
the middle needs: restore the latest checkpoint before the change, evaluate from there). This
measures, for a prompt of N tokens changed at its middle: re-evaluating it from scratch,
restoring a checkpoint and evaluating the tail, the checkpoint's size, and a snapshot rollback.
The absolute times are for a tiny model; the ratios show which mechanism to use when.

    python -m benchmarks.hybrid_state [--tokens 1024]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from airgap_lsp.completion.runtime import LlamaContext, Model


def main(argv: list[str] | None = None) -> int:
    from tests.synthetic.make_gguf import make_all

    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        models = make_all(Path(tmp))
        model = Model(models.qwen35_target)
        text = Path(__file__).read_text() * 20
        tokens = model.tokenize(text)[: args.tokens]
        half = len(tokens) // 2
        llama = LlamaContext(model, n_ctx=4096, n_seq=2, n_batch=256, n_rs_seq=8)

        def timed(fn) -> float:  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            fn()
            return (time.perf_counter() - t0) * 1000

        full_ms = timed(lambda: llama.decode(tokens, 0, seq=0))
        llama.seq_rm(0, -1, -1)
        llama.decode(tokens[:half], 0, seq=0)
        save_ms = timed(lambda: llama.seq_state(0))
        state = llama.seq_state(0)
        llama.decode(tokens[half:], half, seq=0)
        ref = llama.logits(-1).copy()

        def restore_and_tail() -> None:
            llama.seq_rm(0, -1, -1)
            llama.set_seq_state(0, state)
            llama.decode(tokens[half:], half, seq=0)

        restore_ms = timed(restore_and_tail)
        exact = float(np.abs(llama.logits(-1) - ref).max())
        llama.decode(tokens[:5], len(tokens), seq=0, logits="all")
        rollback_ms = timed(lambda: llama.rollback(0, 3, len(tokens) + 5))
    lines = [
        "# Hybrid (qwen35) state: rebuild vs checkpoint vs snapshot rollback",
        "",
        f"Generated qwen35 model (tiny, F32), prompt of {len(tokens)} tokens changed at token "
        f"{half}; CPU, one run.",
        "",
        "| mechanism | cost |",
        "| --- | ---: |",
        f"| re-evaluate the whole prompt | {full_ms:.1f} ms |",
        f"| save a checkpoint at the middle | {save_ms:.2f} ms, {len(state) / 1024:.0f} KiB |",
        f"| restore it and evaluate the second half | {restore_ms:.1f} ms |",
        f"| roll back 3 rejected tokens (n_rs_seq snapshots) | {rollback_ms:.3f} ms |",
        "",
        f"Restored output vs the uninterrupted one: max |logit diff| = {exact:.2e}.",
        "The checkpoint holds the attention KV of every position plus the recurrent state, so its",
        "size grows with the prompt; the engine keeps at most 8 per cached document, spread out.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hybrid_state.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
