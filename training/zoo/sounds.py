"""Synthetic sound scenes for ``tiny-ast-sounds``: six well-defined classes, alone and mixed.

Classes (:data:`LABELS`), every source a pure function of a numpy ``Generator``, 16 kHz float32:

- ``speech``: an espeak-ng / flite sentence from :mod:`training.zoo.data` (training voices for the
  ``train`` split, the held-out voices for ``heldout``), cropped or placed inside its segment.
- ``tone``: ONE steady sinusoid, 150-4000 Hz (log-uniform), constant level.
- ``siren``: a sweep of 0.5-1.5 octaves (ratio 1.41-2.8) that repeats every 0.25-3 s: up-ramp,
  down-ramp, triangle wail or sine yelp, with 0-2 weak harmonics.
- ``noise``: broadband white / pink / brown noise.
- ``clicks``: an impulse train at 2-20 clicks/s (jitter up to 20% of the period), each click a
  1-5 ms decaying burst.
- ``chord``: 3-4 simultaneous notes of a triad / seventh chord (root MIDI 45-72), each with 3-6
  harmonics; 1-3 chords in a row, sustained (organ) or struck and decaying (piano-like).

A scene (:func:`scene`) is 1-5 s long and holds 1-4 distinct classes (p = .3/.35/.25/.1). Each source is
active over the whole clip (60%) or one segment of >= 0.5 s (40%), is normalized (RMS; clicks by
peak) and scaled to 0..-10 dB (noise -4..-20 dB), then the sum gets a -70 dB floor and a random peak
level 0.1-0.9. Labels are the multi-hot vector of the classes present.
"""
from __future__ import annotations

import numpy as np

from . import data

SR = data.SAMPLE_RATE
LABELS = ["speech", "tone", "siren", "noise", "clicks", "chord"]
SCENE_SEED = 4242  # scenes draw from default_rng([seed, SCENE_SEED, split id, index])
CHORDS = [(0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8), (0, 5, 7), (0, 4, 7, 11), (0, 3, 7, 10),
          (0, 4, 7, 10), (0, 3, 6, 9)]


def _fade(x: np.ndarray, ms: float = 10.0) -> np.ndarray:
    k = min(len(x) // 2, int(ms * SR / 1000))
    if k > 0:
        r = np.linspace(0.0, 1.0, k, dtype=np.float32)
        x[:k] *= r
        x[-k:] *= r[::-1]
    return x


def tone(rng, n: int) -> np.ndarray:
    f = np.exp(rng.uniform(np.log(150), np.log(4000)))
    t = np.arange(n) / SR
    return np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)).astype(np.float32)


def siren(rng, n: int, shape: str | None = None) -> np.ndarray:
    lo = np.exp(rng.uniform(np.log(300), np.log(1500)))
    ratio = rng.uniform(1.41, 2.8)
    drawn = rng.choice(["up", "down", "wail", "yelp"])
    shape = shape or drawn
    period = rng.uniform(0.25, 0.8) if shape == "yelp" else rng.uniform(0.6, 3.0)
    ph = (np.arange(n) / SR / period + rng.uniform()) % 1.0  # position in the cycle, 0..1
    if shape == "up":
        u = ph
    elif shape == "down":
        u = 1 - ph
    elif shape == "wail":
        u = 1 - np.abs(2 * ph - 1)
    else:
        u = 0.5 - 0.5 * np.cos(2 * np.pi * ph)
    f = lo * ratio ** u  # sweeps in log frequency
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = np.sin(phase)
    for h in range(2, 2 + int(rng.integers(0, 3))):
        x = x + rng.uniform(0.1, 0.4) * np.sin(h * phase)
    return x.astype(np.float32)


def noise(rng, n: int) -> np.ndarray:
    kind = rng.choice(["white", "pink", "brown"], p=[0.4, 0.4, 0.2])
    f = np.fft.rfft(rng.standard_normal(n))
    k = np.maximum(np.arange(len(f)), 1)
    if kind == "pink":
        f /= np.sqrt(k)
    elif kind == "brown":
        f /= k
    return np.fft.irfft(f, n).astype(np.float32)


