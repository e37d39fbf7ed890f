"""The per-model lock under the app: concurrent gradio_client clients x requests per family
(Whisper, CTC, TTS, Classify with an AST and a wav2vec2 classifier; 8 x 2 by default, 20 x 5 with
AUDIOLAB_APP_CONCURRENCY=20x5), each client its own clip or text, on ONE shared tiny random model per family (``apps.factory.set_loader``). Every answer must
equal the solo answer of that client's input (computed beforehand through the same API), with no
failure; and the requests must really have met on the model's lock (so the test could fail: with
the lock disabled, ``scripts/app_concurrency.py --tiny --no-lock``, they give wrong results).

The harness is ``scripts/app_concurrency.py`` (the same run on the real offline models).
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lab.classify import tiny as classify_tiny
from lab.models import Loaded
from lab.tts import tiny as tts_tiny
from lab.whisper import tiny as whisper_tiny

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parents[2]
# 20 x 5 per family takes ~6 min here (every request draws the tab's figures): the default run
# is 8 clients x 2 requests; AUDIOLAB_APP_CONCURRENCY=20x5 runs the full load (it passed).
CLIENTS, REQUESTS = map(int, os.environ.get("AUDIOLAB_APP_CONCURRENCY", "8x2").split("x"))


def _harness():
    spec = importlib.util.spec_from_file_location("app_concurrency",
                                                  ROOT / "scripts" / "app_concurrency.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


H = _harness()


# -- tiny random models, one per family, shared by every request ----------------------------------
def _whisper() -> Loaded:
    return whisper_tiny.loaded(d_model=32, max_positions=12)


def _tts() -> Loaded:
    return replace(tts_tiny.loaded(), model_id="speecht5-tiny-random")


def _classify(kind: str) -> Loaded:
    return classify_tiny.loaded(kind)


@pytest.fixture(scope="module")
def models():
    from lab.ctc import tiny

    return {"whisper": _whisper(), "ctc": tiny.loaded("wav2vec2"), "tts": _tts(),
            "tiny-ast": _classify("ast"), "tiny-wav2vec2-seq": _classify("wav2vec2-seq")}


@pytest.fixture(scope="module")
def url(models):
    from apps import factory

    n = torch.get_num_threads()
    torch.set_num_threads(1)  # solo and concurrent runs reduce floats in the same order

    def loader(model_id, family, attention=True):
        return models[model_id] if family == "classify" else models[family]

    factory.set_loader(loader)
    demo, url = H.launch()
    yield url
    demo.close()
    factory.set_loader(None)
    torch.set_num_threads(n)


class CountingLock:
    """The real per-model lock, counting the times a request had to wait for another one, and
    holding it ``HOLD_S`` longer each time (a wider window for requests to meet: an AST forward
    pass is over in a few ms, so 8 x 2 requests would seldom collide otherwise)."""

    HOLD_S = 0.01
    waits = 0
    _guard = threading.Lock()

    def __init__(self, lock):
        self.lock = lock

    def __enter__(self):
        if not self.lock.acquire(blocking=False):
            with CountingLock._guard:
                CountingLock.waits += 1
            self.lock.acquire()
        time.sleep(self.HOLD_S)
        return self

    def __exit__(self, *exc):
        self.lock.release()


@pytest.fixture
def counted_lock():
    import lab.capture

    real = lab.capture.model_lock
    CountingLock.waits = 0
    restore = H.patch_lock(lambda model: CountingLock(real(model)))
    yield CountingLock
    restore()
    assert lab.capture.model_lock is real


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("clients")
    return {"audio": H.clips(d, CLIENTS), "text": H.texts(CLIENTS)}


CASES = {  # test id -> (harness family name, model id in the tab's box, input kind)
    "whisper": ("whisper", "whisper-tiny.en", "audio"),
    "ctc": ("ctc", "tiny", "audio"),
    "tts": ("tts", "speecht5-tiny-random", "text"),
    "classify-ast": ("classify-ast", "tiny-ast", "audio"),
    "classify-wav2vec2": ("classify-wav2vec2", "tiny-wav2vec2-seq", "audio"),
}


def test_the_lock_is_patched_everywhere_it_is_used():
    """patch_lock must reach the modules that imported model_lock by name (the TTS loop, the
    Whisper beam search), else disabling the lock would leave them locked."""
    import lab.tts.loop  # noqa: F401
    import lab.whisper.beam  # noqa: F401

    names = {m.__name__ for m in H.lock_users()}
    assert {"lab.capture", "lab.tts.loop", "lab.whisper.beam"} <= names


@pytest.mark.parametrize("case", list(CASES))
def test_concurrent_clients_get_their_own_results(case, url, inputs, counted_lock):
    name, model_id, kind = CASES[case]
    fam = H.family(name, model_id, inputs[kind], tts_maxlenratio=1.0)
    expected = H.solo(url, fam)
    # the inputs are told apart by their answers: a mix-up cannot go unnoticed
    assert len(set(expected)) == CLIENTS
    counted_lock.waits = 0
    res = H.concurrent(url, fam, expected, clients=CLIENTS, requests=REQUESTS)
    assert res.requests == CLIENTS * REQUESTS
    assert not res.failures, "\n".join(res.failures[:10])
    assert not res.wrong, "\n".join(res.wrong[:10])
    # requests met on the model's lock: without it they would have run at the same time
    assert counted_lock.waits > 0
