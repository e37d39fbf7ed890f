"""Shared capture for the wav2vec2-style classifiers (sequence and frame heads): waveform in,
hidden states and attention of every encoder layer out.

Names recorded here (``encoder_frame``: one transformer position per 20 ms, ``sample_rate /
prod(conv_stride)`` = 50 frames/s):

- ``input.waveform`` (sample,): the 16 kHz clip; ``input.waveform_normalized`` (sample,): what the
  feature extractor hands the model (zero mean, unit variance when ``do_normalize``; includes the
  padding when ``pad_seconds`` > 0);
- ``encoder.hidden`` (layer, encoder_frame, hidden): index 0 = input of layer 0 (feature
  projection + positional conv), index ``i`` = output of layer ``i - 1``;
- ``encoder.layers.{i}.attn.pattern`` (head, query_frame, key_frame);
- ``cls.frame_mask`` (encoder_frame,): 1 for frames that hold audio, 0 for padding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..audio import conv_min_length, require_samples
from ..capture import AttentionRecorder, hooks, module_at
from ..errors import LabError
from ..trace import CapturePolicy, Trace
from . import common
from .constants import SAMPLE_RATE


@dataclass
class EncoderRun:
    """One forward pass with its captures (tensors on the model's device, batch removed)."""

    output: Any
    hidden: list[torch.Tensor]
    patterns: dict[int, torch.Tensor]
    n_attention: int
    got: dict[str, torch.Tensor] = field(default_factory=dict)
    input_values: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    frame_mask: torch.Tensor | None = None


def prepare(clip, fe, pad_seconds: float = 0.0):
    """(input_values (1, sample), attention_mask (1, sample) or None) from the extractor.

    ``pad_seconds`` > 0 appends that much padding the way batching does (zeros plus an attention
    mask marking them), so the masked mean can be watched ignoring the padded frames.
    """
    sr = int(getattr(fe, "sampling_rate", SAMPLE_RATE))
    if pad_seconds < 0:
        raise LabError(f"pad_seconds must be >= 0, not {pad_seconds}")
    if pad_seconds > 0:
        total = len(clip.samples) + int(round(pad_seconds * sr))
        feats = fe(clip.samples, sampling_rate=sr, padding="max_length", max_length=total,
                   return_attention_mask=True, return_tensors="pt")
        return feats["input_values"], feats["attention_mask"]
    feats = fe(clip.samples, sampling_rate=sr, return_tensors="pt")
    return feats["input_values"], feats.get("attention_mask")


def check_length(model, input_values, attention_mask=None, sample_rate: int = SAMPLE_RATE) -> None:
    """LabError (before the model runs) when the clip's content -- the samples the attention mask
    marks, all of them without one -- is shorter than the conv feature encoder's receptive field
    (``config.conv_kernel`` / ``conv_stride``: 400 samples = 25 ms for wav2vec2 base)."""
    cfg = model.config
    need = conv_min_length(cfg.conv_kernel, cfg.conv_stride)
    n = int(attention_mask[0].sum()) if attention_mask is not None else int(input_values.shape[-1])
    require_samples(n, sample_rate, need, type(model).__name__,
                    f"its convolutional feature encoder sees {need} samples per frame")


def run(model, paths, input_values, attention_mask, policy: CapturePolicy,
        extra: list | None = None, got: dict | None = None) -> EncoderRun:
    """Forward ``model`` with hooks on every encoder layer (plus ``extra`` (module, fn) forward
    hooks); all hooks are removed afterwards, also when the forward raises."""
    cfg = model.config
    n_layers = int(cfg.num_hidden_layers)
    hidden: dict[int, torch.Tensor] = {}
    patterns: dict[int, torch.Tensor] = {}
    want_attn = [policy.keeps_layer(i) and policy.keeps(f"encoder.layers.{i}.attn.pattern")
                 for i in range(n_layers)]

    def on_weights(i, w):  # w: (head, query_frame, key_frame)
        if want_attn[i]:
            patterns[i] = policy.select_heads(w).to(policy.attn_dtype, copy=True)

    attn = AttentionRecorder(model, part="encoder", on_weights=on_weights)

    def first_input(_m, args, kwargs):
        h = args[0] if args else kwargs["hidden_states"]
        hidden[0] = h.detach()[0].clone()

    def layer_out(i):
        def fn(_m, _inputs, output):
            hidden[i + 1] = common.forward_hook_output(output).detach()[0].clone()
        return fn

    check_length(model, input_values, attention_mask)
    installs = [(module_at(model, paths.layer(i)), layer_out(i)) for i in range(n_layers)]
    installs += [(module_at(model, paths.attn(i)), attn.hook(i)) for i in range(n_layers)]
    installs += list(extra or [])
    dev = common.model_device(model)
    x = input_values.to(dev)
    am = attention_mask.to(dev) if attention_mask is not None else None
    with torch.no_grad(), \
            hooks(model, [(module_at(model, paths.layer(0)), first_input)], pre=True, with_kwargs=True), \
            hooks(model, installs):
        output = model(x, attention_mask=am) if am is not None else model(x)
    if any(want_attn):
        attn.check()
    r = EncoderRun(output=output, hidden=[hidden[i] for i in sorted(hidden)], patterns=patterns,
                   n_attention=len(attn.seen), got=got if got is not None else {}, input_values=x,
                   attention_mask=am)
    n_frames = r.hidden[-1].shape[0]
    if am is None:
        r.frame_mask = torch.ones(n_frames, dtype=torch.long)
    else:
        r.frame_mask = model._get_feature_vector_attention_mask(n_frames, am)[0].long().cpu()
    return r


def new_trace(loaded, clip, fe, run_: EncoderRun, policy: CapturePolicy) -> Trace:
    """A Trace holding the shared encoder captures and time bases."""
    cfg = loaded.model.config
    sr = int(getattr(fe, "sampling_rate", SAMPLE_RATE))
    t = Trace(family="classify", model_id=loaded.model_id, weights_source=loaded.weights_source,
              policy=policy)
    t.time_bases = {"sample": float(sr), "encoder_frame": sr / float(np.prod(cfg.conv_stride))}
    t.add("input.waveform", torch.from_numpy(clip.samples), ("sample",))
    t.add("input.waveform_normalized", run_.input_values[0], ("sample",))
    t.add("encoder.hidden", torch.stack(run_.hidden), ("layer", "encoder_frame", "hidden"))
    for i, w in run_.patterns.items():
        t.add(f"encoder.layers.{i}.attn.pattern", w, ("head", "query_frame", "key_frame"),
              attention=True)
    t.add("cls.frame_mask", run_.frame_mask, ("encoder_frame",), force=True)
    n_real = int(run_.frame_mask.sum())
    t.meta.update({
        "architecture": type(loaded.model).__name__,
        "n_frames": int(run_.frame_mask.numel()),
        "n_content_frames": n_real,
        "padded_from_frame": n_real if n_real < run_.frame_mask.numel() else None,
        "content_seconds": len(clip.samples) / sr,
        "notes": list(clip.notes),
    })
    return t
