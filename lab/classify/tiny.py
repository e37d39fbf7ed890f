"""Tiny random-weight classifiers saved as HF model directories (model + feature extractor).

No offline real classifier exists yet (the model zoo will bring them), so tests, the chapter
notebook and the app's demo mode use these: real architectures, real feature extractors, real
shapes and invariants -- and meaningless labels (the weights are random).

``make_tiny(kind, directory)`` with ``kind`` in :data:`KINDS`; load the directory with
``lab.models.resolve(str(directory))``.
"""
from __future__ import annotations

from pathlib import Path

import torch

AST_LABELS = ["Speech", "Music", "Dog", "Siren", "Rain", "Applause", "Bird vocalization"]
KEYWORDS = ["yes", "no", "up", "down", "left", "right", "_silence_", "_unknown_"]
FRAME_LABELS = ["speaker A", "speaker B", "music"]
KINDS = ("ast", "wav2vec2-seq", "hubert-seq", "wav2vec2-frame", "wav2vec2-ctc")

_ENCODER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                initializer_range=0.2)


def _labels(names: list[str]) -> dict:
    return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


def tiny_config(kind: str, *, max_length: int = 128, labels: list[str] | None = None, **overrides):
    """The config of a tiny ``kind`` model (hidden 32, 2 layers, 2 heads, eager attention).

    AST keeps the real 128 mel bins, patch 16 and strides 10 with a short ``max_length``.
    """
    import transformers as T

    if kind == "ast":
        kw = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  max_length=max_length, initializer_range=0.2, **_labels(labels or AST_LABELS))
        kw.update(overrides)
        return T.ASTConfig(attn_implementation="eager", **kw)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    kw = dict(_ENCODER)
    if kind.endswith("-seq"):
        kw.update(classifier_proj_size=24, **_labels(labels or KEYWORDS))
    elif kind.endswith("-frame"):
        kw.update(**_labels(labels or FRAME_LABELS))
    else:
        kw.update(vocab_size=12, pad_token_id=0)
    kw.update(overrides)
    cls = T.HubertConfig if kind.startswith("hubert") else T.Wav2Vec2Config
    return cls(attn_implementation="eager", **kw)


def tiny_model(kind: str, *, seed: int = 0, **config_kw):
    """(model in eval mode, feature extractor) with weights drawn from ``seed``."""
    import transformers as T

    cfg = tiny_config(kind, **config_kw)
    torch.manual_seed(seed)
    if kind == "ast":
        model = T.ASTForAudioClassification(cfg)
        with torch.no_grad():  # HF zero-inits these; random values make the pictures less flat
            emb = model.audio_spectrogram_transformer.embeddings
            for p in (emb.cls_token, emb.distillation_token, emb.position_embeddings):
                p.normal_(0.0, cfg.initializer_range)
        fe = T.ASTFeatureExtractor(num_mel_bins=cfg.num_mel_bins, max_length=cfg.max_length)
    else:
        base = "Hubert" if kind.startswith("hubert") else "Wav2Vec2"
        head = {"seq": "ForSequenceClassification", "frame": "ForAudioFrameClassification",
                "ctc": "ForCTC"}[kind.split("-")[1]]
        model = getattr(T, base + head)(cfg)
        fe = T.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False)
    return model.eval(), fe


def make_tiny(kind: str, directory, *, seed: int = 0, **config_kw) -> Path:
    """Save a tiny random ``kind`` model + its feature extractor into ``directory`` (HF format)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    model, fe = tiny_model(kind, seed=seed, **config_kw)
    model.save_pretrained(d)
    fe.save_pretrained(d)
    return d


def loaded(kind: str, *, seed: int = 0, **config_kw):
    """A :class:`lab.models.Loaded` around :func:`tiny_model` (in memory)."""
    from ..models import Loaded

    model, fe = tiny_model(kind, seed=seed, **config_kw)
    return Loaded(model=model, processor=fe, model_id=f"tiny-{kind}", family="classify",
                  weights_source="random (test)", path="", device=torch.device("cpu"))
