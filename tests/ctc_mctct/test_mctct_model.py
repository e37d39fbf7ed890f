"""MCTCTForCTC: 4.46 parity on a committed tiny model, shapes, attention, padding, loss."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mctct_helpers import TINY

from lab.ctc.mctct import MCTCTConfig, MCTCTForCTC


def test_tiny_446_model_matches(reference):
    """Weights of a 4.46 model load by name (strict) and give 4.46's logits and attentions;
    14 encoder frames > 8 positions, so the clipped relative-position range is covered."""
    model = MCTCTForCTC(MCTCTConfig(**json.loads(str(reference["config"])))).eval()
    state = {k[2:]: torch.from_numpy(v) for k, v in reference.items() if k.startswith("w.")}
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        out = model(torch.from_numpy(reference["x"]), attention_mask=torch.from_numpy(reference["x_mask"]),
                    output_attentions=True)
    np.testing.assert_allclose(out.logits.numpy(), reference["logits"], atol=1e-5, rtol=0)
    for i, a in enumerate(out.attentions):
        np.testing.assert_allclose(a.numpy(), reference[f"attentions.{i}"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("frames", [1, 2, 47, 100])
def test_shapes(tiny_model, frames):
    x = torch.randn(2, frames, 80)
    with torch.no_grad():
        out = tiny_model(x, output_attentions=True, output_hidden_states=True)
    t = (frames - 1) // 3 + 1  # kernel 7 padded by 3, stride 3
    assert tiny_model._get_feat_extract_output_lengths(frames) == t
    assert out.logits.shape == (2, t, TINY["vocab_size"])
    assert len(out.hidden_states) == TINY["num_hidden_layers"] + 1
    assert all(h.shape == (2, t, TINY["hidden_size"]) for h in out.hidden_states)
    assert len(out.attentions) == TINY["num_hidden_layers"]
    assert all(a.shape == (2, TINY["num_attention_heads"], t, t) for a in out.attentions)
    torch.testing.assert_close(tiny_model.ctc_head(out.hidden_states[-1]), out.logits)


def test_attention_rows_sum_to_one_and_skip_padding(tiny_model):
    x = torch.randn(2, 100, 80)
    mask = torch.ones(2, 100, dtype=torch.long)
    mask[1, 40:] = 0  # 40 feature frames -> 14 encoder frames
    with torch.no_grad():
        out = tiny_model(x, attention_mask=mask, output_attentions=True)
    for a in out.attentions:
        torch.testing.assert_close(a.sum(-1), torch.ones(a.shape[:-1]))
        assert a[1, :, :, 14:].max() < 1e-6  # no weight on padded encoder frames
        assert a[1, :, :, :14].min() > 0


def test_padding_does_not_change_real_frames(tiny_model):
    """A clip alone and the same clip right-padded in a batch give the same logits on its
    frames (the scale-shift bias is 0 here, so padded features equal the conv's zero pad)."""
    short, long_ = torch.randn(1, 40, 80), torch.randn(1, 100, 80)
    batch = torch.cat([long_, torch.nn.functional.pad(short, (0, 0, 0, 60))])
    mask = torch.ones(2, 100, dtype=torch.long)
    mask[1, 40:] = 0
    with torch.no_grad():
        alone = tiny_model(short).logits
        both = tiny_model(batch, attention_mask=mask).logits
        unmasked = tiny_model(batch).logits
    torch.testing.assert_close(both[1, :14], alone[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(both[0], tiny_model(long_).logits[0], atol=1e-5, rtol=0)
    assert (unmasked[1, :14] - alone[0]).abs().max() > 1e-3  # the mask is what makes it equal


def test_relative_positions_clip_beyond_table():
    """Offsets beyond +-(M-1) contribute 0: with M = 2 and distance rows set to known values,
    the position score of query q and key k is q . E[1 + k - q] for |k - q| <= 1 else 0."""
    cfg = MCTCTConfig(**{**TINY, "max_position_embeddings": 2})
    attn = MCTCTForCTC(cfg).mctct.encoder.layers[0].attention.self
    q = torch.randn(1, 2, 5, 16)
    with torch.no_grad():
        attn.distance_embedding.weight.copy_(torch.randn(3, 16))
        got = attn.position_scores(q)
    e = attn.distance_embedding.weight
    want = torch.zeros(1, 2, 5, 5)
    for i in range(5):
        for j in range(5):
            if abs(j - i) <= 1:
                want[..., i, j] = (q[..., i, :] * e[1 + j - i]).sum(-1)
    torch.testing.assert_close(got, want)


def test_ctc_loss_and_return_tuple(tiny_model):
    x = torch.randn(2, 60, 80)
    labels = torch.tensor([[5, 6, 7], [8, 9, -100]])
    out = tiny_model(x, labels=labels)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    out.loss.backward()
    assert tiny_model.ctc_head.weight.grad is not None
    tup = tiny_model(x, return_dict=False)
    assert isinstance(tup, tuple) and tup[0].shape == out.logits.shape


def test_config_validation():
    with pytest.raises(ValueError, match="hidden_size"):
        MCTCTConfig(hidden_size=30, num_attention_heads=4, attention_head_dim=8)
    with pytest.raises(ValueError, match="num_conv_layers"):
        MCTCTConfig(num_conv_layers=2)
