"""How diagonal is a text-to-frame cross-attention map?

A trained TTS decoder reads the text left to right as it speaks: its cross-attention over
(decoder step, text token) draws a diagonal. The score is 1 minus the guided-attention penalty
SpeechT5 is trained with (Tachibana et al. 2017; ``config.guided_attention_loss_sigma``):
``W[s, n] = 1 - exp(-(n/N - s/S)^2 / (2 g^2))``, ``score = 1 - mean_s sum_n A[s, n] W[s, n]``.
1 = all mass on the diagonal; a uniform map (an untrained model) scores about 0.42 for g = 0.2.
"""
from __future__ import annotations

import numpy as np


def _weights(n_steps: int, n_text: int, g: float) -> np.ndarray:
    s = np.arange(n_steps)[:, None] / max(n_steps - 1, 1)
    n = np.arange(n_text)[None, :] / max(n_text - 1, 1)
    return 1.0 - np.exp(-((n - s) ** 2) / (2 * g * g))


def diagonality(attn, g: float = 0.2) -> float:
    """Score of one (step, text_token) map whose rows sum to 1."""
    a = np.asarray(attn, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"need a (step, text_token) map, got shape {a.shape}")
    return float(1.0 - (a * _weights(*a.shape, g)).sum(axis=1).mean())


def head_diagonality(cross, g: float = 0.2) -> np.ndarray:
    """(layer, head) scores of a (step, layer, head, text_token) cross-attention stack."""
    c = np.asarray(cross, dtype=np.float64)
    w = _weights(c.shape[0], c.shape[-1], g)
    return 1.0 - np.einsum("slhn,sn->lh", c, w) / c.shape[0]
