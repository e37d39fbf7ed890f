"""Tiny random CTC models (lab.ctc.tiny) and a clip, shared by the CTC tests."""
import functools

import pytest

from lab.ctc import tiny


@functools.lru_cache(maxsize=None)
def _loaded(arch: str, attn: str = "eager"):
    import tempfile

    return tiny.loaded(arch, tempfile.mkdtemp(prefix=f"ctc-test-{arch}-"), attn=attn)


@pytest.fixture(params=tiny.ARCHS)
def any_loaded(request):
    return _loaded(request.param)


@pytest.fixture
def w2v():
    return _loaded("wav2vec2")


@pytest.fixture
def w2v_sdpa():
    return _loaded("wav2vec2", "sdpa")


@pytest.fixture
def clip(clips_dir):
    return str(clips_dir / "quick_brown_fox.wav")


@pytest.fixture
def short_audio():
    """0.5 s of a chirp at 16 kHz (fast to trace)."""
    import numpy as np

    t = np.arange(8000) / 16000
    return (16000, (0.3 * np.sin(2 * np.pi * (200 + 400 * t) * t)).astype("float32"))
