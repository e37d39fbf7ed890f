"""SpeechT5 TTS numbers, one name each."""
from ..audio import SAMPLE_RATE

STOP_THRESHOLD = 0.5  # stop when a step's summed stop probability reaches this (generate_speech's default)

__all__ = ["SAMPLE_RATE", "STOP_THRESHOLD"]