def clicks(rng, n: int) -> np.ndarray:
    """An impulse train; peak 1 (the mixer scales clicks by peak, not RMS)."""
    rate = rng.uniform(2, 20)
    jitter = rng.uniform(0, 0.2)
    x = np.zeros(n, np.float32)
    t = rng.uniform(0, 1 / rate)
    L = int(rng.uniform(1, 5) * SR / 1000)
    burst = rng.standard_normal(L) * np.exp(-np.arange(L) / (L / 4))
    burst[0] = np.sign(burst[0] or 1.0) * 1.0 * np.abs(burst).max()
    burst = (burst / np.abs(burst).max()).astype(np.float32)
    while t < n / SR:
        i = int(t * SR)
        seg = burst[: n - i]
        x[i:i + len(seg)] += seg * rng.uniform(0.7, 1.0)
        t += (1 + rng.uniform(-jitter, jitter)) / rate
    return x


def chord(rng, n: int) -> np.ndarray:
    t = np.arange(n) / SR
    n_chords = int(rng.integers(1, 4))
    bounds = np.linspace(0, n, n_chords + 1).astype(int)
    struck = rng.random() < 0.5
    rolloff = rng.uniform(0.7, 1.5)
    x = np.zeros(n, np.float32)
    for c in range(n_chords):
        a, b = bounds[c], bounds[c + 1]
        root = int(rng.integers(45, 73))
        notes = CHORDS[int(rng.integers(len(CHORDS)))]
        seg = np.zeros(b - a)
        for iv in notes:
            f0 = 440.0 * 2 ** ((root + iv - 69) / 12)
            for h in range(1, int(rng.integers(3, 7)) + 1):
                if f0 * h < SR / 2 - 200:
                    seg += np.sin(2 * np.pi * f0 * h * t[: b - a] + rng.uniform(0, 6.3)) / h ** rolloff
        if struck:
            seg *= np.exp(-t[: b - a] / rng.uniform(0.4, 1.5))
        x[a:b] = _fade(seg.astype(np.float32), 5)
    return x


def speech_segment(rng, n: int, pool: list[np.ndarray]) -> np.ndarray:
    """A random clip of ``pool`` cropped to ``n`` samples or placed at a random offset inside them."""
    s = pool[int(rng.integers(len(pool)))]
    if len(s) >= n:
        o = int(rng.integers(0, len(s) - n + 1))
        return s[o:o + n].copy()
    x = np.zeros(n, np.float32)
    o = int(rng.integers(0, n - len(s) + 1))
    x[o:o + len(s)] = s
    return x


MAKERS = {"tone": tone, "siren": siren, "noise": noise, "clicks": clicks, "chord": chord}


def scene(split: str, index: int, seed: int, speech: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(audio (samples,) float32 at 16 kHz, multi-hot labels (6,) float32) of scene ``index``.

    ``speech`` is the pool of speech clips of the same split (see :func:`speech_pool`).
    """
    rng = np.random.default_rng([seed, SCENE_SEED, data.SPLITS[split], index])
    n = int(rng.uniform(1.0, 5.0) * SR)
    k = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.25, 0.1]))
    classes = sorted(int(c) for c in rng.choice(len(LABELS), k, replace=False))
    mix = np.zeros(n, np.float32)
    y = np.zeros(len(LABELS), np.float32)
    for c in classes:
        name = LABELS[c]
        if rng.random() < 0.6:
            a, m = 0, n
        else:
            m = int(rng.uniform(max(0.5 * SR, 0.4 * n), n)) if n > 0.5 * SR else n
            a = int(rng.integers(0, n - m + 1))
        src = speech_segment(rng, m, speech) if name == "speech" else MAKERS[name](rng, m)
        src = _fade(src)
        if name == "clicks":
            src = 4.0 * src / (np.abs(src).max() + 1e-9)
        else:
            src = src / (np.sqrt(np.mean(src ** 2)) + 1e-9)
        gain_db = rng.uniform(-20, -4) if name == "noise" else rng.uniform(-10, 0)
        mix[a:a + m] += src * np.float32(10 ** (gain_db / 20))
        y[c] = 1.0
    mix += rng.standard_normal(n).astype(np.float32) * np.float32(10 ** (-70 / 20))
    mix = mix / (np.abs(mix).max() + 1e-9) * rng.uniform(0.1, 0.9)
    return mix.astype(np.float32), y


def speech_pool(split: str, n: int, seed: int = 0, start: int = 0) -> list[np.ndarray]:
    """``n`` clean speech clips of ``split`` (no noise/reverb augmentation; cached by training.zoo.data)."""
    audio, _ = data.corpus(split, n, seed, start=start, cache=data.data_cache(), augment=False)
    return audio
