"""Whisper's fixed numbers, one name each (every Whisper checkpoint shares them).

A window is 30 s of 16 kHz audio -> 3000 log-mel frames (hop 160 samples = 10 ms, 100/s) -> the
conv stem halves the rate -> 1500 encoder frames (50/s, 20 ms each).
"""
from ..audio import SAMPLE_RATE

HOP = 160                                  # samples per mel frame (10 ms)
WINDOW_SECONDS = 30.0                      # one encoder window
WINDOW_SAMPLES = int(WINDOW_SECONDS * SAMPLE_RATE)
MEL_FRAMES_PER_SECOND = SAMPLE_RATE / HOP  # 100.0
ENCODER_FRAMES_PER_SECOND = MEL_FRAMES_PER_SECOND / 2  # 50.0 (conv2 has stride 2)
WINDOW_MEL_FRAMES = int(WINDOW_SECONDS * MEL_FRAMES_PER_SECOND)  # 3000
WINDOW_ENCODER_FRAMES = int(WINDOW_SECONDS * ENCODER_FRAMES_PER_SECOND)  # 1500
SECONDS_PER_ENCODER_FRAME = 1.0 / ENCODER_FRAMES_PER_SECOND  # 0.02
TIMESTAMP_SECONDS = 0.02                   # one <|t|> timestamp token step

__all__ = ["SAMPLE_RATE", "HOP", "WINDOW_SECONDS", "WINDOW_SAMPLES", "MEL_FRAMES_PER_SECOND",
           "ENCODER_FRAMES_PER_SECOND", "SECONDS_PER_ENCODER_FRAME", "TIMESTAMP_SECONDS",
           "WINDOW_MEL_FRAMES", "WINDOW_ENCODER_FRAMES"]
