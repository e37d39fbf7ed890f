"""Write the small committed held-out sets under ``assets/heldout/`` (deterministic).

``python -m training.zoo.heldout speech`` writes ``assets/heldout/speech-en/``: the 20 shortest of the first
60 clips of the ``heldout`` split (espeak accents/variants and sentences never used in training), FLAC
16 kHz 16-bit, with ``texts.json`` ({file: {text, voice, speed, pitch}}). Both CTC zoo models
(``whisper-tiny.en-ctc``, ``tiny-wav2vec2-ctc-en``) are tested on it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from . import data

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "assets" / "heldout"


def write_speech(out: Path = HELDOUT / "speech-en", n: int = 20, pool: int = 60, seed: int = 0) -> Path:
    audio, specs = data.corpus("heldout", pool, seed)
    order = sorted(range(pool), key=lambda i: (len(audio[i]), i))[:n]
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for i in sorted(order):
        name = f"heldout-{i:03d}.flac"
        sf.write(out / name, np.clip(audio[i], -1, 1), data.SAMPLE_RATE, subtype="PCM_16")
        s = specs[i]
        meta[name] = {"text": s.text, "voice": s.voice, "speed": s.speed, "pitch": s.pitch}
    (out / "texts.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def load_speech(path: Path = HELDOUT / "speech-en") -> list[tuple[Path, str]]:
    meta = json.loads((path / "texts.json").read_text())
    return [(path / k, v["text"]) for k, v in sorted(meta.items())]


def write_keywords(out: Path = HELDOUT / "tiny-wav2vec2-keywords", per_digit: int = 2, seed: int = 0) -> Path:
    """Two clips per digit by held-out voices (indices 0..19 of the keyword held-out corpus)."""
    from .train_wav2vec2_keywords import DIGITS, corpus

    audio, labels, specs = corpus("heldout", 10 * per_digit, seed)
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for i, (a, y, s) in enumerate(zip(audio, labels, specs)):
        name = f"{i:02d}-{DIGITS[y]}.flac"
        sf.write(out / name, np.clip(a, -1, 1), data.SAMPLE_RATE, subtype="PCM_16")
        meta[name] = {"label": DIGITS[y], "voice": s.voice, "speed": s.speed, "pitch": s.pitch}
    (out / "labels.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def write_frames(out: Path = HELDOUT / "tiny-wav2vec2-frames", n: int = 5, seed: int = 0) -> Path:
    """Held-out scenes 0..n-1 with their per-sample labels as segments [start, end, label]."""
    from .train_wav2vec2_frames import LABELS, scene

    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for i in range(n):
        a, lab = scene("heldout", i, seed)
        name = f"scene-{i:02d}.flac"
        sf.write(out / name, np.clip(a, -1, 1), data.SAMPLE_RATE, subtype="PCM_16")
        edges = np.flatnonzero(np.diff(lab)) + 1
        starts, ends = np.r_[0, edges], np.r_[edges, len(lab)]
        meta[name] = [[int(s), int(e), LABELS[int(lab[s])]] for s, e in zip(starts, ends)]
    (out / "segments.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def write_ast_sounds(out: Path = HELDOUT / "tiny-ast-sounds", n: int = 32, seed: int = 0) -> Path:
    """Held-out sound scenes 0..n-1 of ``tiny-ast-sounds`` (held-out voices and scene seeds), FLAC
    16-bit, with ``labels.json`` ({file: [labels]})."""
    from .sounds import LABELS, scene, speech_pool
    from .train_ast_sounds import N_SPEECH_HELDOUT, SPEECH_START

    pool = speech_pool("heldout", N_SPEECH_HELDOUT, seed, SPEECH_START)
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for i in range(n):
        a, y = scene("heldout", i, seed, pool)
        names = [LABELS[j] for j in np.flatnonzero(y)]
        name = f"scene-{i:02d}.flac"
        sf.write(out / name, np.clip(a, -1, 1), data.SAMPLE_RATE, subtype="PCM_16")
        meta[name] = names
    (out / "labels.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def write_sound_examples(out: Path = ROOT / "assets" / "clips" / "scenes", seed: int = 0) -> Path:
    """Two example mixtures for the Classify tab (held-out voice, fixed seeds), 16-bit WAV, with
    ``scenes.json`` ({file: {labels, made_with}}): a sentence over a wailing siren, and a struck
    chord with clicks over noise at -10 dB."""
    from . import sounds

    pool = sounds.speech_pool("heldout", 1, seed, start=0)
    rng = np.random.default_rng([seed, 5150])
    n = 4 * data.SAMPLE_RATE
    sp = sounds.speech_segment(rng, n, pool)
    sp /= np.sqrt(np.mean(sp ** 2)) + 1e-9
    si = sounds.siren(rng, n, shape="wail")
    si /= np.sqrt(np.mean(si ** 2))
    a = sp + 0.5 * sounds._fade(si)
    ch = sounds.chord(rng, n)
    ch /= np.sqrt(np.mean(ch ** 2))
    cl = sounds.clicks(rng, n) * 4.0
    no = sounds.noise(rng, n)
    no /= np.sqrt(np.mean(no ** 2))
    b = ch + cl + 0.3 * no
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for name, x, labels in (("speech_siren.wav", a, ["speech", "siren"]),
                            ("chord_clicks_noise.wav", b, ["chord", "clicks", "noise"])):
        sf.write(out / name, (x / np.abs(x).max() * 0.8).astype(np.float32), data.SAMPLE_RATE,
                 subtype="PCM_16")
        meta[name] = {"labels": labels, "made_with": "training.zoo.heldout.write_sound_examples (training/zoo/sounds.py)"}
    (out / "scenes.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def write_tts(out: Path = HELDOUT / "tiny-speecht5-tts-en", n: int = 20, seed: int = 0) -> Path:
    """``sentences.json``: ``n`` Harvard-style test sentences of ``tiny-speecht5-tts-en`` (all 20:
    the card's set; never in its training texts) with the duration of the training voice's own
    rendering (flite ``awb``, silence trimmed: :mod:`training.zoo.tts_data`), the stop token's reference."""
    from . import tts_data
    from .train_speecht5_tts import test_texts

    texts = test_texts(seed)["harvard"][:n]
    _, samples = tts_data.corpus(texts, workers=1)
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"text": t, "reference_seconds": round(float(s) / data.SAMPLE_RATE, 3)} for t, s in zip(texts, samples)]
    (out / "sentences.json").write_text(json.dumps(rows, indent=1) + "\n")
    return out


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "speech"
    if which == "speech":
        print(write_speech())
    elif which == "keywords":
        print(write_keywords())
    elif which == "frames":
        print(write_frames())
    elif which == "sounds":
        print(write_ast_sounds())
        print(write_sound_examples())
    elif which == "tts":
        print(write_tts())
