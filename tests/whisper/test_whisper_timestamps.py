"""Word timestamps: DTW and median filter against transformers' reference implementations,
word splitting / punctuation merging, and words from a synthetic diagonal alignment."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lab.trace import CapturePolicy, Trace
from lab.whisper import names
from lab.whisper.timestamps import (alignment_matrix, dtw, median_filter, merge_punctuations,
                                    split_words, word_timestamps)


@pytest.fixture(scope="module")
def tok(tiny):
    return tiny.processor.tokenizer


def test_dtw_matches_transformers_reference():
    from transformers.models.whisper.generation_whisper import _dynamic_time_warping

    rng = np.random.default_rng(0)
    for shape in [(5, 40), (12, 30), (1, 10), (8, 8)]:
        m = rng.normal(size=shape)
        r1, c1 = dtw(m)
        r2, c2 = _dynamic_time_warping(m)
        assert r1.tolist() == r2.tolist() and c1.tolist() == c2.tolist()
        assert r1[0] == 0 and c1[0] == 0 and r1[-1] == shape[0] - 1 and c1[-1] == shape[1] - 1
        assert np.all(np.diff(r1) >= 0) and np.all(np.diff(c1) >= 0)


def test_median_filter_matches_transformers_reference():
    from transformers.models.whisper.generation_whisper import _median_filter

    x = torch.randn(3, 4, 50)
    torch.testing.assert_close(median_filter(x, 7), _median_filter(x, 7))
    assert torch.equal(median_filter(x[..., :2], 7), x[..., :2])  # too short: unchanged


def test_split_and_merge(tok):
    ids = tok.encode(" Hello, world. It's fine", add_special_tokens=False)
    words, idx = split_words(tok, ids, eos=50256)
    assert "".join(words) == " Hello, world. It's fine"
    assert sum(len(i) for i in idx) == len(ids)
    merged = merge_punctuations([{"word": w, "tokens": i} for w, i in zip(words, idx)])
    assert [w["word"] for w in merged] == [" Hello,", " world.", " It's", " fine"]


def _synthetic_trace(tok, text: str, seconds: float) -> Trace:
    """A trace whose alignment heads attend along a diagonal: token k at frames k*d .. (k+1)*d."""
    ids = tok.encode(text, add_special_tokens=False) + [50256]
    n_frames = int(seconds * 50)
    per = n_frames // len(ids)
    cross = torch.full((2, len(ids), 1500), 1e-4)
    for k in range(len(ids)):
        cross[:, k, k * per:(k + 1) * per] = 1.0
    cross = cross / cross.sum(-1, keepdim=True)
    tr = Trace(family="whisper", policy=CapturePolicy.full())
    tr.time_bases = dict(names.TIME_BASES)
    tr.add("timestamps.cross_attn", cross, names.AXES["timestamps.cross_attn"])
    tr.steps = [{"index": k, "token_id": t, "prob": 0.5} for k, t in enumerate(ids)]
    tr.meta["n_content_mel_frames"] = n_frames * 2
    return tr


def test_words_follow_a_diagonal_alignment(tok):
    tr = _synthetic_trace(tok, " one two three four five", 4.0)
    words = word_timestamps(tr, tok, eos=50256)
    assert [w["word"] for w in words] == [" one", " two", " three", " four", " five"]
    per_s = (200 // 6) / 50  # seconds per token row
    for k, w in enumerate(words):
        assert w["start"] == pytest.approx(k * per_s, abs=0.1)
        assert w["end"] == pytest.approx((k + 1) * per_s, abs=0.1)
        assert w["tokens"] == [k]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    assert all(a["end"] <= b["start"] + 1e-9 for a, b in zip(words, words[1:]))
    assert words[-1]["end"] <= 4.0
    m = tr["timestamps.matrix"]
    assert m.shape == (6, 200) and tr["timestamps.path"].shape[1] == 2


def test_alignment_matrix_is_standardised():
    cross = torch.softmax(torch.randn(3, 5, 1500), -1)
    m = alignment_matrix(cross, 100, medfilt_width=1)
    assert m.shape == (5, 100)
    # z-scored per frame column over tokens, then averaged over heads: column means are 0
    torch.testing.assert_close(m.mean(0), torch.zeros(100), atol=1e-5, rtol=0)


def test_tiny_trace_words_are_well_formed(tiny, fox):
    from lab.whisper import trace_whisper

    tr = trace_whisper(fox, tiny, max_steps=6, stop_on_repetition=False,
                       policy=CapturePolicy(names=["decoder.logits"]))
    words = tr.meta["words"]
    assert words, "random model still gets words from its tokens"
    assert all(0 <= w["start"] <= w["end"] <= 3.44 + 0.02 for w in words)
    assert all(a["end"] <= b["start"] + 1e-9 for a, b in zip(words, words[1:]))
    assert sorted(i for w in words for i in w["tokens"]) == [
        k for k, s in enumerate(tr.steps) if s["token_id"] < 50256]
