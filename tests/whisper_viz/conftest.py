"""Fixtures: the hand-built Whisper Traces of ``fake_whisper_trace.py``."""
from __future__ import annotations

import pytest

from fake_whisper_trace import make_fake_trace


@pytest.fixture
def fake_trace():
    return make_fake_trace()


@pytest.fixture
def fake_trace_30s():
    return make_fake_trace(30.0, n_steps=40, enc_layers=1, beam=True)
