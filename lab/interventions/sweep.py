"""Head importance (Whisper): knock out one attention head at a time and measure how much the
log-probability of the unchanged run's tokens drops.

For each (layer, head) of one part (``decoder.layers.{i}.cross_attn`` by default; also
``decoder.layers.{i}.self_attn`` or ``encoder.layers.{i}.attn``) the decoder is run once,
teacher-forced on prompt + the trace's tokens with that head zeroed (the encoder is re-run per
head only for an encoder part), and ``sum_t log p(token_t)`` from the raw logits is compared with
the intact model's. Result: ``delta`` (layer, head) in nats (negative = the head helped).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..errors import LabError
from .hooks import Plan
from .spec import Ablate

PARTS = ("decoder.layers.{i}.cross_attn", "decoder.layers.{i}.self_attn", "encoder.layers.{i}.attn")


@dataclass
class Sweep:
    part: str
    delta: torch.Tensor  # (layer, head) nats: ablated - intact total log-probability
    base_logprob: float
    n_tokens: int

    def as_dict(self) -> dict:
        return {"part": self.part, "delta": self.delta.tolist(), "base_logprob": self.base_logprob,
                "n_tokens": self.n_tokens}


def _logprob(model, feats, enc, ids: torch.Tensor, n_prompt: int, part: str) -> float:
    from transformers.modeling_outputs import BaseModelOutput

    if part.startswith("encoder"):
        enc = model.model.encoder(feats).last_hidden_state
    logits = model(encoder_outputs=BaseModelOutput(last_hidden_state=enc), decoder_input_ids=ids).logits[0]
    lp = torch.log_softmax(logits[n_prompt - 1:-1].double(), -1)
    return float(lp.gather(1, ids[0, n_prompt:, None]).sum())


def head_importance(trace, loaded, *, part: str = PARTS[0],
                    progress: Callable[[int, int], None] | None = None) -> Sweep:
    """The sweep over every head of ``part`` for the tokens of ``trace`` (a ``trace_whisper``
    trace of the clip; ``input.log_mel`` and ``meta["prompt"]`` are read from it).
    ``progress(done, total)`` is called after each head."""
    if part not in PARTS:
        raise LabError(f"head_importance part must be one of {PARTS}, got {part!r}")
    model = loaded.model
    c = model.config
    n_layers, n_heads = ((c.encoder_layers, c.encoder_attention_heads) if part.startswith("encoder")
                         else (c.decoder_layers, c.decoder_attention_heads))
    prompt = [p["token_id"] for p in trace.meta["prompt"]]
    ids = torch.tensor([prompt + list(trace.meta["token_ids"])])
    feats = trace["input.log_mel"][None].to(next(model.parameters()).dtype)
    with torch.no_grad():
        enc = model.model.encoder(feats).last_hidden_state
        base = _logprob(model, feats, enc, ids, len(prompt), "decoder")
        delta = torch.zeros(n_layers, n_heads)
        total, done = n_layers * n_heads, 0
        for layer in range(n_layers):
            for head in range(n_heads):
                plan = Plan(model, "whisper", [Ablate(part.format(i=layer), heads=(head,))])
                with plan.installed():
                    delta[layer, head] = _logprob(model, feats, enc, ids, len(prompt), part) - base
                done += 1
                if progress is not None:
                    progress(done, total)
    return Sweep(part=part, delta=delta, base_logprob=base, n_tokens=ids.shape[1] - len(prompt))
