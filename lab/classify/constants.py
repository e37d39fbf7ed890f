"""Classifier numbers, one name each.

AST reads a Kaldi log-mel filterbank: 25 ms windows every 10 ms (100 frames/s). Not to be
confused with Whisper's ``WINDOW_SECONDS`` (one 30 s encoder window).
"""
from ..audio import SAMPLE_RATE

FBANK_WINDOW_SECONDS = 0.025  # Kaldi fbank frame length used by ASTFeatureExtractor
FBANK_HOP_SECONDS = 0.010     # Kaldi fbank frame shift (10 ms -> 100 frames/s)
TOP_K = 5                     # best labels listed in meta["top_k"]
FRAME_THRESHOLD = 0.5         # frame classifiers with sigmoid: a label is active above this

__all__ = ["SAMPLE_RATE", "FBANK_WINDOW_SECONDS", "FBANK_HOP_SECONDS", "TOP_K", "FRAME_THRESHOLD"]
