"""The one table from classifier architectures to their Hugging Face module paths.

Verified against the installed transformers (5.x): AST's encoder layers live at
``audio_spectrogram_transformer.layers.N`` (transformers 4.x: ``...encoder.layer.N``); the
wav2vec2-style encoders at ``<base>.encoder.layers.N``. Every attention module named here returns
``(attn_output, attn_weights)``; the weights are ``None`` unless the model runs with
``attn_implementation="eager"``. When transformers renames a module, this table and
``tests/classify/test_names.py`` change, nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import LabError


@dataclass(frozen=True)
class Paths:
    """Where one architecture keeps its parts.

    ``kind``: ``"ast"`` (spectrogram patches, one label distribution), ``"sequence"`` (frames,
    masked mean, one distribution) or ``"frames"`` (one distribution per frame).
    ``layers``: the ``nn.ModuleList`` of encoder layers. ``attention``: the attention module inside
    one layer (output index 1 = weights (batch, head, query, key)). ``parts``: other named modules.
    """

    kind: str
    layers: str
    attention: str = "attention"
    parts: dict[str, str] = field(default_factory=dict)

    def layer(self, i: int) -> str:
        return f"{self.layers}.{i}"

    def attn(self, i: int) -> str:
        return f"{self.layers}.{i}.{self.attention}"


_AST = "audio_spectrogram_transformer"


def _wav2vec2_like(base: str, kind: str) -> Paths:
    parts = {"encoder": f"{base}.encoder", "feature_encoder": f"{base}.feature_extractor",
             "classifier": "classifier"}
    if kind == "sequence":
        parts["projector"] = "projector"
    return Paths(kind=kind, layers=f"{base}.encoder.layers", parts=parts)


TABLE: dict[str, Paths] = {
    "ASTForAudioClassification": Paths(
        kind="ast",
        layers=f"{_AST}.layers",
        parts={
            "embeddings": f"{_AST}.embeddings",
            "patch_embeddings": f"{_AST}.embeddings.patch_embeddings",
            "patch_conv": f"{_AST}.embeddings.patch_embeddings.projection",
            "final_norm": f"{_AST}.layernorm",
            "classifier": "classifier",
            "classifier_dense": "classifier.dense",
        },
    ),
    "Wav2Vec2ForSequenceClassification": _wav2vec2_like("wav2vec2", "sequence"),
    "HubertForSequenceClassification": _wav2vec2_like("hubert", "sequence"),
    "Data2VecAudioForSequenceClassification": _wav2vec2_like("data2vec_audio", "sequence"),
    "Wav2Vec2ForAudioFrameClassification": _wav2vec2_like("wav2vec2", "frames"),
    "Data2VecAudioForAudioFrameClassification": _wav2vec2_like("data2vec_audio", "frames"),
}


def paths_for(model) -> Paths:
    """The table row of ``model``'s class; a LabError names the supported architectures."""
    name = type(model).__name__
    if name not in TABLE:
        raise LabError(f"{name} is not a classifier the lab can trace; supported: "
                       f"{', '.join(sorted(TABLE))}")
    return TABLE[name]


def kind_of(model) -> str:
    """``"ast"``, ``"sequence"`` or ``"frames"``."""
    return paths_for(model).kind
