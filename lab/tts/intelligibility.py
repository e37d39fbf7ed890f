"""Automatic intelligibility: the lab's Whisper transcribes the generated audio; WER against the
text that was spoken.

A classic objective companion to the MOS panel: if an ASR model understands the synthetic speech,
people most likely do too (it says nothing about naturalness). The default transcriber is the
lab's offline Whisper (``lab.models.DEFAULTS["whisper"]``, tiny.en); WER/CER come from
``lab.wer.wer_alignment`` (normalised as ``lab.wer.NORMALIZATION`` says).
"""
from __future__ import annotations

import time

import numpy as np

from lab.errors import LabError

from .constants import SAMPLE_RATE


def check(waveform, sample_rate: int, text: str, whisper=None) -> dict:
    """Transcribe ``waveform`` (float (sample,), any rate: resampled to 16 kHz) and score it.

    ``whisper``: a ``lab.models.Loaded`` Whisper or a model id (``None``: the lab's default).
    Returns ``reference``, ``hypothesis``, ``wer``, ``cer``, ``hits``, ``substitutions``,
    ``insertions``, ``deletions``, ``ops`` (word alignment), ``whisper_model``,
    ``whisper_source``, ``seconds``, ``transcribe_s``.
    """
    from lab.audio import load_audio
    from lab.models import load_cached
    from lab.wer import wer_alignment

    if whisper is None or isinstance(whisper, str):
        whisper = load_cached(whisper, family="whisper")
    w = np.asarray(waveform.detach().cpu().numpy() if hasattr(waveform, "detach") else waveform,
                   dtype=np.float32)
    if w.size == 0:
        raise LabError("no audio to transcribe: generate speech first")
    audio = load_audio((int(sample_rate), w), SAMPLE_RATE)
    t0 = time.perf_counter()
    if audio.seconds <= 30.0:
        from lab.whisper import trace_whisper

        tr = trace_whisper(audio, whisper, top_k=1, word_timestamps=False)
        hypothesis = tr.meta.get("text", "")
    else:
        from lab.whisper import trace_long

        hypothesis = trace_long(audio, whisper, top_k=1, word_timestamps=False).text
    elapsed = time.perf_counter() - t0
    hypothesis = (hypothesis or "").strip()
    try:
        score = wer_alignment(text, hypothesis)
    except LabError as exc:
        raise LabError(f"cannot score intelligibility: {exc}") from None
    return dict(score, reference=text, hypothesis=hypothesis, whisper_model=whisper.model_id,
                whisper_source=whisper.weights_source, seconds=audio.seconds,
                transcribe_s=round(elapsed, 3))
