"""Figures from Traces or plain arrays. Never loads a model.

One module per family (``whisper.py``, ``ctc.py``, ``tts.py``, ``classify.py``) plus
``common.py`` (time axes, downsampling, the waveform envelope, token labels, the palette,
figure size) and ``wer.py`` (the WER alignment, any family).

``lab.viz.save(fig, path)`` writes any of them to a file, the format from the suffix (``.html``,
``.png``, ``.svg``, ``.pdf`` ...; ``lab/viz/save.py``).
"""
from .save import save  # noqa: E402,F401
