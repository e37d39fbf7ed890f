"""Watch a CTC model learn, live: a classroom-sized training run from scratch, snapshotted on one
clip. The shipped checkpoints are read by the runtime (:mod:`lab.ctc.checkpoints`, re-exported
here); drawing is ``lab.viz.zoo``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from lab.ctc.checkpoints import (CTC_ID, Snapshot, checkpoint_dirs, checkpoint_snapshots,  # noqa: F401
                                 checkpoint_step, snapshot)

from .common import encode_text


@dataclass
class LiveRun:
    model: object
    losses: list[float] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    seconds: float = 0.0


def train_live(steps: int = 40, n_clips: int = 48, watch: np.ndarray | None = None, every: int = 20,
               seed: int = 0, lr: float = 2e-3) -> LiveRun:
    """Train a very small Wav2Vec2ForCTC (hidden 64, 2 layers) from scratch on ``n_clips`` synthesized
    clips for ``steps`` steps (batch 8), plain CTC. A few hundred steps show the blank phase and the
    first spikes in a few minutes on a laptop; ``watch`` (a clip) is snapshotted every ``every`` steps.
    """
    from transformers import Wav2Vec2ForCTC

    from . import data
    from .train_wav2vec2_ctc import _collate, config

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    audio, specs = data.corpus("train", n_clips, seed, max_words=3)
    labels = [encode_text(s.text) for s in specs]
    cfg = config()
    cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size = 64, 2, 2, 128
    cfg.conv_dim = (32,) * 7
    cfg.num_conv_pos_embeddings = 16
    run = LiveRun(Wav2Vec2ForCTC(cfg))
    opt = torch.optim.AdamW(run.model.parameters(), lr=lr)
    t0 = time.time()
    for step in range(steps + 1):
        if watch is not None and step % every == 0:
            run.snapshots.append(snapshot(run.model, watch, step))
        if step == steps:
            break
        run.model.train()
        idx = rng.choice(n_clips, 8, replace=False).tolist()
        x, m = _collate(audio, idx)
        y = torch.full((8, max(len(labels[i]) for i in idx)), -100)
        for j, i in enumerate(idx):
            y[j, : len(labels[i])] = torch.tensor(labels[i])
        loss = run.model(x, attention_mask=m, labels=y).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.losses.append(loss.item())
    run.seconds = time.time() - t0
    return run
