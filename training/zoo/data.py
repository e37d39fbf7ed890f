"""Synthetic labelled speech for the zoo: diverse English sentences spoken by espeak-ng and flite.

Every clip is a pure function of ``(split, index, seed)``: the text, the voice, speed, pitch and the
sox/numpy augmentation are drawn from ``numpy.random.default_rng([seed, split_id, index])``, so a
corpus is reproducible and any subset can be synthesized in any order or in parallel.

Text: words = the 20,000 most frequent English words (PyPI ``wordfreq``) that are also plain lower-case
entries of Debian's ``wamerican`` list (``/usr/share/dict/american-english``); a sentence is 2-8 words,
60% drawn from the 1,000 most frequent words, 40% from the 3,000 most frequent (recipe version 2;
version 1 drew half from all ~16k words, which made spelling unseen rare words from sound the
dominant error).

Voices: espeak-ng accents x variants, plus flite voices. The held-out split uses accents and
variants (and the flite voice ``slt``) that never occur in training, and its own sentence seeds.

Audio: 16 kHz mono float32 in [-1, 1], peak-normalized to 0.3-0.9; optional sox tempo and reverb,
and additive white/pink noise at 15-40 dB SNR.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from lab.audio import SAMPLE_RATE
from lab.errors import LabError

DICT_PATH = Path("/usr/share/dict/american-english")

ESPEAK_ACCENTS_TRAIN = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-029"]
ESPEAK_ACCENTS_HELDOUT = ["en-us-nyc", "en-gb-x-gbcwmd"]
ESPEAK_VARIANTS_TRAIN = ["", "m1", "m2", "m3", "m5", "m7", "f1", "f2", "f5", "Alex", "Andy", "Denis",
                         "Gene", "Jacky", "Lee", "Mike", "paul", "robert", "steph", "zac", "anika",
                         "linda", "max", "michel", "quincy", "rob", "shelby", "victor", "edward"]
ESPEAK_VARIANTS_HELDOUT = ["m4", "m6", "f3", "f4", "Annie", "travis", "belinda", "david"]
FLITE_TRAIN = ["kal16", "awb", "rms"]
FLITE_HELDOUT = ["slt"]

SPLITS = {"train": 1, "heldout": 2, "flite": 3}
RECIPE_VERSION = 2  # bump when synthesis changes (part of the corpus cache name)


@dataclass(frozen=True)
class ClipSpec:
    """Everything that determines one clip."""

    text: str
    engine: str  # espeak | flite
    voice: str
    speed: int  # espeak words per minute (flite: 0)
    pitch: int  # espeak 0-99 (flite: 0)
    tempo: float  # sox tempo factor (1.0 = none)
    reverb: int  # sox reverberance 0-100 (0 = none)
    snr_db: float  # additive noise SNR (inf = none)
    noise: str  # white | pink
    gain: float  # peak level
    lead: float  # seconds of silence before
    trail: float  # seconds of silence after

    def key(self) -> str:
        return hashlib.sha1(repr(asdict(self)).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def words() -> tuple[str, ...]:
    """The word list, most frequent first (deterministic for pinned wordfreq + wamerican)."""
    if not DICT_PATH.is_file():
        raise LabError(f"{DICT_PATH} is missing: install the Debian package wamerican "
                       "(apt-get install wamerican)")
    try:
        from wordfreq import top_n_list
    except ImportError:
        raise LabError("the zoo data pipeline needs the PyPI package wordfreq (pip install wordfreq)") \
            from None
    plain = {w for w in DICT_PATH.read_text(encoding="utf-8", errors="ignore").split()
             if w.isascii() and w.isalpha() and w.islower()}
    plain |= {"i"}
    return tuple(w for w in top_n_list("en", 20000) if w in plain)


VOCAB_WORDS = 3000  # sentences draw from the most frequent 3000 words (60% from the top 1000)


def sentence(rng: np.random.Generator, min_words: int = 2, max_words: int = 8) -> str:
    ws = words()
    n = int(rng.integers(min_words, max_words + 1))
    out = []
    for _ in range(n):
        pool = ws[:1000] if rng.random() < 0.6 else ws[:VOCAB_WORDS]
        out.append(pool[int(rng.integers(len(pool)))])
    return " ".join(out)


def voices(split: str) -> tuple[list[str], list[str]]:
    """(espeak voices 'accent+variant', flite voices) of a split."""
    if split == "train":
        acc, var, fl = ESPEAK_ACCENTS_TRAIN, ESPEAK_VARIANTS_TRAIN, FLITE_TRAIN
    elif split == "heldout":
        acc, var, fl = ESPEAK_ACCENTS_HELDOUT, ESPEAK_VARIANTS_HELDOUT, []
    elif split == "flite":
        acc, var, fl = [], [], FLITE_HELDOUT
    else:
        raise LabError(f"unknown split {split!r}; one of {sorted(SPLITS)}")
    esp = [a + (f"+{v}" if v else "") for a in acc for v in var]
    return esp, list(fl)


def spec(split: str, index: int, seed: int = 0, *, text: str | None = None, augment: bool = True,
         flite_share: float = 0.12, min_words: int = 2, max_words: int = 8) -> ClipSpec:
    """The deterministic recipe of clip ``index`` of ``split``."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    esp, fl = voices(split)
    txt = text if text is not None else sentence(rng, min_words, max_words)
    use_flite = bool(fl) and (not esp or rng.random() < flite_share)
    if use_flite:
        engine, voice, speed, pitch = "flite", fl[int(rng.integers(len(fl)))], 0, 0
    else:
        engine, voice = "espeak", esp[int(rng.integers(len(esp)))]
        speed, pitch = int(rng.integers(130, 191)), int(rng.integers(15, 86))
    aug = augment and split == "train"
    tempo = float(np.round(rng.uniform(0.9, 1.15), 3)) if aug and rng.random() < 0.3 else 1.0
    reverb = int(rng.integers(10, 60)) if aug and rng.random() < 0.25 else 0
    snr = float(np.round(rng.uniform(15, 40), 1)) if aug and rng.random() < 0.4 else float("inf")
    noise = "pink" if rng.random() < 0.5 else "white"
    gain = float(np.round(rng.uniform(0.3, 0.9), 3))
    lead = float(np.round(rng.uniform(0.0, 0.4), 3))
    trail = float(np.round(rng.uniform(0.0, 0.4), 3))
    return ClipSpec(txt, engine, voice, speed, pitch, tempo, reverb, snr, noise, gain, lead, trail)


