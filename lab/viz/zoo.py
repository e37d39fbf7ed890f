"""Figures for the zoo's "watch a CTC model learn" views (matplotlib; never loads a model)."""
from __future__ import annotations

import numpy as np

from ..ctc.constants import DELIMITER_MARK
from ..whisper.constants import ENCODER_FRAMES_PER_SECOND  # the zoo's CTC head reads Whisper's encoder


def alignment_emerges(snapshots, vocab: dict[str, int], title: str = ""):
    """One row per snapshot: CTC posteriors (vocab x frame, exp of log-probs) with the greedy frame
    tokens written over non-blank frames. ``snapshots``: objects with ``step``, ``logprobs`` (frame,
    vocab), ``frame_tokens``, ``text``, ``blank_fraction``. Time axis in seconds (encoder frames,
    50/s)."""
    import matplotlib.pyplot as plt

    inv = sorted(vocab, key=vocab.get)
    n = len(snapshots)
    fig, axes = plt.subplots(n, 1, figsize=(11, 1.9 * n + 0.6), squeeze=False, sharex=True)
    for ax, s in zip(axes[:, 0], snapshots):
        p = np.exp(s.logprobs).T  # (vocab, frame)
        T = p.shape[1]
        ax.imshow(p, aspect="auto", origin="lower", cmap="magma", vmin=0, vmax=1,
                  extent=(0, T / ENCODER_FRAMES_PER_SECOND, -0.5, len(inv) - 0.5), interpolation="nearest")
        ax.set_yticks([0, 4] + list(range(9, len(inv), 5)))
        ax.set_yticklabels(["blank", DELIMITER_MARK] + [inv[i] for i in range(9, len(inv), 5)], fontsize=7)
        for f, tok in enumerate(s.frame_tokens):
            if tok:
                ax.text((f + 0.5) / ENCODER_FRAMES_PER_SECOND, vocab[tok], tok, color="cyan", fontsize=7,
                        ha="center", va="center")
        ax.set_title(f"step {s.step}: blank {s.blank_fraction:.0%} of frames -> \"{s.text}\"", fontsize=9,
                     loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_curve(losses: list[float], title: str = "CTC loss"):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.plot(np.arange(len(losses)), losses)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    fig.tight_layout()
    return fig
