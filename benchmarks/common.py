"""Shared benchmark input: speech of a given length."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tiled_speech(seconds: float, sample_rate: int = 16000):
    """The committed fox clip repeated to exactly ``seconds`` s: float32, shape (samples,)."""
    import numpy as np

    from lab.audio import load_audio

    clip = load_audio(ROOT / "assets" / "clips" / "quick_brown_fox.wav", sample_rate).samples
    n = int(seconds * sample_rate)
    return np.tile(clip, n // len(clip) + 1)[:n].astype("float32")
