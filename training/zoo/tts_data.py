"""Speech for ``tiny-speecht5-tts-en``: one flite voice, text -> (log10-mel, duration).

Every clip is flite's ``awb`` voice at its own rate, no augmentation (a TTS model learns one
voice), rendered by :func:`training.zoo.data.synthesize`, leading/trailing silence trimmed
(``librosa.effects.trim``, 40 dB below peak) so the stop target is the end of speech, then turned
into SpeechT5's target features with ``SpeechT5FeatureExtractor(audio_target=...)``: (mel_frame,
80) log10-mel, 62.5 frames/s (hop 256 at 16 kHz).

Texts (written as people type them: mostly sentence case with a final mark): half random word sequences (``data.sentence``: sounds of 3000 common words), half short
grammatical sentences (``sentences.simple_sentence``: function words and phrasing). Training,
held-out and test texts come from different seeds; ``sentences.HARVARD`` never comes from either.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from . import data
from .sentences import simple_sentence, written

# Version 1 used espeak-ng en-us (165 wpm, pitch 50). Whisper tiny.en mis-hears that voice even in
# its own audio (WER 0.31 on the Harvard-style sentences, 0.34 after log-mel + Griffin-Lim: above
# the 0.30 goal before any model is involved); flite awb scores 0.09 raw, 0.11 through
# Griffin-Lim (same 20 sentences; `python -m training.zoo.ceilings voices`), so version 2 learns awb.
ENGINE, VOICE, SPEED, PITCH = "flite", "awb", 0, 0
TRIM_DB = 40
SPLIT_SEEDS = {"train": 11, "heldout": 12}
VERSION = 2


def text(split: str, index: int, seed: int = 0) -> str:
    """Text of clip ``index``: even indices a grammatical sentence, odd a word sequence, either
    written as typed (:func:`sentences.written`: mostly sentence case with a final mark)."""
    rng = np.random.default_rng([seed, 77, SPLIT_SEEDS[split], index])
    t = simple_sentence(rng) if index % 2 == 0 else data.sentence(rng, 2, 8)
    return written(t, rng, question=index % 2 == 0)


def speak(txt: str, voice: tuple[str, str, int, int] | None = None) -> np.ndarray:
    """16 kHz float32 waveform of ``txt``, silence trimmed, in ``voice`` = ``(engine, voice, speed,
    pitch)`` (default: the training voice)."""
    import librosa

    engine, name, speed, pitch = voice or (ENGINE, VOICE, SPEED, PITCH)
    s = data.ClipSpec(txt, engine, name, speed, pitch, 1.0, 0, float("inf"), "white", 0.7, 0.0, 0.0)
    x = data.synthesize(s)
    x, _ = librosa.effects.trim(x, top_db=TRIM_DB, frame_length=512, hop_length=128)
    return x


def mel(x: np.ndarray) -> np.ndarray:
    """(mel_frame, 80) log10-mel target of a 16 kHz waveform (SpeechT5's feature extractor)."""
    from transformers import SpeechT5FeatureExtractor

    return SpeechT5FeatureExtractor()(audio_target=x, sampling_rate=data.SAMPLE_RATE).input_values[0]


def _one(txt: str) -> tuple[np.ndarray, int]:
    x = speak(txt)
    return mel(x).astype(np.float16), len(x)


def corpus(texts: list[str], *, workers: int = 2, cache: Path | None = None
           ) -> tuple[list[np.ndarray], np.ndarray]:
    """(mels: one (mel_frame, 80) float16 array per text, samples: waveform lengths at 16 kHz)."""
    path = None
    if cache is not None:
        h = hashlib.sha1(("\n".join(texts) + f"|{ENGINE}|{VOICE}|{SPEED}|{PITCH}|{TRIM_DB}|{VERSION}").encode())
        path = cache / f"tts-{len(texts)}-{h.hexdigest()[:12]}.npz"
        if path.is_file():
            with np.load(path) as z:  # read each array once (NpzFile re-reads on every access)
                flat, idx, samples = z["mel"], z["idx"], z["samples"]
            return [flat[a:b] for a, b in zip(idx[:-1], idx[1:])], samples
    if workers > 1:
        from multiprocessing import get_context

        with get_context("fork").Pool(workers) as pool:
            out = pool.map(_one, texts, chunksize=16)
    else:
        out = [_one(t) for t in texts]
    mels, samples = [m for m, _ in out], np.array([n for _, n in out])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        idx = np.cumsum([0] + [m.shape[0] for m in mels])
        np.savez(path, mel=np.concatenate(mels), idx=idx, samples=samples)
    return mels, samples
