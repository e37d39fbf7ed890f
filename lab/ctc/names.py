"""The CTC family's capture names (``AXES``, ``META``) and the one table of HF module paths per
architecture (``ARCH``, also named ``MODULES``: ``config.model_type`` -> :class:`ArchSpec`).

``describe()`` lists what a CTC trace can hold; a test checks real traces against the tables.
Time bases: ``sample`` (16000), ``feature_frame`` (mel models), ``conv_frame_{i}`` (each conv
layer's rate), ``frame`` = ``query_frame`` = ``key_frame`` (CTC frames: 50/s for wav2vec2-base).
A model whose encoder and head have different widths (the Whisper-CTC model) stores
``encoder.hidden.{i}`` (frame, hidden) per layer instead of one stacked tensor.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import tables
from ..errors import LabError

# capture name -> axes (a list: alternatives by architecture)
AXES: dict[str, object] = {
    "input.waveform": ("sample",),
    "input.waveform_normalized": ("sample",),
    "input.features": ("feature_frame", "feature_bin"),
    "input.attention_mask": [("sample",), ("feature_frame",)],
    "feature_encoder.conv.{i}": ("channel", "conv_frame_{i}"),
    "feature_projection.output": ("frame", "hidden"),
    "encoder.layers.{i}.attn.pattern": ("head", "query_frame", "key_frame"),
    "encoder.hidden": ("layer", "frame", "hidden"),
    "encoder.hidden.{i}": ("frame", "hidden"),
    "ctc.logits": ("frame", "vocab"),
    "ctc.probs": ("frame", "vocab"),
    "ctc.topk_ids": ("frame", "top_k"),
    "ctc.topk_probs": ("frame", "top_k"),
    "ctc.frame_ids": ("frame",),
}

NOTES: dict[str, str] = {
    "input.waveform": "the 16 kHz clip",
    "input.waveform_normalized": "waveform models: the input_values the model gets (zero mean, "
                                 "unit variance if do_normalize)",
    "input.features": "mel models: input_features, frame-first (ArchSpec.feature_layout)",
    "input.attention_mask": "ones where there is audio (sample or feature_frame axis)",
    "feature_encoder.conv.{i}": "output of conv layer i; geometry in meta['geometry']",
    "feature_projection.output": "into the transformer",
    "encoder.layers.{i}.attn.pattern": "eager attention, fp16 by default",
    "encoder.hidden": "embeddings + every layer",
    "encoder.hidden.{i}": "per layer, when encoder and head widths differ",
    "ctc.logits": "the CTC head output",
    "ctc.probs": "softmax of the logits",
    "ctc.topk_ids": "best tokens per frame",
    "ctc.topk_probs": "their probabilities",
    "ctc.frame_ids": "argmax id per frame",
}

# meta key -> what it holds
META: dict[str, str] = {
    "frame_tokens": "one symbol per frame: blank '_', word delimiter '|' (e.g. B_R_II_O_N_||_S_AWW_)",
    "merged": "frame tokens with repeats merged",
    "no_blanks": "merged tokens without blanks",
    "text": "the greedy transcript",
    "naive_dedupe": "what de-duplicating without blanks would give (the lesson of the blank)",
    "collapse": "the collapse stages with frame spans: {frames, merged, no_blanks, words ...} "
                "(lab.ctc.collapse.Collapse.as_dict)",
    "words": "[{word, start, end, ...}] seconds (greedy, or forced alignment with a reference)",
    "words_from": "'greedy' or 'forced alignment of the reference'",
    "frames_per_second": "CTC frames per second",
    "n_frames": "CTC frames",
    "vocab": "token strings by id",
    "blank_id": "id of the CTC blank",
    "word_delimiter": "the word delimiter token",
    "geometry": "hop / receptive field / lengths of every conv layer (lab.ctc.frames)",
    "seconds": "clip length",
    "input": "'waveform' or 'features'",
    "model_type": "config.model_type",
    "architecture": "model class name",
    "do_normalize": "the extractor normalises the waveform",
    "processor_returns_attention_mask": "the extractor gave an attention mask",
    "heads_averaged": "attention weights come already averaged over heads (WavLM)",
    "audio_notes": "what loading changed (resampled, down-mixed ...)",
    "timings": "forward_s, decode_s",
    "policy": "what the capture policy kept (default policy: the byte budgets)",
    "reference": "the reference transcript given",
    "alignment": "forced alignment of the reference: character / word spans",
    "wer": "WER / CER of the greedy text against the reference",
    "decoders": "greedy vs beam vs beam + LM (+ hotwords): text, score, wer",
    "beam_text": "best beam text (beam + LM when there is an LM)",
    "intervention": "what-if runs: {interventions (the spec), ablations [{target, mode, heads, n_heads, "
                    "module, hooked, hook, calls}]"
                    ", patches [{target, module, hook, source, source_frames, frames, n_frames, frames_per_second, seconds | tokens_replaced, calls}], edited_seconds [[start, end]]} (lab.interventions)",
}


@dataclass(frozen=True)
class ArchSpec:
    """HF module paths of one CTC architecture (keyed by ``config.model_type`` in :data:`ARCH`).

    ``input``: ``"waveform"`` (``input_values``) or ``"features"`` (``input_features``).
    ``convs``: paths of the feature-encoder / subsampler convolutions, in order; a path ending in
    ``.*`` stands for every child of that ModuleList. Each module's output is (batch, channel, frame).
    ``conv_padding``: ``"none"``, ``"half_kernel"`` (k // 2 per side) or a tuple of paddings.
    ``conv_kernels``/``conv_strides``: fixed geometry when the config has no ``conv_kernel``.
    ``feature_projection``: module whose output (or output[0]) is (batch, frame, hidden).
    ``layers``: ModuleList paths of the transformer layers (concatenated, in order).
    ``attention``: path of the attention module inside one layer; its output[``attn_index``] is the
    (batch, head, query, key) probability tensor (eager attention). ``attn_needs_flag``: the module
    returns it only when the model is called with ``output_attentions=True``.
    ``heads_averaged``: the architecture's attention weights are already averaged over heads
    (WavLM uses ``torch.nn.functional.multi_head_attention_forward``, which averages).
    ``head``: the linear CTC head.
    ``out_proj`` / ``ffn`` / ``heads_note``: intervention targets (``lab.interventions``): the
    attention's output projection (heads are cut at its input; ``None``: not hookable, why in
    ``heads_note``) and the feed-forward block whose output a layer adds to its residual.
    ``feature_layout``: axis order of a mel model's ``input_features`` after the batch axis:
    ``"frame_bin"`` (M-CTC-T, Wav2Vec2-BERT: (batch, feature_frame, feature_bin)) or
    ``"bin_frame"`` (Whisper: (batch, feature_bin, feature_frame)). Unused for waveform models.
    """

    input: str
    convs: tuple[str, ...] = ()
    conv_padding: str | tuple[int, ...] = "none"
    conv_kernels: tuple[int, ...] | None = None
    conv_strides: tuple[int, ...] | None = None
    feature_projection: str | None = None
    layers: tuple[str, ...] = ()
    attention: str = "attention"
    attn_index: int = 1
    attn_needs_flag: bool = False
    heads_averaged: bool = False
    head: str = "lm_head"
    feature_layout: str = "frame_bin"
    out_proj: str | None = "out_proj"  # output projection inside ``attention`` (head ablation)
    ffn: str | None = "feed_forward"  # the feed-forward block inside one layer (its output)
    heads_note: str = ""  # why heads cannot be ablated (out_proj None)

    def features_frame_first(self, x):
        """A mel model's ``input_features`` ``x`` (batch, ...) as (batch, feature_frame, feature_bin)."""
        if self.feature_layout == "bin_frame":
            return x.transpose(1, 2)
        if self.feature_layout != "frame_bin":
            raise ValueError(f"unknown feature_layout {self.feature_layout!r}")
        return x

    def conv_geometry(self, config) -> tuple[list[int], list[int], list[int]]:
        """(kernels, strides, paddings) of the convolutions."""
        kernels = list(self.conv_kernels or getattr(config, "conv_kernel", None) or [])
        strides = list(self.conv_strides or getattr(config, "conv_stride", None) or [])
        if not self.convs:
            return [], [], []
        if isinstance(self.conv_padding, tuple):
            pads = list(self.conv_padding)
        elif self.conv_padding == "half_kernel":
            pads = [k // 2 for k in kernels]
        else:
            pads = [0] * len(kernels)
        return kernels, strides, pads


def _wav(prefix: str, attention: str = "attention", **kw) -> ArchSpec:
    return ArchSpec(input="waveform", convs=(f"{prefix}.feature_extractor.conv_layers.*",),
                    feature_projection=f"{prefix}.feature_projection",
                    layers=(f"{prefix}.encoder.layers",), attention=attention, **kw)


# config.model_type -> HF module paths: the family's paths table
ARCH: dict[str, ArchSpec] = {
    "wav2vec2": _wav("wav2vec2"),
    "hubert": _wav("hubert"),
    "wavlm": _wav("wavlm", heads_averaged=True, out_proj=None,
                  heads_note="WavLM runs torch's fused multi_head_attention_forward: its heads never "
                             "pass through a module the lab can hook"),
    "data2vec-audio": _wav("data2vec_audio"),
    "unispeech": _wav("unispeech"),
    "unispeech-sat": _wav("unispeech_sat"),
    "wav2vec2-conformer": _wav("wav2vec2_conformer", attention="self_attn", out_proj="linear_out",
                               ffn=None),
    "wav2vec2-bert": ArchSpec(input="features", feature_projection="wav2vec2_bert.feature_projection",
                              layers=("wav2vec2_bert.encoder.layers",), attention="self_attn",
                              out_proj="linear_out", ffn=None),
    # lab/ctc/mctct (M-CTC-T, removed from transformers 5: the lab keeps its own implementation)
    "mctct": ArchSpec(input="features", convs=("mctct.encoder.conv.conv_layers.*",),
                      conv_padding="half_kernel", layers=("mctct.encoder.layers",),
                      attention="attention.self", attn_needs_flag=True, head="ctc_head",
                      out_proj=None, ffn=None, heads_note="not mapped for the lab's M-CTC-T"),
    # the Whisper-CTC model (whisper-tiny.en-ctc): the frozen Whisper encoder + a trained CTC head
    "whisper_ctc": ArchSpec(input="features", convs=("encoder.conv1", "encoder.conv2"),
                            conv_padding=(1, 1), conv_kernels=(3, 3), conv_strides=(1, 2),
                            layers=("encoder.layers", "head.layers"), attention="self_attn",
                            feature_layout="bin_frame", ffn="fc2"),
}


MODULES = ARCH  # the same table under the name every family uses


def describe() -> list[dict]:
    """What a CTC trace can hold: rows ``{name, kind, axes, doc}`` from ``AXES`` and ``META``."""
    return tables.rows(AXES, META, NOTES)


def spec_for(config) -> ArchSpec:
    """The :class:`ArchSpec` of a model config (LabError naming the type when unknown)."""
    mt = getattr(config, "model_type", None)
    if mt not in ARCH:
        raise LabError(f"CTC models of type {mt!r} are not in the lab's module table "
                       f"(lab/ctc/names.py); known: {', '.join(sorted(ARCH))}")
    return ARCH[mt]


def expand(model, paths) -> list[tuple[str, object]]:
    """``[(path, module)]`` for paths, expanding ``x.*`` to the children of ModuleList ``x``."""
    from ..trace import module_at

    out = []
    for p in paths:
        if p.endswith(".*"):
            parent = p[:-2]
            for i, m in enumerate(module_at(model, parent)):
                out.append((f"{parent}.{i}", m))
        else:
            out.append((p, module_at(model, p)))
    return out


def attention_modules(model, spec: ArchSpec) -> list[tuple[str, object]]:
    """``[(path, attention module)]`` over every transformer layer, in order."""
    from ..trace import module_at

    out = []
    for stack in spec.layers:
        for i, _ in enumerate(module_at(model, stack)):
            path = f"{stack}.{i}.{spec.attention}"
            out.append((path, module_at(model, path)))
    return out


def intervention_targets(model) -> dict[str, tuple]:
    """Concrete intervention targets (``lab.interventions``): ``encoder.layers.{i}.attn`` (the
    module behind ``encoder.layers.{i}.attn.pattern``, same layer numbering) -> (its path, its
    output projection or None [, why not]) and ``encoder.layers.{i}.ffn`` -> (the FFN's path, None)."""
    spec = spec_for(model.config)
    out: dict[str, tuple] = {}
    for i, (path, _) in enumerate(attention_modules(model, spec)):
        out[f"encoder.layers.{i}.attn"] = (path, spec.out_proj, spec.heads_note or "not mapped")
        if spec.ffn:
            layer = path[: -len(spec.attention) - 1]
            out[f"encoder.layers.{i}.ffn"] = (f"{layer}.{spec.ffn}", None)
    return out
