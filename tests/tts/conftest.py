"""Tiny random SpeechT5 models saved to tmp dirs and resolved as local directories."""
import pytest
import torch

from lab.models import resolve
from lab.tts.tiny import build_tiny_hifigan, build_tiny_tts


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread (and the 2 shared cores stay usable). Module scope:
    set before module-scoped traces are made, so a trace and its reference run with the same
    thread count (float reductions -- hence bit-equality -- depend on it)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tts_dir(tmp_path_factory):
    """Random stop layer: summed stop probability ~1.09 > 0.5, so it stops at the first step the
    rules allow."""
    return build_tiny_tts(tmp_path_factory.mktemp("tts"))


@pytest.fixture(scope="session")
def tts(tts_dir):
    return resolve(str(tts_dir), family="tts")


@pytest.fixture(scope="session")
def tts_long(tmp_path_factory):
    """Stop layer biased low (summed stop probability ~0.17): runs to max length unless the
    threshold is lowered; short positions so the over-long-text paths are cheap."""
    d = build_tiny_tts(tmp_path_factory.mktemp("tts_long"), stop_bias=-2.5, max_text_positions=40,
                       max_speech_positions=60)
    return resolve(str(d), family="tts")


@pytest.fixture(scope="session")
def tts_stop(tmp_path_factory):
    """Stop layer biased high (summed stop probability ~2): stops as soon as allowed."""
    d = build_tiny_tts(tmp_path_factory.mktemp("tts_stop"), stop_bias=5.0)
    return resolve(str(d), family="tts")


@pytest.fixture(scope="session")
def hifigan_dir(tmp_path_factory):
    return build_tiny_hifigan(tmp_path_factory.mktemp("hifigan"))


@pytest.fixture(scope="session")
def speaker():
    from lab.tts.speaker import load_speaker

    return load_speaker(None, 512)[0]


def _ids_of(loaded, text):
    return loaded.processor(text=text, return_tensors="pt")["input_ids"]


@pytest.fixture(scope="session")
def ids_of():
    """``ids_of(loaded, text)`` -> (1, text_token) token ids."""
    return _ids_of
