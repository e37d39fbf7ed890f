"""Tiny random classifiers (hidden 32, 2 layers, eager, seed 0) saved as HF dirs and resolved
through the lab's resolver, plus a short clip."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lab.audio import load_audio
from lab.classify.tiny import make_tiny, tiny_model
from lab.models import Loaded, resolve


def _lab_hooks(model) -> int:
    """Hooks installed anywhere in ``model``, not counting the permanent output-capturing hooks
    transformers 5 itself installs on the first forward of some models (wav2vec2 family)."""
    n = 0
    for m in model.modules():
        for fn in list(m._forward_hooks.values()) + list(m._forward_pre_hooks.values()):
            if "output_capuring_hook" not in getattr(fn, "__qualname__", "") \
                    and "output_capturing_hook" not in getattr(fn, "__qualname__", ""):
                n += 1
    return n


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_classifiers")
    return {kind: make_tiny(kind, root / kind) for kind in ("ast", "wav2vec2-seq", "hubert-seq",
                                                            "wav2vec2-frame")}


@pytest.fixture(scope="session")
def loaded(tiny_dirs):
    """kind -> Loaded (resolved from the saved dir, eager attention)."""
    return {kind: resolve(str(d), family="classify") for kind, d in tiny_dirs.items()}


@pytest.fixture(scope="session")
def clip():
    """1.7 s of espeak-ng speech (16 kHz)."""
    from pathlib import Path

    return load_audio(Path(__file__).resolve().parents[2] / "assets" / "clips" / "birds_sing.wav")


@pytest.fixture
def short_clip():
    """0.6 s synthetic: a chirp plus clicks (shorter than the tiny AST's 1.28 s window)."""
    sr = 16000
    t = np.arange(int(0.6 * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * (300 + 1500 * t) * t)
    x[::1600] += 0.8
    return load_audio((sr, x.astype(np.float32)))


def _in_memory(kind: str, **config_kw) -> Loaded:
    """A Loaded for a tiny model built in memory (config variants not worth a saved dir)."""
    model, fe = tiny_model(kind, **config_kw)
    return Loaded(model=model, processor=fe, model_id=f"tiny-{kind}", family="classify",
                  weights_source="random (test)", path="", device=torch.device("cpu"))


@pytest.fixture
def lab_hooks():
    """Function counting the lab's hooks left in a model (see ``_lab_hooks``)."""
    return _lab_hooks


@pytest.fixture
def in_memory():
    """Function building a tiny in-memory Loaded: ``in_memory(kind, **config_kw)``."""
    return _in_memory
