"""Watch a CTC model learn: posteriors of one clip at each shipped checkpoint, and a classroom-sized
live training run. Computes only (drawing is ``lab.viz.zoo``).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .common import BLANK, VOCAB, encode_text, greedy_decode

CTC_ID = "tiny-wav2vec2-ctc-en"


@dataclass
class Snapshot:
    """One model state on one clip. ``logprobs`` (frame, vocab) natural-log CTC posteriors at 50
    frames/s; ``frame_tokens`` the argmax symbol per frame ('' = blank); ``text`` the greedy decode."""

    step: int
    logprobs: np.ndarray
    frame_tokens: list[str]
    text: str
    blank_fraction: float


def checkpoint_dirs(model_dir: Path | None = None) -> list[Path]:
    """The shipped training states, oldest first: ``checkpoints/step-NNNNN/`` (intermediate), then
    the model directory itself (the final state, not stored twice)."""
    from ..models import ZOO_DIR

    md = model_dir or ZOO_DIR / CTC_ID
    d = md / "checkpoints"
    out = sorted(p for p in d.iterdir() if (p / "config.json").is_file()) if d.is_dir() else []
    return out + ([md] if (md / "config.json").is_file() else [])


def checkpoint_step(d: Path) -> int:
    """Training step of a :func:`checkpoint_dirs` entry (the final model's from its metrics.json)."""
    if d.name.startswith("step-"):
        return int(d.name.split("-")[1])
    return int(json.loads((d / "metrics.json").read_text())["steps"])


def snapshot(model, samples: np.ndarray, step: int) -> Snapshot:
    from .train_wav2vec2_ctc import normalize

    model.eval()
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.from_numpy(normalize(samples))[None]).logits[0], -1)
    ids = lp.argmax(-1).numpy()
    inv = {i: c for c, i in VOCAB.items()}
    toks = ["" if i == BLANK else inv[int(i)] for i in ids]
    return Snapshot(step, lp.numpy(), toks, greedy_decode(ids), float((ids == BLANK).mean()))


def checkpoint_snapshots(samples: np.ndarray, model_dir: Path | None = None) -> list[Snapshot]:
    """The clip through every checkpoint ``step-NNNNN`` (loaded by path through the resolver)."""
    from ..models import resolve

    out = []
    for d in checkpoint_dirs(model_dir):
        out.append(snapshot(resolve(str(d), attention=False).model, samples, checkpoint_step(d)))
    return out


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
