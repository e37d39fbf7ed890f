"""A shipped CTC model's training states, read back: one clip's posteriors at each checkpoint of
``tiny-wav2vec2-ctc-en`` (``lab/zoo/<id>/checkpoints/step-NNNNN/`` + the final model). Computes
only (drawing is ``lab.viz.zoo``); training a model live is ``training.zoo.watch.train_live``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .zoo_vocab import BLANK, VOCAB, greedy_decode

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


def normalize(a: np.ndarray) -> np.ndarray:
    """Wav2Vec2FeatureExtractor's per-clip zero-mean unit-variance normalization."""
    return (a - a.mean()) / np.sqrt(a.var() + 1e-7)


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
