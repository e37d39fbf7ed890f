"""Very short clips shared by the families' minimum-length tests (issue 21): 10 ms mono, a
5-frame 6-channel file and a 1-frame stereo file, and the parser of the "needs at least" message."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile as sf

SHORT = {"10ms": (160, 1), "5frames_6ch": (5, 6), "1frame_stereo": (1, 2)}  # name: (frames, channels)


def write_short_files(d: Path) -> dict[str, Path]:
    """One 16 kHz float WAV per :data:`SHORT` entry in ``d`` (seeded noise, amplitude 0.3)."""
    rng = np.random.default_rng(0)
    out = {}
    for name, (frames, ch) in SHORT.items():
        out[name] = d / f"{name}.wav"
        x = 0.3 * rng.standard_normal((frames, ch) if ch > 1 else frames)
        sf.write(out[name], x.astype(np.float32), 16000)
    return out


def minimum(message: str) -> int:
    """The sample count of a "needs at least X ms (N samples)" message."""
    m = re.search(r"needs at least [\d.]+ ms \((\d+) samples\)", message)
    assert m, message
    return int(m.group(1))
