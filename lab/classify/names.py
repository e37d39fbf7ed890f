"""The one table from classifier architectures to their Hugging Face module paths.

Verified against the installed transformers (5.x): AST's encoder layers live at
``audio_spectrogram_transformer.layers.N`` (transformers 4.x: ``...encoder.layer.N``); the
wav2vec2-style encoders at ``<base>.encoder.layers.N``. Every attention module named here returns
``(attn_output, attn_weights)``; the weights are ``None`` unless the model runs with
``attn_implementation="eager"``. When transformers renames a module, this table and
``tests/classify/test_names.py`` change, nothing else.

``AXES`` (capture name -> axes) and ``META`` (meta key -> what it holds) list what a classifier
trace can hold, for all three kinds (AST, sequence, frames); ``describe()`` lists both and a test
checks real traces against them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import tables
from ..errors import LabError

# capture name -> axes (``token``: 0 CLS, 1 distillation, 2 + p patch p)
AXES: dict[str, object] = {
    "input.waveform": ("sample",),
    "input.waveform_normalized": ("sample",),
    "input.fbank": ("mel_frame", "mel_bin"),
    "ast.patches": ("patch", "patch_mel", "patch_frame"),
    "ast.patch_embeddings": ("patch", "hidden"),
    "ast.position_embeddings": ("token", "hidden"),
    "ast.cls_token": ("hidden",),
    "ast.distillation_token": ("hidden",),
    "ast.embeddings": ("token", "hidden"),
    "encoder.layers.{i}.attn.pattern": [("head", "query_token", "key_token"),
                                        ("head", "query_frame", "key_frame")],
    "ast.attention_mean": ("layer", "query_token", "key_token"),
    "ast.cls_attention": ("layer", "head", "freq_patch", "time_patch"),
    "ast.rollout": ("freq_patch", "time_patch"),
    "ast.pooled": ("hidden",),
    "encoder.hidden": ("layer", "encoder_frame", "hidden"),
    "cls.frame_mask": ("encoder_frame",),
    "cls.head_input": ("encoder_frame", "hidden"),
    "cls.projected": ("encoder_frame", "proj"),
    "cls.pooled": ("proj",),
    "cls.bias": ("label",),
    "cls.frame_contributions": ("encoder_frame", "label"),
    "cls.frame_share": ("encoder_frame",),
    "cls.layer_weights": ("layer",),
    "frames.logits": ("encoder_frame", "label"),
    "frames.probs": ("encoder_frame", "label"),
    "frames.label_ids": ("encoder_frame",),
    "cls.logits": ("label",),
    "cls.probs": ("label",),
}

NOTES: dict[str, str] = {
    "input.fbank": "AST: normalized, padded Kaldi filterbank",
    "ast.patches": "AST: the 16 x 16 pixels of each patch",
    "encoder.layers.{i}.attn.pattern": "AST over tokens; wav2vec2-style over encoder frames",
    "ast.attention_mean": "head mean",
    "ast.cls_attention": "CLS row on the patch grid",
    "ast.rollout": "attention rollout readout on the patch grid",
    "encoder.hidden": "wav2vec2-style: index 0 = input of layer 0",
    "cls.frame_mask": "1 for frames that hold audio",
    "cls.frame_contributions": "sequence: each frame's part of each logit",
    "cls.frame_share": "sequence: each frame's share of the pooled vector",
    "cls.logits": "frames: mean over content frames",
}

META: dict[str, str] = {
    "kind": "ast | sequence | frames",
    "architecture": "model class name",
    "labels": "label names by id",
    "activation": "sigmoid | softmax",
    "activation_rule": "why that activation (lab.classify.common)",
    "top_k": "[{id, label, score, logit}] best first",
    "content_seconds": "seconds of audio",
    "notes": "what loading / cutting changed",
    "n_frames": "encoder frames (wav2vec2-style)",
    "n_content_frames": "frames holding audio",
    "padded_from_frame": "first padding frame, or None",
    "patch_grid": "AST: [freq, time] patch rows and columns",
    "n_patches": "AST: patches",
    "patch_size": "AST: patch side (16)",
    "frequency_stride": "AST: patch stride over mel bins",
    "time_stride": "AST: patch stride over frames",
    "special_tokens": "AST: ['cls', 'distillation']",
    "num_mel_bins": "AST: mel bins",
    "max_length": "AST: filterbank frames the model takes",
    "n_fbank_frames": "AST: frames the clip gives before padding / cutting",
    "n_content_time_patches": "AST: patch columns holding audio",
    "truncated_frames": "AST: frames cut by the extractor",
    "fbank_mean": "AST: extractor normalisation mean",
    "fbank_std": "AST: extractor normalisation std",
    "fbank_normalization": "AST: the normalisation formula",
    "padding_value_normalized": "AST: value of a padded frame after normalisation, or None",
    "rollout": "AST: how ast.rollout is computed",
    "rollout_special_mass": "AST: rollout mass left on the CLS and distillation tokens",
    "classifier_proj_size": "sequence: projector width",
    "use_weighted_layer_sum": "sequence: the head mixes all layers",
    "pad_seconds": "sequence: padding appended to watch the masked mean",
    "decomposition": "sequence: how cls.frame_contributions / cls.frame_share are computed",
    "threshold": "frames: sigmoid threshold of the label segments",
    "frame_labels": "frames: [{label, id, start, end, score}] segments (seconds)",
    "intervention": "what-if runs: {interventions (the spec), ablations [{target, mode, heads, n_heads, "
                    "module, hooked, hook, calls}]"
                    ", patches [{target, module, hook, source, source_frames, frames, n_frames, frames_per_second, seconds | tokens_replaced, calls}], edited_seconds [[start, end]]} (lab.interventions)",
}


@dataclass(frozen=True)
class Paths:
    """Where one architecture keeps its parts.

    ``kind``: ``"ast"`` (spectrogram patches, one label distribution), ``"sequence"`` (frames,
    masked mean, one distribution) or ``"frames"`` (one distribution per frame).
    ``out_proj`` / ``ffn``: intervention targets (``lab.interventions``) inside the attention /
    the layer. ``layers``: the ``nn.ModuleList`` of encoder layers. ``attention``: the attention module inside
    one layer (output index 1 = weights (batch, head, query, key)). ``parts``: other named modules.
    """

    kind: str
    layers: str
    attention: str = "attention"
    parts: dict[str, str] = field(default_factory=dict)
    out_proj: str = "out_proj"  # output projection inside the attention (head ablation cuts its input)
    ffn: str = "feed_forward"  # the feed-forward block inside one layer

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
        out_proj="o_proj",
        ffn="mlp",
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


MODULES = TABLE  # the same table under the name every family uses


def describe() -> list[dict]:
    """What a classifier trace can hold: rows ``{name, kind, axes, doc}`` from ``AXES``, ``META``."""
    return tables.rows(AXES, META, NOTES)


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


def intervention_targets(model) -> dict[str, tuple]:
    """Concrete intervention targets (``lab.interventions``): ``encoder.layers.{i}.attn`` -> (the
    attention's path, its output projection) and ``encoder.layers.{i}.ffn`` -> (the FFN's path,
    None), for every encoder layer."""
    from ..capture import module_at

    p = paths_for(model)
    n = len(module_at(model, p.layers))
    out: dict[str, tuple] = {}
    for i in range(n):
        out[f"encoder.layers.{i}.attn"] = (p.attn(i), p.out_proj)
        out[f"encoder.layers.{i}.ffn"] = (f"{p.layer(i)}.{p.ffn}", None)
    return out
