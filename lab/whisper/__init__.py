"""Whisper: capture the encoder, drive the decoder one token at a time, beam search, word
timestamps, long audio. Names, axes and meta keys: ``lab/whisper/names.py`` (``AXES``, ``META``;
``describe()``)."""
from .names import describe
from .tracer import alignment_heads, iter_trace_whisper, trace_whisper

__all__ = ["trace_whisper", "iter_trace_whisper", "trace_long", "LongResult", "alignment_heads",
           "describe"]


def __getattr__(name):  # lazy: long.py imports tracer
    if name in ("trace_long", "LongResult"):
        from . import long

        return getattr(long, name)
    raise AttributeError(name)