def _run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        raise LabError(f"{cmd[0]} failed ({r.returncode}): {r.stderr.decode(errors='ignore')[:300]}")


def _noise(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    w = rng.standard_normal(n)
    if kind == "pink":  # 1/f spectrum by shaping white noise in the frequency domain
        f = np.fft.rfft(w)
        f /= np.sqrt(np.maximum(np.arange(len(f)), 1))
        w = np.fft.irfft(f, n)
    return (w / (np.std(w) + 1e-12)).astype(np.float32)


def synthesize(s: ClipSpec, seed: int = 0, version: int = RECIPE_VERSION) -> np.ndarray:
    """Render a ClipSpec to 16 kHz mono float32 (bit-identical on every run).

    ``version`` 1 wrote 16-bit sox output, which sox dithers at random (+-1 LSB); kept only so old
    caches stay readable -- version 1 text also differed (see the module docstring).
    """
    with tempfile.TemporaryDirectory(prefix="zoo") as tmp:
        raw, out = os.path.join(tmp, "raw.wav"), os.path.join(tmp, "out.wav")
        if s.engine == "espeak":
            _run(["espeak-ng", "-v", s.voice, "-s", str(s.speed), "-p", str(s.pitch), "-w", raw, s.text])
        else:
            _run(["flite", "-voice", s.voice, "-t", s.text, "-o", raw])
        # -R: repeatable (seeded) effects; float output: no dither, so a clip is bit-identical each run
        cmd = ["sox", "-V1", "-R", raw, "-r", str(SAMPLE_RATE), "-c", "1", "-e", "floating-point",
               "-b", "32", out]
        if version == 1:
            cmd = ["sox", "-V1", raw, "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", out]
        if s.tempo != 1.0:
            cmd += ["tempo", "-s", str(s.tempo)]
        if s.reverb:
            cmd += ["reverb", str(s.reverb)]
        _run(cmd)
        x, sr = sf.read(out, dtype="float32")
    assert sr == SAMPLE_RATE
    x = np.trim_zeros(x) if x.ndim == 1 else x
    if not len(x) or not np.isfinite(x).all():
        raise LabError(f"synthesis produced no audio for {s}")
    x = x / (np.abs(x).max() + 1e-9)
    rng = np.random.default_rng([seed, int(s.key(), 16) % (2**31)])
    x = np.concatenate([np.zeros(int(s.lead * SAMPLE_RATE), np.float32), x,
                        np.zeros(int(s.trail * SAMPLE_RATE), np.float32)])
    if np.isfinite(s.snr_db):
        p = float(np.mean(x ** 2))
        x = x + _noise(rng, len(x), s.noise) * np.sqrt(p / 10 ** (s.snr_db / 10))
    x = x / (np.abs(x).max() + 1e-9) * s.gain
    return x.astype(np.float32)


def _synth_one(args):
    s, seed, version = args
    return synthesize(s, seed, version)


def corpus(split: str, n: int, seed: int = 0, *, workers: int = 1, start: int = 0,
           cache: Path | None = None, version: int = RECIPE_VERSION,
           **spec_kw) -> tuple[list[np.ndarray], list[ClipSpec]]:
    """Clips ``start .. start+n-1`` of ``split`` (audio list, specs). ``workers`` <= 2 processes.

    With ``cache`` set, the result is stored there as ``<split>-<seed>-<start>-<n>-<hash>.npz`` and
    reused (the hash covers the specs, so a changed recipe is re-synthesized).
    """
    specs = [spec(split, start + i, seed, **spec_kw) for i in range(n)]
    path = None
    if cache is not None:
        h = hashlib.sha1("".join(s.key() for s in specs).encode()).hexdigest()[:10]
        prefix = "" if version == 1 else f"v{version}-"
        path = Path(cache) / f"{prefix}{split}-{seed}-{start}-{n}-{h}.npz"
        if path.is_file():
            z = np.load(path)
            lens = z["lens"]
            flat = z["audio"]
            offs = np.concatenate([[0], np.cumsum(lens)])
            return [flat[offs[i]:offs[i + 1]] for i in range(n)], specs
    jobs = [(s, seed, version) for s in specs]
    if workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(min(workers, 2)) as pool:
            audio = pool.map(_synth_one, jobs, chunksize=16)
    else:
        audio = [_synth_one(j) for j in jobs]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, audio=np.concatenate(audio), lens=np.array([len(a) for a in audio]))
        tmp.replace(path)
    return audio, specs


TRAIN_CHUNK = 6000  # large training corpora are synthesized (and cached) in chunks of this many clips


def chunked_corpus(split: str, n: int, seed: int = 0, *, cache: Path | None = None,
                   version: int = RECIPE_VERSION, chunk: int = TRAIN_CHUNK,
                   ) -> tuple[list[np.ndarray], list[ClipSpec]]:
    """Clips ``0 .. n-1`` of ``split`` as :func:`corpus` gives them, built from cached chunks of
    ``chunk`` clips (one cache file per chunk, shared by every recipe that reads the same clips)."""
    audio: list[np.ndarray] = []
    specs: list[ClipSpec] = []
    for start in range(0, n, chunk):
        a, sp = corpus(split, min(chunk, n - start), seed, start=start, cache=cache, version=version)
        audio += a
        specs += sp
    return audio, specs


def data_cache() -> Path:
    from lab.cache import cache_dir

    return cache_dir() / "zoo-data"
