"""Figures from Traces or plain arrays. Never loads a model.

One module per family (``whisper.py``, ``ctc.py``, ``tts.py``, ``classify.py``) plus
``common.py`` (time axes, downsampling, the waveform envelope, token labels, the palette,
figure size) and ``wer.py`` (the WER alignment, any family).
"""
