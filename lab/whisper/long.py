"""Audio longer than one 30 s window: consecutive 30 s windows, each traced, text joined.

This is the simple scheme (fixed windows, no overlap, no conditioning on the previous window's
text, no timestamp-driven seeking as in ``generate()``'s long-form mode): a word cut by a window
edge may be lost or split. It keeps every window's full trace so each can be inspected.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..audio import Audio
from ..errors import LabError
from ..trace import CapturePolicy, Trace
from .constants import SAMPLE_RATE, WINDOW_SECONDS
from .tracer import as_audio, as_loaded, trace_whisper

# Per window, encoder self-attention is 1500 x 1500 per head and layer (~110 MB on tiny.en at fp16):
# by default long audio keeps everything else.
LONG_DEFAULT_NAMES = ["input.*", "encoder.conv.*", "encoder.hidden", "encoder.output", "decoder.*",
                      "timestamps.*"]


@dataclass
class LongResult:
    """``traces[k]``: the trace of window k (times inside it start at 0); ``windows[k]``:
    (start_s, end_s) of window k in the whole clip; ``words``: every window's words with
    absolute times; ``text``: window texts joined with spaces; ``wer`` when a reference was given."""

    traces: list[Trace]
    text: str
    windows: list[tuple[float, float]]
    words: list[dict] = field(default_factory=list)
    wer: dict | None = None


def windows_of(n_samples: int, window_seconds: float = WINDOW_SECONDS) -> list[tuple[int, int]]:
    """Sample ranges [start, end) of consecutive windows covering ``n_samples``."""
    step = int(round(window_seconds * SAMPLE_RATE))
    return [(a, min(a + step, n_samples)) for a in range(0, n_samples, step)]


def trace_long(audio, loaded=None, *, policy: CapturePolicy | None = None, reference: str | None = None,
               window_seconds: float = WINDOW_SECONDS, progress=None, **kwargs) -> LongResult:
    """Trace ``audio`` of any length (up to ``lab.audio``'s limit) window by window.

    ``kwargs`` go to :func:`trace_whisper` for every window (top_k, max_steps, beam_size,
    word_timestamps, language, task ...). ``progress(k, n)`` is called before window k of n.
    """
    if not 0 < window_seconds <= WINDOW_SECONDS:
        raise LabError(f"window_seconds must be in (0, 30], got {window_seconds}")
    loaded = as_loaded(loaded)
    audio: Audio = as_audio(audio)
    policy = policy or CapturePolicy(names=LONG_DEFAULT_NAMES)
    spans = windows_of(len(audio.samples), window_seconds)
    traces, words, texts = [], [], []
    for k, (a, b) in enumerate(spans):
        if progress is not None:
            progress(k, len(spans))
        piece = Audio(samples=audio.samples[a:b], sample_rate=SAMPLE_RATE,
                      source=f"{audio.source}[{a / SAMPLE_RATE:.2f}-{b / SAMPLE_RATE:.2f}s]")
        tr = trace_whisper(piece, loaded, policy=policy, **kwargs)
        start = a / SAMPLE_RATE
        tr.meta["window"] = {"index": k, "start": start, "end": b / SAMPLE_RATE, "count": len(spans)}
        traces.append(tr)
        texts.append(tr.meta["text"].strip())
        words += [dict(w, start=round(w["start"] + start, 3), end=round(w["end"] + start, 3), window=k)
                  for w in tr.meta.get("words", [])]
    text = " ".join(t for t in texts if t)
    wer = None
    if reference is not None:
        from ..wer import wer_alignment

        wer = wer_alignment(reference, text)
    return LongResult(traces=traces, text=text,
                      windows=[(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in spans], words=words, wer=wer)
