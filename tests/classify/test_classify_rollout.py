"""Attention rollout (Abnar & Zuidema) against hand computations."""
import pytest
import torch

from lab.classify.rollout import attention_rollout, layer_matrix, rollout_rows


def random_attention(layers=3, heads=2, n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.softmax(torch.randn(heads, n, n, generator=g) * 2, -1) for _ in range(layers)]


def test_rows_sum_to_one():
    r = attention_rollout(random_attention())
    torch.testing.assert_close(r.sum(-1), torch.ones(7))
    assert (r >= 0).all()


def test_rows_equal_the_full_matrix_rows():
    att = random_attention(layers=4, n=9)
    full = attention_rollout(att)
    torch.testing.assert_close(rollout_rows(att, [0, 3, 8]), full[[0, 3, 8]])
    full_raw = attention_rollout(att, residual=False)
    torch.testing.assert_close(rollout_rows(att, [2], residual=False), full_raw[[2]])


def test_hand_computed_two_layers():
    att = random_attention(layers=2, n=5)
    eye = torch.eye(5, dtype=torch.float64)
    a1 = 0.5 * att[0].double().mean(0) + 0.5 * eye
    a2 = 0.5 * att[1].double().mean(0) + 0.5 * eye
    expected = (a2 / a2.sum(-1, keepdim=True)) @ (a1 / a1.sum(-1, keepdim=True))
    torch.testing.assert_close(attention_rollout(att), expected.float())


def test_identity_attention_rolls_out_to_identity_and_one_raw_layer_is_the_head_mean():
    eye = torch.eye(4).expand(3, 4, 4)
    torch.testing.assert_close(attention_rollout([eye, eye]), torch.eye(4))
    att = random_attention(layers=1, n=4)
    torch.testing.assert_close(attention_rollout(att, residual=False), att[0].mean(0))


def test_head_averaged_input_is_accepted():
    att = random_attention()
    torch.testing.assert_close(attention_rollout([a.mean(0) for a in att]), attention_rollout(att))


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        layer_matrix(torch.ones(2, 3, 4))
    with pytest.raises(ValueError):
        attention_rollout([])
