"""The CTC lab: raw-waveform and mel-input ``*ForCTC`` models, from waveform to collapsed text.

- ``trace_ctc(audio, loaded, ...) -> Trace``    capture (capture.py; names in names.py: ``describe()``)
- ``collapse`` / ``Vocab``                     greedy decoding stages with frame spans (collapse.py)
- ``forced_align`` / ``align_reference``       CTC Viterbi alignment of a reference (align.py)
- ``build_lm`` / ``beam_decode`` / ``compare`` beam search with an n-gram LM from text (lm.py)
- ``geometry``                                 hop / receptive field of every conv layer (frames.py)
- ``M-CTC-T``                                  the lab's own implementation (mctct/)

Imports are lazy so that ``lab.ctc.mctct`` loads without the rest.
"""
from __future__ import annotations

_EXPORTS = {
    "trace_ctc": "capture", "default_policy": "capture", "vocab_of": "capture",
    "score_reference": "capture", "decode_with_beams": "capture",
    "collapse": "collapse", "Vocab": "collapse",
    "forced_align": "align", "align_reference": "align",
    "build_lm": "lm", "beam_decode": "lm", "compare": "lm",
    "geometry": "frames", "FrameGeometry": "frames",
    "wer_cer": "score",
    "describe": "names", "AXES": "names", "META": "names", "MODULES": "names",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
