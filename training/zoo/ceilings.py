"""What the zoo's goals are up against: Whisper tiny.en as a listener on the zoo's own test audio.

- ``ctc``: Whisper tiny.en's own encoder-decoder (greedy, with its language model) on the CTC
  held-out clips (``training.zoo.data`` split ``heldout``: held-out espeak voices, random word
  sequences) -- the reference for the CTC models' CER.
- ``voices``: Whisper tiny.en on each candidate TTS voice's own audio of the Harvard-style test
  sentences, raw and through SpeechT5's log-mel + Griffin-Lim -- the ceiling for the TTS model's
  WER (a model cannot be understood better than the voice it imitates).

``python -m training.zoo.ceilings ctc [N]`` / ``python -m training.zoo.ceilings voices``. Scores are corpus
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


def voice_wer(texts: list[str], voice: tuple | None = None, *, griffin_lim: bool = True,
              whisper=None) -> float:
    """Whisper tiny.en's corpus WER on ``voice``'s own audio of ``texts`` (``(engine, voice, speed,
    pitch)``, default the TTS training voice; silence trimmed by :func:`training.zoo.tts_data.speak`),
    through SpeechT5's log-mel + Griffin-Lim when ``griffin_lim``, else raw."""
    from lab.models import load_cached
    from lab.tts.intelligibility import check
    from lab.tts.vocoder import griffin_lim as vocode

    from . import tts_data

    whisper = whisper or load_cached(None, family="whisper")
    rates = _Rates()
    for t in texts:
        x = tts_data.speak(t, voice)
        if griffin_lim:
            x = np.asarray(vocode(tts_data.mel(x)))
        rates.add(check(x, data.SAMPLE_RATE, t, whisper), t)
    return rates.wer()


def voices(texts: list[str] | None = None, which: list[tuple] | None = None) -> list[dict]:
    """Per voice of ``which`` (default :data:`VOICES`: ``(engine, voice, speed, pitch)``):
    ``{"engine", "voice", "wer_raw", "wer_griffin_lim"}`` on ``texts`` (default: the Harvard-style
    sentences)."""
    from lab.models import load_cached

    from .sentences import HARVARD

    texts = texts or [t[0].upper() + t[1:] + "." for t in HARVARD]
    whisper = load_cached(None, family="whisper")
    return [{"engine": v[0], "voice": v[1],
             "wer_raw": voice_wer(texts, v, griffin_lim=False, whisper=whisper),
             "wer_griffin_lim": voice_wer(texts, v, whisper=whisper)} for v in which or VOICES]


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "ctc"
    if which == "ctc":
        print(ctc(int(sys.argv[2]) if len(sys.argv) > 2 else 300))
    elif which == "voices":
        for row in voices():
            print(row)
    else:
        raise SystemExit("usage: python -m training.zoo.ceilings ctc [N] | voices")
