"""One encoder, three heads: CTC, sequence classification, frame classification.

The same wav2vec2-style encoder (T frames of ``hidden`` numbers, 50 per second) becomes

=========  =======================================  ===============  ==============================
head       layers                                   output           loss (transformers)
=========  =======================================  ===============  ==============================
CTC        lm_head Linear(hidden -> vocab)          (frame, vocab)   CTC over the log-softmax frames
sequence   projector Linear(hidden -> proj),        (label,)         cross-entropy, one target/clip
           masked mean over frames,
           classifier Linear(proj -> labels)
frame      classifier Linear(hidden -> labels)      (frame, label)   cross-entropy per frame
=========  =======================================  ===============  ==============================

:func:`three_heads` reads every number from configs (``vocab_size``, ``classifier_proj_size``,
``num_labels``, ``use_weighted_layer_sum``, ``ctc_loss_reduction``, ``pad_token_id`` ...), so the
table is the truth of the checkpoints compared, not a drawing.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import LabError
from .constants import SAMPLE_RATE

_PREFIX = {"wav2vec2": "Wav2Vec2", "hubert": "Hubert", "data2vec-audio": "Data2VecAudio",
           "wavlm": "WavLM", "unispeech-sat": "UniSpeechSat", "wav2vec2-conformer": "Wav2Vec2Conformer"}
HEADS = ("ctc", "sequence", "frame")
_SUFFIX = {"ctc": "ForCTC", "sequence": "ForSequenceClassification",
           "frame": "ForAudioFrameClassification"}


def encoder_frames(config, n_samples: int) -> int:
    """Encoder frames for ``n_samples`` samples (the conv feature encoder's output length)."""
    n = int(n_samples)
    for k, s in zip(config.conv_kernel, config.conv_stride):
        n = (n - int(k)) // int(s) + 1
    if n < 1:
        raise LabError(f"{n_samples} samples are shorter than one encoder frame")
    return n


def _head_of(architecture: str) -> str | None:
    for head, suffix in _SUFFIX.items():
        if architecture.endswith(suffix):
            return head
    return None


def head_row(config, head: str, n_samples: int = SAMPLE_RATE) -> dict[str, Any]:
    """One row of the comparison for ``head`` in ("ctc", "sequence", "frame") on ``config``.

    Keys: ``head``, ``architecture``, ``exists`` (the class is in transformers), ``layers`` (text),
    ``params`` (head parameters), ``output_axes``, ``output_shape``, ``loss``, ``reads`` (the
    config fields used).
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}")
    import transformers

    prefix = _PREFIX.get(config.model_type, type(config).__name__.replace("Config", ""))
    arch = prefix + _SUFFIX[head]
    hidden = int(config.hidden_size)
    n_layers = int(config.num_hidden_layers)
    weighted = bool(getattr(config, "use_weighted_layer_sum", False))
    mix = n_layers + 1 if weighted else 0
    mix_text = [f"layer_weights ({n_layers + 1},) softmax-mixed layers"] if weighted else []
    t = encoder_frames(config, n_samples)
    row: dict[str, Any] = {"head": head, "architecture": arch,
                           "exists": hasattr(transformers, arch), "frames": t}
    if head == "ctc":
        out_hidden = int(getattr(config, "output_hidden_size", None) or hidden) \
            if getattr(config, "add_adapter", False) else hidden
        vocab = int(config.vocab_size)
        row.update(
            layers=[f"lm_head Linear({out_hidden} -> {vocab})"],
            params=out_hidden * vocab + vocab,
            output_axes=("frame", "vocab"), output_shape=(t, vocab),
            loss=(f"CTC over log-softmax frames vs a shorter label sequence (blank = pad_token_id "
                  f"{config.pad_token_id}, reduction '{config.ctc_loss_reduction}', "
                  f"zero_infinity {config.ctc_zero_infinity})"),
            reads=["hidden_size", "vocab_size", "pad_token_id", "ctc_loss_reduction",
                   "ctc_zero_infinity"])
    elif head == "sequence":
        proj, labels = int(config.classifier_proj_size), int(config.num_labels)
        row.update(
            layers=mix_text + [f"projector Linear({hidden} -> {proj})", "masked mean over frames",
                               f"classifier Linear({proj} -> {labels})"],
            params=hidden * proj + proj + proj * labels + labels + mix,
            output_axes=("label",), output_shape=(labels,),
            loss="cross-entropy over the labels, one target per clip",
            reads=["hidden_size", "classifier_proj_size", "num_labels", "use_weighted_layer_sum"])
    else:
        labels = int(config.num_labels)
        row.update(
            layers=mix_text + [f"classifier Linear({hidden} -> {labels})"],
            params=hidden * labels + labels + mix,
            output_axes=("frame", "label"), output_shape=(t, labels),
            loss="cross-entropy per frame (target = argmax of the frame's label vector)",
            reads=["hidden_size", "num_labels", "use_weighted_layer_sum"])
    return row


def three_heads(source, n_samples: int = SAMPLE_RATE) -> list[dict[str, Any]]:
    """The comparison rows.

    ``source``: one encoder config (or model) -> its three heads, each sized from that config;
    a list of models/configs (e.g. a CTC, a sequence and a frame checkpoint of the same encoder)
    -> one row per entry, the head told by its ``architectures``.
    """
    if isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        rows = []
        for item in source:
            cfg = getattr(item, "config", item)
            archs = list(getattr(cfg, "architectures", None) or [])
            if not archs and hasattr(item, "config"):
                archs = [type(item).__name__]
            head = next((h for h in map(_head_of, archs) if h), None)
            if head is None:
                raise LabError(f"cannot tell the head of {archs or cfg}: expected *ForCTC, "
                               "*ForSequenceClassification or *ForAudioFrameClassification")
            rows.append(head_row(cfg, head, n_samples))
        return rows
    cfg = getattr(source, "config", source)
    if not hasattr(cfg, "conv_stride"):
        raise LabError(f"{type(cfg).__name__} is not a wav2vec2-style encoder config "
                       "(the three-heads view needs conv_kernel/conv_stride)")
    return [head_row(cfg, h, n_samples) for h in HEADS]


def frames_per_second(config, sample_rate: int = SAMPLE_RATE) -> float:
    return sample_rate / float(np.prod(config.conv_stride))
