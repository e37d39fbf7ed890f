"""Shared pieces of the zoo recipes: the character vocabulary (the runtime's,
:mod:`lab.ctc.zoo_vocab`), corpus CER / WER (:mod:`lab.wer`), lr schedules and batch samplers."""
from __future__ import annotations

import numpy as np

from lab.ctc.zoo_vocab import BLANK, VOCAB, encode_text, greedy_decode, tokenizer  # noqa: F401


def _rates(refs: list[str], hyps: list[str]) -> tuple[float, float]:
    """Corpus (WER, CER): edits summed over the clips / reference words (characters) summed,
    each clip scored by :func:`lab.wer.wer_alignment` on the texts as they are (whitespace only)."""
    from lab.wer import wer_alignment

    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    words = chars = werr = cerr = 0.0
    for ref, hyp in zip(refs, hyps):
        r = wer_alignment(ref, hyp, normalize=False)
        n_chars = len(" ".join(ref.split()))
        werr += r["substitutions"] + r["deletions"] + r["insertions"]
        cerr += r["cer"] * n_chars
        words += len(r["reference_words"])
        chars += n_chars
    return werr / words, cerr / chars


def cer(refs: list[str], hyps: list[str]) -> float:
    return float(_rates(refs, hyps)[1])


def wer(refs: list[str], hyps: list[str]) -> float:
    return float(_rates(refs, hyps)[0])


def warmup_cosine(opt, steps: int, warm: int, floor: float = 0.0):
    """LambdaLR: linear warm-up over ``warm`` steps, then a cosine from the base lr down to
    ``floor`` x the base lr at ``steps``-ish (the cosine factor is clipped at ``floor``)."""
    import math

    import torch

    warm = max(1, warm)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm)
        * max(floor, 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))


def shuffled_batches(n: int, batch: int, steps: int, rng: np.random.Generator):
    """``steps`` lists of ``batch`` indices into ``range(n)``: walk a permutation, reshuffle (with
    ``rng``) whenever fewer than ``batch`` indices are left in it."""
    order, pos = np.arange(n), n
    for _ in range(steps):
        if pos + batch > n:
            rng.shuffle(order)
            pos = 0
        yield order[pos:pos + batch].tolist()
        pos += batch


def bucketed_batches(lengths, batch: int, steps: int, rng: np.random.Generator, pool: int = 50):
    """Like :func:`shuffled_batches`, but each batch holds clips of similar length (less padding):
    per pass over the data, a fresh permutation is cut into pools of ``batch * pool`` clips, each pool
    is sorted by ``lengths`` and cut into batches, and the pass's batches are shuffled. A pool's
    leftover clips (fewer than ``batch``) sit out that pass; the next pass draws a new permutation."""
    lengths = np.asarray(lengths)
    done = 0
    while True:
        order = rng.permutation(len(lengths))
        batches = []
        for s in range(0, len(order) - batch + 1, batch * pool):
            chunk = order[s:s + batch * pool]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches += [chunk[i:i + batch].tolist() for i in range(0, len(chunk) - batch + 1, batch)]
        for j in rng.permutation(len(batches)):
            if done == steps:
                return
            yield batches[j]
            done += 1
