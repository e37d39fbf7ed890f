"""Hand-made CTC outputs: what a trained model's peaky logits look like, for teaching.

Until the lab ships a trained CTC model offline, the tiny random models' outputs are noise. These
logits spell a given text the way trained CTC models do -- a few frames per character, long
runs of blank in between, a blank separating doubled letters -- so the collapse stepper, the
decoders and the alignment can be shown on something readable. They are labelled as such
wherever they are used.
"""
from __future__ import annotations

import numpy as np
import torch


def peaky_logits(text: str, vocab, n_frames: int, *, seed: int = 0, confidence: float = 8.0,
                 noise: float = 1.0) -> torch.Tensor:
    """(n_frames, vocab) logits whose greedy decode is ``text`` (in the vocabulary's case).

    Characters get 1-3 frames (repeats of the same character inside a run show what "merge
    repeats" removes), blanks fill the rest; Gaussian ``noise`` everywhere else.
    """
    from .align import min_frames, reference_ids

    ids, _ = reference_ids(text, vocab)
    if n_frames < min_frames(ids):
        raise ValueError(f"{n_frames} frames are too few for {len(ids)} characters")
    rng = np.random.default_rng(seed)
    budget = n_frames - min_frames(ids)
    runs = np.minimum(1 + rng.integers(0, 3, len(ids)), 1 + budget // max(1, len(ids)))
    path: list[int] = []
    gap = max(0, (n_frames - int(runs.sum())) // (len(ids) + 1))
    for k, (tok, r) in enumerate(zip(ids, runs)):
        path += [vocab.blank_id] * max(gap, 1 if k and ids[k - 1] == tok else 0)
        path += [tok] * int(r)
    path = (path + [vocab.blank_id] * n_frames)[:n_frames]
    z = rng.normal(0.0, noise, (n_frames, len(vocab.tokens)))
    z[np.arange(n_frames), path] += confidence
    return torch.tensor(z, dtype=torch.float32)
