"""Figures from Traces or plain arrays. Never loads a model.

One module per family (``whisper.py``, ``ctc.py``, ``tts.py``, ``classify.py``) plus
``common.py`` (time axes, downsampling, figure size).
"""
