"""The recipes' batch samplers (training.zoo.common)."""
import numpy as np

from training.zoo.common import bucketed_batches, shuffled_batches


def test_bucketed_batches_cover_every_clip_once_per_pass_with_little_padding():
    rng = np.random.default_rng(1)
    lengths = rng.integers(50, 400, size=1000)
    batches = list(bucketed_batches(lengths, 8, 124, np.random.default_rng(0), pool=10))
    assert len(batches) == 124 and all(len(b) == 8 for b in batches)
    first_pass = [i for b in batches[:124] for i in b]  # 1000 // 8 = 125 batches per pass
    assert len(set(first_pass)) == len(first_pass) == 992
    padded = sum(lengths[b].max() * len(b) for b in batches) / sum(lengths[b].sum() for b in batches)
    shuffled = list(shuffled_batches(1000, 8, 124, np.random.default_rng(0)))
    padded_random = sum(lengths[b].max() * len(b) for b in shuffled) / sum(lengths[b].sum() for b in shuffled)
    assert padded < 1.1 < 1.3 < padded_random
    # batches come in shuffled order, not sorted by length
    assert not np.all(np.diff([lengths[b].mean() for b in batches]) >= 0)


def test_bucketed_batches_are_deterministic_and_run_past_one_pass():
    lengths = np.arange(100)
    a = list(bucketed_batches(lengths, 16, 20, np.random.default_rng(3)))
    b = list(bucketed_batches(lengths, 16, 20, np.random.default_rng(3)))
    assert a == b and len(a) == 20  # 6 batches per pass (4 clips wait), so this spans 4 passes
