"""Forced alignment of a reference transcript to CTC log-probabilities (Viterbi over the CTC trellis).

Why not ``torchaudio.functional.forced_align``: the only torchaudio wheel on PyPI for this torch
is CUDA-linked and fails to import with the CPU torch the lab pins (and its presence breaks
``transformers.audio_utils``), so the lab carries the same algorithm here (a few lines of
numpy, vectorised over the trellis states) with the same semantics: log-probs ``(T, C)`` (or
``(1, T, C)``), targets ``(L,)`` (or ``(1, L)``), ``blank`` -> per-frame token path ``(T,)`` and
per-frame log-probability of that token ``(T,)``. When a working torchaudio is importable,
:func:`forced_align` can be cross-checked against it (``tests/ctc`` does not need it: it checks
against a brute-force enumeration of every valid alignment on tiny inputs).

The trellis: targets interleaved with blanks, ``z = [_, y1, _, y2, ..., yL, _]`` (S = 2L + 1
states). A path starts in state 0 or 1, ends in S-1 or S-2, and at each frame stays, moves one
state, or skips a blank (two states) when the two labels around it differ. Viterbi keeps the
best log-probability per state and a back-pointer (0, 1 or 2 states back).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..errors import LabError

NEG_INF = -np.inf


def min_frames(targets: Sequence[int]) -> int:
    """Fewest frames a CTC path for ``targets`` needs: one per label + one blank per repeat."""
    t = list(targets)
    return len(t) + sum(1 for a, b in zip(t, t[1:]) if a == b)


def forced_align(log_probs, targets, blank: int = 0):
    """Best CTC alignment of ``targets`` to ``log_probs``.

    ``log_probs``: (T, C) or (1, T, C) log-probabilities (numpy or torch). ``targets``: (L,) or
    (1, L) ids without blanks. Returns ``(path, scores)`` with the input's batch dims: ``path``
    (T,) int64 token per frame (``blank`` or a target), ``scores`` (T,) float32 log-probability of
    that token at that frame. Raises LabError when T is too short for the targets.
    """
    lp = log_probs.detach().cpu().numpy() if hasattr(log_probs, "detach") else np.asarray(log_probs)
    tg = targets.detach().cpu().numpy() if hasattr(targets, "detach") else np.asarray(targets)
    batched = lp.ndim == 3
    if batched:
        if lp.shape[0] != 1 or tg.ndim != 2 or tg.shape[0] != 1:
            raise ValueError("forced_align aligns one sequence: log_probs (1, T, C), targets (1, L)")
        lp, tg = lp[0], tg[0]
    lp = lp.astype(np.float64)
    tg = tg.astype(np.int64).reshape(-1)
    T, C = lp.shape
    if (tg == blank).any():
        raise LabError("the targets contain the blank id")
    if ((tg < 0) | (tg >= C)).any():
        raise LabError(f"target ids must lie in [0, {C})")
    need = min_frames(tg)
    if T < need:
        raise LabError(f"the clip has {T} CTC frames but the reference needs at least {need} "
                       "(one per character plus one between repeated characters): the reference "
                       "is too long for this audio")
    S = 2 * len(tg) + 1
    z = np.full(S, blank, dtype=np.int64)
    z[1::2] = tg
    # a skip of two states is allowed into a non-blank state whose label differs from 2 back
    skip = np.zeros(S, dtype=bool)
    skip[2:] = (z[2:] != blank) & (z[2:] != z[:-2])
    emit = lp[:, z]  # (T, S)
    alpha = np.full(S, NEG_INF)
    alpha[0] = emit[0, 0]
    if S > 1:
        alpha[1] = emit[0, 1]
    back = np.zeros((T, S), dtype=np.int8)
    for t in range(1, T):
        cand = np.full((3, S), NEG_INF)  # from the same state, one back, two back
        cand[0] = alpha
        cand[1, 1:] = alpha[:-1]
        cand[2, 2:] = np.where(skip[2:], alpha[:-2], NEG_INF)
        best = cand.argmax(0)
        back[t] = best
        alpha = cand[best, np.arange(S)] + emit[t]
    end = S - 1 if S == 1 or alpha[S - 1] >= alpha[S - 2] else S - 2
    if not np.isfinite(alpha[end]):
        raise LabError("no valid CTC alignment of the reference (every path has probability 0)")
    states = np.empty(T, dtype=np.int64)
    s = end
    for t in range(T - 1, -1, -1):
        states[t] = s
        s -= back[t, s]
    path = z[states]
    scores = emit[np.arange(T), states].astype(np.float32)
    if batched:
        return path[None], scores[None]
    return path, scores


def path_log_prob(scores) -> float:
    """Total log-probability of an alignment (sum of its per-frame scores)."""
    return float(np.asarray(scores, dtype=np.float64).sum())


@dataclass
class TokenSpan:
    """A target token over frames ``[start, end)``; ``score`` = mean probability over them."""

    token: int
    start: int
    end: int
    score: float


def merge_tokens(path, scores, blank: int = 0) -> list[TokenSpan]:
    """Spans of consecutive equal non-blank tokens of a path (as torchaudio's ``merge_tokens``)
    with their mean probability (``scores`` are log-probs)."""
    path = np.asarray(path).reshape(-1)
    probs = np.exp(np.asarray(scores, dtype=np.float64).reshape(-1))
    out = []
    t = 0
    while t < len(path):
        e = t
        while e + 1 < len(path) and path[e + 1] == path[t]:
            e += 1
        if path[t] != blank:
            out.append(TokenSpan(int(path[t]), t, e + 1, float(probs[t:e + 1].mean())))
        t = e + 1
    return out


# -- reference text -> target ids ------------------------------------------------------------
def _case_of(tokens: Sequence[str]) -> str:
    letters = [t for t in tokens if len(t) == 1 and t.isalpha()]
    upper = sum(t.isupper() for t in letters)
    lower = sum(t.islower() for t in letters)
    return "upper" if upper > lower else "lower" if lower > upper else "keep"


def reference_ids(text: str, vocab) -> tuple[list[int], list[str]]:
    """Target ids for ``text`` under a :class:`lab.ctc.collapse.Vocab`: case folded to the
    vocabulary's, spaces -> the word delimiter, characters the vocabulary lacks dropped (returned
    as the second value)."""
    index = {t: i for i, t in enumerate(vocab.tokens) if t}
    case = _case_of(vocab.tokens)
    text = text.upper() if case == "upper" else text.lower() if case == "lower" else text
    delim = vocab.delimiter if vocab.delimiter in index else (" " if " " in index else None)
    ids: list[int] = []
    dropped: list[str] = []
    for word in text.split():
        chars = [index[c] for c in word if c in index and index[c] != vocab.blank_id]
        dropped += [c for c in word if c not in index]
        if not chars:
            continue
        if ids and delim is not None:
            ids.append(index[delim])
        ids.extend(chars)
    if not ids:
        raise LabError(f"the reference {text[:60]!r} has no character of the model's vocabulary")
    return ids, sorted(set(dropped))


@dataclass
class Alignment:
    """Forced alignment of a reference: per-character and per-word spans with confidence."""

    reference: str
    target_ids: list[int]
    dropped: list[str]
    path: list[int]
    chars: list[dict]
    words: list[dict]
    log_prob: float

    def as_dict(self) -> dict:
        return asdict(self)


def align_reference(log_probs, text: str, vocab, frames_per_second: float) -> Alignment:
    """Align ``text`` to ``log_probs`` (T, C): character spans and word spans (seconds, mean
    probability; a word's score is the frame-weighted mean of its characters')."""
    ids, dropped = reference_ids(text, vocab)
    path, scores = forced_align(log_probs, np.asarray(ids), blank=vocab.blank_id)
    spans = merge_tokens(path, scores, blank=vocab.blank_id)
    # spans come one per target token in order (repeats are split by a blank in the path)
    delim_ids = {i for i, t in enumerate(vocab.tokens) if t in (vocab.delimiter, " ")}
    chars, words, cur = [], [], []
    for sp in spans:
        tok = vocab.tokens[sp.token]
        d = {"char": tok, "id": sp.token, "start_frame": sp.start, "end_frame": sp.end,
             "start": sp.start / frames_per_second, "end": sp.end / frames_per_second,
             "score": sp.score}
        chars.append(d)
        if sp.token in delim_ids:
            _flush(cur, words, frames_per_second, vocab.lower)
        else:
            cur.append(d)
    _flush(cur, words, frames_per_second, vocab.lower)
    return Alignment(text, ids, dropped, [int(p) for p in path], chars, words, path_log_prob(scores))


def _flush(cur: list[dict], words: list[dict], fps: float, lower: bool) -> None:
    if not cur:
        return
    n = sum(c["end_frame"] - c["start_frame"] for c in cur)
    score = sum(c["score"] * (c["end_frame"] - c["start_frame"]) for c in cur) / n
    word = "".join(c["char"] for c in cur)
    words.append({"word": word.lower() if lower else word, "start_frame": cur[0]["start_frame"],
                  "end_frame": cur[-1]["end_frame"], "start": cur[0]["start_frame"] / fps,
                  "end": cur[-1]["end_frame"] / fps, "score": score})
    cur.clear()
