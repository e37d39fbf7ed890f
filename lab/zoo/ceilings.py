"""What the zoo's goals are up against: Whisper tiny.en as a listener on the zoo's own test audio.

- ``ctc``: Whisper tiny.en's own encoder-decoder (greedy, with its language model) on the CTC
  held-out clips (``lab.zoo.data`` split ``heldout``: held-out espeak voices, random word
  sequences) -- the reference for the CTC models' CER.
- ``voices``: Whisper tiny.en on each candidate TTS voice's own audio of the Harvard-style test
  sentences, raw and through SpeechT5's log-mel + Griffin-Lim -- the ceiling for the TTS model's
  WER (a model cannot be understood better than the voice it imitates).

``python -m lab.zoo.ceilings ctc [N]`` / ``python -m lab.zoo.ceilings voices``. Scores are corpus
rates: errors / reference words (WER) or characters (CER), from :func:`lab.tts.intelligibility.check`.
"""
from __future__ import annotations

import sys

import numpy as np

from . import data

VOICES = [("espeak", "en-us", 165, 50), ("espeak", "en-us+m3", 150, 50),
          ("espeak", "en-gb-x-rp", 150, 50), ("flite", "awb", 0, 0), ("flite", "rms", 0, 0),
          ("flite", "slt", 0, 0), ("flite", "kal16", 0, 0)]


class _Rates:
    """Accumulates word and character errors over clips."""

    def __init__(self):
        self.word_err = self.words = 0
        self.char_err = self.chars = 0.0

    def add(self, r: dict, text: str) -> None:
        self.word_err += r["substitutions"] + r["deletions"] + r["insertions"]
        self.words += r["hits"] + r["substitutions"] + r["deletions"]
        self.char_err += r["cer"] * len(text)
        self.chars += len(text)

    def wer(self) -> float:
        return round(self.word_err / max(self.words, 1), 4)

    def cer(self) -> float:
        return round(self.char_err / max(self.chars, 1), 4)


def ctc(n: int = 300, seed: int = 0) -> dict:
    """``{"clips", "cer", "wer"}`` of Whisper tiny.en on the first ``n`` CTC held-out clips."""
    from lab.models import load_cached
    from lab.tts.intelligibility import check

    whisper = load_cached(None, family="whisper")
    audio, specs = data.corpus("heldout", n, seed, cache=data.data_cache())
    rates = _Rates()
    for a, s in zip(audio, specs):
        rates.add(check(a, data.SAMPLE_RATE, s.text, whisper), s.text)
    return {"clips": n, "cer": rates.cer(), "wer": rates.wer()}


def voices(texts: list[str] | None = None, which: list[tuple] | None = None) -> list[dict]:
    """Per voice of ``which`` (default :data:`VOICES`: ``(engine, voice, speed, pitch)``):
    ``{"engine", "voice", "wer_raw", "wer_griffin_lim"}`` on ``texts`` (default: the Harvard-style
    sentences), silence trimmed as in :mod:`lab.zoo.tts_data`."""
    import librosa

    from lab.models import load_cached
    from lab.tts.intelligibility import check
    from lab.tts.vocoder import griffin_lim

    from . import tts_data
    from .sentences import HARVARD

    texts = texts or [t[0].upper() + t[1:] + "." for t in HARVARD]
    whisper = load_cached(None, family="whisper")
    out = []
    for engine, voice, speed, pitch in which or VOICES:
        raw, gl = _Rates(), _Rates()
        for t in texts:
            s = data.ClipSpec(t, engine, voice, speed, pitch, 1.0, 0, float("inf"), "white", 0.7, 0.0, 0.0)
            x, _ = librosa.effects.trim(data.synthesize(s), top_db=tts_data.TRIM_DB, frame_length=512,
                                        hop_length=128)
            raw.add(check(x, data.SAMPLE_RATE, t, whisper), t)
            gl.add(check(np.asarray(griffin_lim(tts_data.mel(x))), data.SAMPLE_RATE, t, whisper), t)
        out.append({"engine": engine, "voice": voice, "wer_raw": raw.wer(), "wer_griffin_lim": gl.wer()})
    return out


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "ctc"
    if which == "ctc":
        print(ctc(int(sys.argv[2]) if len(sys.argv) > 2 else 300))
    elif which == "voices":
        for row in voices():
            print(row)
    else:
        raise SystemExit("usage: python -m lab.zoo.ceilings ctc [N] | voices")
