"""Static (matplotlib) Whisper overview for export (README, papers, slides): log-mel, every
step's cross-attention and the words over the waveform on one shared seconds axis."""
from __future__ import annotations

import numpy as np

from ..whisper.constants import ENCODER_FRAMES_PER_SECOND, MEL_FRAMES_PER_SECOND, SAMPLE_RATE, WINDOW_SECONDS
from .common import envelope, to_numpy, token_label
from .whisper_common import content_seconds, cross_attention_matrix, rate


def overview_figure(trace, *, heads="alignment", margin: float = 0.5, width: float = 10.0):
    """A matplotlib Figure with three rows sharing the time axis (seconds, the clip + ``margin``
    of padding): (1) the log-mel with the padding shaded, (2) the cross-attention of every
    decoder step (one row per token, each scaled to its peak), (3) the waveform with the word
    spans. Save it with ``fig.savefig(path, dpi=...)``."""
    import matplotlib.pyplot as plt

    c = content_seconds(trace)
    end = min(WINDOW_SECONDS, c + margin)
    n_steps = len(trace.steps)
    fig, axes = plt.subplots(3, 1, figsize=(width, 2.2 + 2.0 + 0.18 * n_steps + 1.8), sharex=True,
                             gridspec_kw=dict(height_ratios=[2.2, 0.8 + 0.18 * n_steps, 1.6]))
    mel_rate = rate(trace, "mel_frame", MEL_FRAMES_PER_SECOND)
    mel = to_numpy(trace["input.log_mel"])[:, : int(np.ceil(end * mel_rate))]
    axes[0].imshow(mel, origin="lower", aspect="auto", cmap="magma",
                   extent=(0, mel.shape[1] / mel_rate, -0.5, mel.shape[0] - 0.5))
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(f"{trace.model_id}: {trace.meta.get('text', '').strip()!r}", fontsize=10)
    m, label = cross_attention_matrix(trace, heads)
    enc_rate = rate(trace, "encoder_frame", ENCODER_FRAMES_PER_SECOND)
    m = m[:, : int(np.ceil(end * enc_rate))]
    m = m / np.maximum(m.max(axis=1, keepdims=True), 1e-12)
    axes[1].imshow(m, aspect="auto", cmap="viridis", interpolation="nearest",
                   extent=(0, m.shape[1] / enc_rate, m.shape[0] - 0.5, -0.5))
    axes[1].set_yticks(range(n_steps))
    axes[1].set_yticklabels([token_label(s.get("token", "")) for s in trace.steps], fontsize=8)
    axes[1].set_ylabel(f"step ({label})", fontsize=9)
    sr = rate(trace, "sample", SAMPLE_RATE)
    t, lo, hi = envelope(trace["input.waveform"], sr, 3000)
    axes[2].fill_between(t, lo, hi, color="0.35", lw=0)
    peak = float(max(np.abs(lo).max(initial=0), np.abs(hi).max(initial=0), 1e-6))
    for i, w in enumerate(trace.meta.get("words") or []):
        axes[2].axvspan(w["start"], w["end"], color=("C0", "C2")[i % 2], alpha=0.18, lw=0)
        axes[2].text((w["start"] + w["end"]) / 2, peak * (1.08 if i % 2 == 0 else 1.3),
                     str(w["word"]).strip(), ha="center", va="bottom", fontsize=9)
    axes[2].set_ylim(-peak * 1.1, peak * 1.6)
    axes[2].set_ylabel("waveform")
    axes[2].set_xlabel("time (s)")
    for ax in axes:
        if c < end:
            ax.axvspan(c, end, color="white", alpha=0.5, lw=0)
            ax.axvline(c, color="0.5", ls="--", lw=1)
    axes[0].text(c, mel.shape[0] - 2, " padding →", va="top", fontsize=8,
                 bbox=dict(fc="white", alpha=0.7, lw=0)) if c < end else None
    axes[2].set_xlim(0, end)
    fig.tight_layout()
    return fig
