"""Forced alignment: the lab's CTC Viterbi against brute force, and its invariants."""
import itertools

import numpy as np
import pytest
import torch

from lab.ctc.align import align_reference, forced_align, merge_tokens, min_frames, reference_ids
from lab.ctc.capture import vocab_of
from lab.ctc.synthetic import peaky_logits
from lab.errors import LabError


def _collapse(path, blank):
    out = [k for k, _ in itertools.groupby(path)]
    return [k for k in out if k != blank]


def _brute(lp, targets, blank):
    """Best (score, path) over every length-T sequence that collapses to targets."""
    T, C = lp.shape
    best = (-np.inf, None)
    for path in itertools.product(range(C), repeat=T):
        if _collapse(path, blank) == list(targets):
            s = float(sum(lp[t, k] for t, k in enumerate(path)))
            if s > best[0]:
                best = (s, list(path))
    return best


@pytest.mark.parametrize("seed", range(40))
def test_viterbi_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    T, C, blank = int(rng.integers(2, 7)), int(rng.integers(2, 5)), int(rng.integers(0, 2))
    L = int(rng.integers(0, 4))
    labels = [c for c in range(C) if c != blank]
    targets = list(rng.choice(labels, size=L))
    lp = torch.log_softmax(torch.tensor(rng.normal(0, 2, (T, C))), -1).numpy()
    if T < min_frames(targets):
        with pytest.raises(LabError):
            forced_align(lp, np.array(targets, dtype=np.int64), blank=blank)
        return
    score, path = _brute(lp, targets, blank)
    got, scores = forced_align(lp, np.array(targets, dtype=np.int64), blank=blank)
    assert got.tolist() == path
    assert scores.sum() == pytest.approx(score, abs=1e-4)
    assert scores == pytest.approx(lp[np.arange(T), got], abs=1e-6)
    assert _collapse(got.tolist(), blank) == targets


def test_batched_torch_input_and_repeats_need_a_blank():
    lp = torch.log_softmax(torch.randn(1, 6, 3), -1)
    path, scores = forced_align(lp, torch.tensor([[1, 1, 2]]), blank=0)
    assert path.shape == (1, 6) and scores.shape == (1, 6)
    assert _collapse(path[0].tolist(), 0) == [1, 1, 2]
    with pytest.raises(LabError, match="too long"):
        forced_align(lp[0, :4], torch.tensor([1, 1, 1]), blank=0)
    with pytest.raises(LabError):
        forced_align(lp[0], torch.tensor([0, 1]), blank=0)  # blank in the targets


def test_merge_tokens_spans_and_mean_probability():
    path = np.array([0, 1, 1, 0, 2, 2, 2, 0])
    scores = np.log(np.array([0.9, 0.5, 0.7, 0.9, 0.2, 0.4, 0.6, 0.9]))
    spans = merge_tokens(path, scores, blank=0)
    assert [(s.token, s.start, s.end) for s in spans] == [(1, 1, 3), (2, 4, 7)]
    assert spans[0].score == pytest.approx(0.6) and spans[1].score == pytest.approx(0.4)


def test_align_reference_words_on_peaky_logits(w2v):
    v = vocab_of(w2v)
    logits = peaky_logits("the lazy dog", v, 60, seed=3)
    al = align_reference(torch.log_softmax(logits, -1), "The lazy dog!", v, 50.0)
    assert [w["word"] for w in al.words] == ["THE", "LAZY", "DOG"]
    assert al.dropped == ["!"]
    greedy = [w["word"] for w in __import__("lab.ctc.collapse", fromlist=["x"]).collapse(
        logits.argmax(-1).tolist(), v).words]
    assert greedy == ["THE", "LAZY", "DOG"]
    for w in al.words:
        assert 0.5 < w["score"] <= 1 and w["start"] < w["end"]
    assert [c["char"] for c in al.chars if c["char"] != "|"] == list("THELAZYDOG")


def test_reference_ids_case_and_unknown_characters(w2v):
    v = vocab_of(w2v)
    ids, dropped = reference_ids("it's  9 o'clock", v)
    assert "".join(v.tokens[i] for i in ids) == "IT'S|O'CLOCK"
    assert dropped == ["9"]
    with pytest.raises(LabError):
        reference_ids("123 ???", v)
