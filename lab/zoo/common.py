"""Shared pieces of the zoo: the character vocabulary, tokenizer, greedy CTC decoding, CER."""
from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np

# facebook/wav2vec2-base-960h layout: blank/pad 0, specials, word delimiter "|", letters, apostrophe
VOCAB: dict[str, int] = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
for _c in string.ascii_lowercase + "'":
    VOCAB[_c] = len(VOCAB)
BLANK = 0


def tokenizer(path: Path | None = None):
    """A ``Wav2Vec2CTCTokenizer`` over :data:`VOCAB` (saved to ``path`` if given)."""
    import tempfile

    from transformers import Wav2Vec2CTCTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        vf = Path(tmp) / "vocab.json"
        vf.write_text(json.dumps(VOCAB))
        tok = Wav2Vec2CTCTokenizer(str(vf), unk_token="<unk>", pad_token="<pad>",
                                   word_delimiter_token="|", do_lower_case=False)
    if path is not None:
        tok.save_pretrained(str(path))
    return tok


def encode_text(text: str) -> list[int]:
    """'two words' -> ids of 't','w','o','|','w',... (unknown characters dropped)."""
    return [VOCAB["|"] if c == " " else VOCAB[c] for c in text.lower().strip() if c == " " or c in VOCAB]


def greedy_decode(ids) -> str:
    """Collapse repeats, drop blanks, '|' -> space (the standard CTC greedy rule)."""
    inv = {i: c for c, i in VOCAB.items()}
    out, prev = [], None
    for i in np.asarray(ids).tolist():
        if i != prev and i != BLANK:
            out.append(inv.get(i, ""))
        prev = i
    s = "".join(" " if c == "|" else (c if len(c) == 1 else "") for c in out)
    return " ".join(s.split())


def cer(refs: list[str], hyps: list[str]) -> float:
    import jiwer

    return float(jiwer.cer(refs, hyps))


def wer(refs: list[str], hyps: list[str]) -> float:
    import jiwer

    return float(jiwer.wer(refs, hyps))


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
