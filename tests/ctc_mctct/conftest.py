"""Tiny random M-CTC-T models (lab implementation), their saved directories, and the
transformers 4.46 reference fixture (written by ``scripts/mctct_parity.py fixture``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mctct_helpers import TINY, make_processor

from lab.ctc.mctct import MCTCTConfig, MCTCTForCTC

DATA = Path(__file__).parent / "data"


@pytest.fixture
def tiny_model() -> MCTCTForCTC:
    torch.manual_seed(0)
    return MCTCTForCTC(MCTCTConfig(**TINY)).eval()


@pytest.fixture
def tiny_dir(tmp_path, tiny_model) -> Path:
    """A local HF directory: config.json + model.safetensors + preprocessor_config.json +
    vocab.json/tokenizer_config.json, as the hub checkpoint has them."""
    d = tmp_path / "mctct-tiny"
    proc = make_processor(d)
    tiny_model.save_pretrained(d)
    proc.save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def reference() -> dict:
    with np.load(DATA / "mctct_446_reference.npz") as f:
        return {k: f[k] for k in f.files}
