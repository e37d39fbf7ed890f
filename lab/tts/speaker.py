"""Speaker embeddings: the 512-d x-vector SpeechT5 conditions every decoder step on.

``load_speaker(source, dim)`` -> ``(tensor (1, dim) float32, description)``. ``source`` is a
``.npy`` path, an array, or ``None`` for the lab's shipped default
(``assets/tts/default_speaker.npy``: a fixed pseudo-random vector, NOT a recorded speaker's
x-vector -- the CMU Arctic x-vectors cannot be fetched without the hub; see
``assets/tts/make_assets.py``). SpeechT5 L2-normalises the vector, so only its direction matters.

``known_speakers(dim)``: the named x-vectors the lab has offline (``default``, plus any
``assets/tts/speakers/NAME.npy``), for the ``speaker_edit`` knob's ``toward:NAME`` directions
(:mod:`lab.interventions.tts_knobs`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lab.errors import LabError

DEFAULT_SPEAKER = Path(__file__).resolve().parents[2] / "assets" / "tts" / "default_speaker.npy"
SPEAKERS_DIR = DEFAULT_SPEAKER.parent / "speakers"
DEFAULT_DESCRIPTION = ("lab default (assets/tts/default_speaker.npy: fixed pseudo-random "
                       "512-d vector, not a real speaker's x-vector)")


def load_speaker(source=None, dim: int = 512) -> tuple[torch.Tensor, str]:
    """A validated speaker embedding of shape ``(1, dim)`` and where it came from."""
    if source is None:
        vec, desc = np.load(DEFAULT_SPEAKER, allow_pickle=False), DEFAULT_DESCRIPTION
    elif isinstance(source, (str, Path)):
        p = Path(source).expanduser()
        if not p.is_file():
            raise LabError(f"speaker embedding file not found: {p}")
        try:
            vec = np.load(p, allow_pickle=False)
        except Exception as exc:
            raise LabError(f"could not read {p.name} as a .npy array: {type(exc).__name__}") from None
        desc = f"file {p.name}"
    else:
        vec, desc = source, "array"
    vec = np.asarray(vec.detach().cpu() if hasattr(vec, "detach") else vec)
    if vec.dtype.kind not in "fiu":
        raise LabError(f"speaker embedding must be numbers, got dtype {vec.dtype}")
    vec = vec.astype(np.float32).reshape(-1) if vec.ndim == 2 and vec.shape[0] == 1 else vec.astype(np.float32)
    if vec.ndim != 1 or vec.shape[0] != dim:
        raise LabError(f"speaker embedding has shape {tuple(np.shape(vec))}; this model needs a "
                       f"{dim}-d vector (config.speaker_embedding_dim)")
    if not np.isfinite(vec).all():
        raise LabError("speaker embedding contains NaN/inf values")
    if float(np.linalg.norm(vec)) < 1e-8:
        raise LabError("speaker embedding is all zeros (it has no direction to normalise)")
    return torch.from_numpy(vec.copy()).unsqueeze(0), desc


def known_speakers(dim: int = 512) -> dict[str, torch.Tensor]:
    """Named offline x-vectors of ``dim`` values, each ``(dim,)`` float32: ``default`` (the lab's
    default vector) and every ``assets/tts/speakers/NAME.npy`` of that size (files of another
    size are skipped: they belong to another model)."""
    out = {}
    paths = [("default", DEFAULT_SPEAKER)] + sorted((p.stem, p) for p in SPEAKERS_DIR.glob("*.npy"))
    for name, path in paths:
        try:
            out[name] = load_speaker(path, dim)[0][0]
        except LabError:
            continue
    return out
