"""Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers").

How much of token ``j``'s input reaches token ``i`` at the top of the encoder, if information
only moved along attention edges:

1. per layer ``l``, average the attention over heads: ``A_l = mean_h attn[l, h]`` (query, key);
2. add the residual connection as an identity edge and renormalize the rows:
   ``Â_l = (0.5 A_l + 0.5 I) / rowsum`` (each layer passes half its input straight through);
3. multiply bottom-up: ``R = Â_L @ ... @ Â_2 @ Â_1``.

Every ``Â_l`` is row-stochastic, so every row of ``R`` sums to 1 (a distribution over the input
tokens). With ``residual=False`` step 2 is skipped (raw attention products, which tend to wash out
to uniform after a few layers).
"""
from __future__ import annotations

from typing import Sequence

import torch


def layer_matrix(attn: torch.Tensor, *, residual: bool = True) -> torch.Tensor:
    """``Â_l`` (query, key) from one layer's attention: (head, query, key) or already head-averaged
    (query, key)."""
    a = attn.double()
    if a.dim() == 3:
        a = a.mean(0)
    if a.dim() != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"expected (head, token, token) or (token, token) attention, got {tuple(attn.shape)}")
    if residual:
        a = 0.5 * a + 0.5 * torch.eye(a.shape[0], dtype=a.dtype, device=a.device)
    return a / a.sum(-1, keepdim=True)


def attention_rollout(layers: Sequence[torch.Tensor], *, residual: bool = True) -> torch.Tensor:
    """Full rollout matrix ``R`` (query_token, key_token), float32; rows sum to 1.

    ``layers``: one attention tensor per layer, bottom first, each (head, q, k) or (q, k).
    Costs ``L`` token^3 multiplications: use :func:`rollout_rows` when only a few rows are needed.
    """
    if len(layers) == 0:
        raise ValueError("attention rollout needs at least one layer")
    r = None
    for attn in layers:
        a = layer_matrix(attn, residual=residual)
        r = a if r is None else a @ r
    return r.float()


def rollout_rows(layers: Sequence[torch.Tensor], rows: Sequence[int], *,
                 residual: bool = True) -> torch.Tensor:
    """Rows ``rows`` of :func:`attention_rollout` (len(rows), key_token), computed top-down as
    vector-matrix products (``L`` token^2 work instead of token^3)."""
    if len(layers) == 0:
        raise ValueError("attention rollout needs at least one layer")
    n = layers[0].shape[-1]
    v = torch.zeros(len(rows), n, dtype=torch.float64, device=layers[0].device)
    v[torch.arange(len(rows)), torch.as_tensor(list(rows))] = 1.0
    for attn in reversed(list(layers)):
        v = v @ layer_matrix(attn, residual=residual)
    return v.float()
