"""Frame-classifier trace (``Wav2Vec2ForAudioFrameClassification``): one linear layer on every
encoder frame, so every 20 ms gets its own label distribution (speaker activity, events ...).

Capture names (besides :mod:`lab.classify.encoder`'s): ``cls.head_input`` (encoder_frame, hidden)
what the classifier reads; ``frames.logits`` / ``frames.probs`` (encoder_frame, label);
``frames.label_ids`` (encoder_frame,) the best label of each frame; ``cls.logits`` /
``cls.probs`` (label,) a clip summary: the mean over content frames of the frame logits / probs.

``meta["frame_labels"]``: segments ``{"label", "id", "start", "end", "score"}`` in seconds
(``score`` = mean probability over the segment). With softmax they are runs of the best label;
with sigmoid (multi-label, e.g. speaker diarization) runs where a label's probability is above
``threshold``, so segments of different labels may overlap.
"""
from __future__ import annotations

import torch

from ..errors import LabError
from ..trace import CapturePolicy, Trace, module_at
from . import common, encoder, names
from .constants import FRAME_THRESHOLD, TOP_K


def trace_frames(audio, loaded, *, policy: CapturePolicy | None = None, top_k: int = TOP_K,
                 activation: str | None = None, threshold: float = FRAME_THRESHOLD) -> Trace:
    """Run a frame classifier on ``audio``; per-frame logits, probabilities and label segments."""
    loaded, model, fe, clip = common.open_run(loaded, audio, "frames")
    paths = names.paths_for(model)
    cfg = model.config
    policy = policy or CapturePolicy()
    activation, why = common.activation_for(cfg, "frames", activation)
    x, am = encoder.prepare(clip, fe)

    got: dict[str, torch.Tensor] = {}

    def classifier(_m, inputs, _output):
        got["head_input"] = inputs[0].detach()[0].clone()

    r = encoder.run(model, paths, x, am, policy,
                    extra=[(module_at(model, paths.parts["classifier"]), classifier)], got=got)
    logits = r.output.logits[0]  # (encoder_frame, label)
    t = encoder.new_trace(loaded, clip, fe, r, policy)
    probs = common.probabilities(logits, activation)
    ids = probs.argmax(-1)
    content = r.frame_mask.bool().to(logits.device)
    clip_logits = logits[content].mean(0)
    clip_probs = probs[content].mean(0)

    t.add("cls.head_input", got["head_input"], ("encoder_frame", "hidden"))
    t.add("frames.logits", logits, ("encoder_frame", "label"), force=True)
    t.add("frames.probs", probs, ("encoder_frame", "label"), force=True)
    t.add("frames.label_ids", ids, ("encoder_frame",), force=True)
    t.add("cls.logits", clip_logits, ("label",), force=True)
    t.add("cls.probs", clip_probs, ("label",), force=True)

    label_names = common.label_names(cfg)
    rate = t.time_bases["encoder_frame"]
    t.meta.update({
        "kind": "frames",
        "labels": label_names,
        "activation": activation,
        "activation_rule": why,
        "threshold": float(threshold),
        "top_k": common.top_k(clip_probs, clip_logits, label_names, top_k),
        "frame_labels": segments(probs.cpu(), label_names, rate, activation, threshold,
                                 n_content=int(r.frame_mask.sum())),
    })
    return t


def segments(probs: torch.Tensor, label_names: list[str], frames_per_second: float,
             activation: str, threshold: float = FRAME_THRESHOLD, n_content: int | None = None) -> list[dict]:
    """Label segments from (frame, label) probabilities (see the module docstring)."""
    if probs.dim() != 2:
        raise ValueError(f"expected (frame, label) probabilities, got {tuple(probs.shape)}")
    p = probs[: n_content if n_content is not None else probs.shape[0]].float()
    if p.shape[0] == 0:
        raise LabError("no encoder frame holds audio")
    if activation == common.SOFTMAX:
        active = torch.zeros_like(p, dtype=torch.bool)
        active[torch.arange(p.shape[0]), p.argmax(-1)] = True
    else:
        active = p > threshold
    out = []
    for c in range(p.shape[1]):
        col = active[:, c].tolist() + [False]
        start = None
        for i, on in enumerate(col):
            if on and start is None:
                start = i
            elif not on and start is not None:
                out.append({"label": label_names[c], "id": c, "start": start / frames_per_second,
                            "end": i / frames_per_second,
                            "score": float(p[start:i, c].mean())})
                start = None
    out.sort(key=lambda s: (s["start"], s["id"]))
    return out
