"""Helpers of the M-CTC-T tests (imported by name: pytest puts this folder on sys.path)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lab.ctc.mctct import MCTCTFeatureExtractor, MCTCTProcessor

VOCAB = ["<s>", "<pad>", "</s>", "<unk>", "|", *"abcdefghijklmnopqrstuvwxyz'"]
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, attention_head_dim=16,
            intermediate_size=64, max_position_embeddings=16, vocab_size=len(VOCAB))


def tone(seconds: float, freq: float = 440.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def make_processor(directory: Path) -> MCTCTProcessor:
    from transformers import Wav2Vec2CTCTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.json"
    vocab.write_text(json.dumps({c: i for i, c in enumerate(VOCAB)}))
    return MCTCTProcessor(MCTCTFeatureExtractor(), Wav2Vec2CTCTokenizer(str(vocab)))
