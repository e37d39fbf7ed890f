"""Sequence-classifier trace (``Wav2Vec2ForSequenceClassification``, HuBERT, Data2VecAudio):
any frame encoder becomes a clip classifier with a projector, a masked mean and one linear layer.

The head, in forward order (T = encoder frames, m_t = 1 for frames holding audio)::

    h_t      = encoder output (or the softmax-weighted sum of all layers, use_weighted_layer_sum)
    p_t      = projector(h_t)                               (proj,)
    pooled   = sum_t m_t p_t / sum_t m_t                    (proj,)   masked mean
    logits   = W pooled + b                                 (label,)

Because everything after the mean is linear, each logit splits exactly over the frames::

    logit_c  = sum_t  m_t (W_c . p_t) / sum_t m_t  +  b_c  =  sum_t contribution[t, c] + b_c

Capture names (besides :mod:`lab.classify.encoder`'s): ``cls.head_input`` (encoder_frame, hidden)
what the projector reads; ``cls.projected`` (encoder_frame, proj) ``p_t`` (padded frames
included, before the model zeroes them); ``cls.pooled`` (proj,) the classifier's input;
``cls.logits`` / ``cls.probs`` (label,); ``cls.bias`` (label,); ``cls.frame_contributions``
(encoder_frame, label) as above; ``cls.frame_share`` (encoder_frame,) each frame's share of the
pooled vector, ``m_t (p_t . pooled) / (sum_t m_t |pooled|^2)`` (sums to 1; negative = the frame
pulls against the pooled direction); ``cls.layer_weights`` (layer,) when the model mixes layers.
"""
from __future__ import annotations

import torch

from ..errors import LabError
from ..trace import CapturePolicy, Trace, module_at
from . import common, encoder, names
from .constants import TOP_K


def trace_sequence(audio, loaded, *, policy: CapturePolicy | None = None, top_k: int = TOP_K,
                   activation: str | None = None, pad_seconds: float = 0.0) -> Trace:
    """Run a sequence classifier on ``audio`` and capture the head step by step.

    ``pad_seconds``: append padding (zeros + attention mask) to watch the masked mean ignore it.
    """
    loaded, model, fe, clip = common.open_run(loaded, audio, "sequence")
    paths = names.paths_for(model)
    cfg = model.config
    policy = policy or CapturePolicy()
    activation, why = common.activation_for(cfg, "sequence", activation)
    x, am = encoder.prepare(clip, fe, pad_seconds)

    got: dict[str, torch.Tensor] = {}

    def projector(_m, inputs, output):
        got["head_input"] = inputs[0].detach()[0].clone()
        got["projected"] = output.detach()[0].clone()  # cloned: HF zeroes padded rows in place

    def classifier(_m, inputs, _output):
        got["pooled"] = inputs[0].detach()[0].clone()

    extra = [(module_at(model, paths.parts["projector"]), projector),
             (module_at(model, paths.parts["classifier"]), classifier)]
    r = encoder.run(model, paths, x, am, policy, extra=extra, got=got)
    logits = r.output.logits[0]
    t = encoder.new_trace(loaded, clip, fe, r, policy)

    cls = module_at(model, paths.parts["classifier"])
    contrib, share = frame_decomposition(got["projected"].cpu(), r.frame_mask, got["pooled"].cpu(),
                                         cls.weight.detach().cpu())
    probs = common.probabilities(logits, activation)
    if getattr(cfg, "use_weighted_layer_sum", False):
        t.add("cls.layer_weights", torch.softmax(model.layer_weights.detach(), -1), ("layer",))
    t.add("cls.head_input", got["head_input"], ("encoder_frame", "hidden"))
    t.add("cls.projected", got["projected"], ("encoder_frame", "proj"))
    t.add("cls.pooled", got["pooled"], ("proj",), force=True)
    t.add("cls.logits", logits, ("label",), force=True)
    t.add("cls.probs", probs, ("label",), force=True)
    t.add("cls.bias", cls.bias.detach() if cls.bias is not None else torch.zeros_like(logits),
          ("label",), force=True)
    t.add("cls.frame_contributions", contrib, ("encoder_frame", "label"), force=True)
    t.add("cls.frame_share", share, ("encoder_frame",), force=True)

    label_names = common.label_names(cfg)
    t.meta.update({
        "kind": "sequence",
        "labels": label_names,
        "activation": activation,
        "activation_rule": why,
        "top_k": common.top_k(probs, logits, label_names, top_k),
        "classifier_proj_size": int(cfg.classifier_proj_size),
        "use_weighted_layer_sum": bool(getattr(cfg, "use_weighted_layer_sum", False)),
        "pad_seconds": float(pad_seconds),
        "decomposition": "logit_c = sum_t cls.frame_contributions[t, c] + cls.bias[c]",
    })
    return t


def frame_decomposition(projected: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor,
                        weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(contributions (frame, label), share (frame,)) of the masked mean, in float64 then float32.

    ``projected`` (frame, proj), ``mask`` (frame,) 0/1, ``pooled`` (proj,), ``weight`` (label, proj).
    """
    m = mask.double()[:, None]
    n = m.sum()
    if n == 0:
        raise LabError("no frame holds audio (the clip is shorter than one encoder frame)")
    p = projected.double() * m / n  # (frame, proj) each frame's term of the mean
    contrib = p @ weight.double().T  # (frame, label)
    pd = pooled.double()
    share = (p @ pd) / (pd @ pd).clamp_min(1e-30)
    return contrib.float(), share.float()
