"""Shared benchmark pieces: speech of a given length, the median-of-N timer."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tiled_speech(seconds: float, sample_rate: int = 16000):
    """The committed fox clip repeated to exactly ``seconds`` s: float32, shape (samples,)."""
    import numpy as np

    from lab.audio import load_audio

    clip = load_audio(ROOT / "assets" / "clips" / "quick_brown_fox.wav", sample_rate).samples
    n = int(seconds * sample_rate)
    return np.tile(clip, n // len(clip) + 1)[:n].astype("float32")


REPEATS = 3


def median_time(fn, repeats: int = REPEATS) -> tuple[float, object]:
    """(median wall seconds of ``repeats`` calls of ``fn`` after one warm-up call, the last result)."""
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out
