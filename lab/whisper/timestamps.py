"""Word timestamps from the alignment heads' cross-attention, with dynamic time warping.

Follows openai/whisper ``timing.py`` (``find_alignment``): for the decoding steps that produced
text tokens (plus the end-of-text step), take the cross-attention rows of the alignment heads over
the encoder frames that hold audio, renormalise each row over those frames (openai softmaxes the
cropped scores -- the same thing), standardise every frame column over the tokens (z-score),
median-filter along time (width 7), average the heads, and run DTW on the negated matrix. A token
starts where the path first enters its row; a word starts at its first token and ends where the
next word (or end-of-text) starts. Punctuation is merged into the neighbouring word as openai does.
Word confidence as openai ``find_alignment``: a token's probability is the softmax of the raw
logits that chose it restricted to the text tokens (``logits[:eot]``, no suppression), a word's
probability the mean over its tokens (before punctuation is merged; a merged mark adds no
probability, as in openai). Not done here: openai's extra heuristics (clipping over-long words around sentence ends and the
pause-based shifts of ``add_word_timestamps``) -- the raw DTW result is what this lab shows.
"""
from __future__ import annotations

import string

import numpy as np
import torch

from ..trace import Trace
from . import names
from .constants import ENCODER_FRAMES_PER_SECOND, WINDOW_MEL_FRAMES

MEDFILT_WIDTH = 7
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"
NO_SPACE_LANGUAGES = {"zh", "ja", "th", "lo", "my", "yue"}


def median_filter(x: torch.Tensor, width: int) -> torch.Tensor:
    """Median over a sliding window of odd ``width`` along the last axis, reflect-padded
    (openai ``timing.median_filter``)."""
    if width <= 1 or x.shape[-1] <= width // 2:
        return x
    pad = width // 2
    shape = x.shape
    y = torch.nn.functional.pad(x.reshape(-1, 1, shape[-1]), (pad, pad), mode="reflect")
    return y.unfold(-1, width, 1).sort()[0][..., pad].reshape(shape)


def dtw(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monotonic alignment path through ``cost`` (rows = tokens, columns = frames) from (0, 0) to
    (N-1, M-1) with steps diagonal / down / right, as openai ``timing.dtw_cpu`` (same tie order).
    Returns (row indices, column indices) along the path."""
    N, M = cost.shape
    acc = np.full((N + 1, M + 1), np.inf)
    acc[0, 0] = 0
    move = -np.ones((N + 1, M + 1), dtype=np.int8)
    for j in range(1, M + 1):
        for i in range(1, N + 1):
            c0, c1, c2 = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
            if c0 < c1 and c0 < c2:
                c, t = c0, 0
            elif c1 < c0 and c1 < c2:
                c, t = c1, 1
            else:
                c, t = c2, 2
            acc[i, j] = cost[i - 1, j - 1] + c
            move[i, j] = t
    move[0, :] = 2
    move[:, 0] = 1
    i, j = N, M
    rows, cols = [], []
    while i > 0 or j > 0:
        rows.append(i - 1)
        cols.append(j - 1)
        t = move[i, j]
        if t == 0:
            i, j = i - 1, j - 1
        elif t == 1:
            i -= 1
        else:
            j -= 1
    return np.array(rows[::-1]), np.array(cols[::-1])


def split_words(tokenizer, tokens: list[int], eos: int, language: str | None = None):
    """(words, token index lists): openai ``split_tokens_on_spaces`` (a word starts at a piece
    with a leading space, a special token or punctuation) or ``split_tokens_on_unicode`` for
    languages written without spaces. Pieces are complete UTF-8 characters."""
    full = tokenizer.decode(tokens)
    pieces, piece_idx, cur, offset = [], [], [], 0
    for k, t in enumerate(tokens):
        cur.append(k)
        text = tokenizer.decode([tokens[i] for i in cur])
        if "\ufffd" not in text or full[offset + text.index("\ufffd")] == "\ufffd":
            pieces.append(text)
            piece_idx.append(cur)
            cur = []
            offset += len(text)
    if language in NO_SPACE_LANGUAGES:
        return pieces, piece_idx
    words, word_idx = [], []
    for text, idx in zip(pieces, piece_idx):
        special = tokens[idx[0]] >= eos
        if special or text.startswith(" ") or text.strip() in string.punctuation or not words:
            words.append(text)
            word_idx.append(list(idx))
        else:
            words[-1] += text
            word_idx[-1].extend(idx)
    return words, word_idx


def merge_punctuations(words: list[dict]) -> list[dict]:
    """openai ``merge_punctuations``: leading quotes/brackets join the next word, trailing
    punctuation joins the previous one (times of the word it joins are kept)."""
    i, j = len(words) - 2, len(words) - 1
    while i >= 0:
        prev, nxt = words[i], words[j]
        if prev["word"].startswith(" ") and prev["word"].strip() in PREPEND_PUNCTUATIONS:
            nxt["word"] = prev["word"] + nxt["word"]
            nxt["tokens"] = prev["tokens"] + nxt["tokens"]
            prev["word"], prev["tokens"] = "", []
        else:
            j = i
        i -= 1
    i, j = 0, 1
    while j < len(words):
        prev, nxt = words[i], words[j]
        if not prev["word"].endswith(" ") and nxt["word"] in APPEND_PUNCTUATIONS:
            prev["word"] += nxt["word"]
            prev["tokens"] = prev["tokens"] + nxt["tokens"]
            nxt["word"], nxt["tokens"] = "", []
        else:
            i = j
        j += 1
    return [w for w in words if w["word"]]


def alignment_matrix(cross: torch.Tensor, n_frames: int, medfilt_width: int = MEDFILT_WIDTH) -> torch.Tensor:
    """(token, frame) matrix DTW runs on. ``cross``: (alignment_head, token, key_frame) attention
    rows; ``n_frames``: encoder frames holding audio (the rest is padding)."""
    w = cross[..., :n_frames].float()
    w = w / w.sum(-1, keepdim=True).clamp_min(1e-12)  # = softmax of the cropped scores
    std, mean = torch.std_mean(w, dim=-2, keepdim=True, unbiased=False)
    w = (w - mean) / std.clamp_min(1e-12)
    w = median_filter(w, medfilt_width)
    return w.mean(0)


PROBABILITY_DOC = "mean over the word's tokens of softmax(raw logits[:eot])[token] (openai find_alignment)"


def token_probabilities(trace: Trace, steps: list[int], eos: int) -> list[float]:
    """Probability of the token chosen at each of ``steps``, as openai ``find_alignment``
    computes it: softmax over the text tokens (ids < ``eos``) of the raw logits of that step
    (``decoder.logits``). Without ``decoder.logits``: the steps' own (processed) ``prob``."""
    if "decoder.logits" not in trace:
        return [float(trace.steps[s]["prob"]) for s in steps]
    if not steps:
        return []
    logits = trace["decoder.logits"][steps, :eos].float()
    ids = torch.tensor([trace.steps[s]["token_id"] for s in steps])
    return logits.softmax(-1).gather(1, ids[:, None])[:, 0].tolist()


def heads_cross_attention(trace: Trace, heads: list[list[int]]) -> torch.Tensor:
    """(head, step, key_frame) float32 cross-attention rows of ``heads`` ([[decoder layer, head]
    ...]) at every decoding step, read from ``decoder.step.{s}.cross_attn.pattern`` (layer, head,
    key_frame). LabError when a step's pattern or a (layer, head) was not captured (the policy
    kept other names, layers or heads)."""
    from ..errors import LabError

    heads = [[int(l), int(h)] for l, h in heads]
    if not heads:
        raise LabError("word timestamps: heads is empty (give [[layer, head], ...])")
    layers = trace.meta.get("captured_layers", {}).get("decoder")
    kept_heads = trace.meta.get("captured_heads")
    rows = []
    for l, h in heads:
        if layers is not None and l not in layers:
            raise LabError(f"word timestamps with head [{l}, {h}]: decoder layer {l} was not captured "
                           f"(captured: {layers}); trace with a policy that keeps it")
        if kept_heads is not None and h not in kept_heads:
            raise LabError(f"word timestamps with head [{l}, {h}]: head {h} was not captured "
                           f"(captured heads: {kept_heads})")
        rows.append(((layers.index(l) if layers is not None else l),
                     (kept_heads.index(h) if kept_heads is not None else h)))
    out = []
    for s in range(len(trace.steps)):
        name = names.step_cross(s)
        if name not in trace:
            raise LabError(f"word timestamps with chosen heads need {name!r}: trace with a policy "
                           "that keeps 'decoder.step.*.cross_attn.pattern'")
        pat = trace[name]  # (layer, head, key_frame)
        n_l, n_h = pat.shape[0], pat.shape[1]
        for (li, hi), (l, h) in zip(rows, heads):
            if li >= n_l or hi >= n_h:
                raise LabError(f"word timestamps: head [{l}, {h}] is outside the captured "
                               f"{n_l} layers x {n_h} heads")
        out.append(torch.stack([pat[li, hi].float() for li, hi in rows]))
    return torch.stack(out, 1)


def word_timestamps(trace: Trace, tokenizer, *, eos: int, offset: float = 0.0,
                    medfilt_width: int = MEDFILT_WIDTH, heads: list[list[int]] | None = None) -> list[dict]:
    """Words with times (seconds from the clip start, + ``offset``) for a greedy trace.

    ``heads``: the cross-attention heads DTW runs on, [[decoder layer, head], ...]. ``None`` (the
    default): the trace's alignment heads (``generation_config.alignment_heads``), whose rows the
    decoder kept at float32 in ``timestamps.cross_attn`` (alignment_head, step, key_frame). Other
    heads (e.g. the ones :mod:`lab.interventions.align_heads` finds) are read from
    ``decoder.step.{s}.cross_attn.pattern`` (:func:`heads_cross_attention`; stored at the
    policy's ``attn_dtype``, fp16 by default). Adds
    ``timestamps.matrix`` (step, encoder_frame) -- the DTW input, one row per text step (+ the
    end-of-text step), content frames only -- and ``timestamps.path`` (point, coord): the DTW path
    as (row, encoder frame) pairs. Returns ``[{word, start, end, probability, tokens: [step
    indices]}]`` (``probability``: :func:`token_probabilities` averaged over the word's tokens).
    """
    if not trace.steps or (heads is None and "timestamps.cross_attn" not in trace):
        return []
    ids = [s["token_id"] for s in trace.steps]
    rows = [k for k, t in enumerate(ids) if t < eos]
    if not rows:
        return []
    has_eot = ids[-1] == eos
    if has_eot:
        rows.append(len(ids) - 1)
    n_frames = max(1, int(trace.meta.get("n_content_mel_frames", WINDOW_MEL_FRAMES)) // 2)
    if heads is None:
        cross = trace["timestamps.cross_attn"][:, rows]
    else:
        cross = heads_cross_attention(trace, heads)[:, rows]
    matrix = alignment_matrix(cross, n_frames, medfilt_width)
    text_idx, time_idx = dtw(-matrix.double().numpy())
    trace.add("timestamps.matrix", matrix, names.AXES["timestamps.matrix"], force=True)
    trace.add("timestamps.path", torch.from_numpy(np.stack([text_idx, time_idx], 1)),
              names.AXES["timestamps.path"], force=True)
    text_rows = rows[:-1] if has_eot else rows
    token_probs = token_probabilities(trace, text_rows, eos)
    trace.meta["timestamps"] = {"rows": rows, "n_frames": n_frames, "medfilt_width": medfilt_width,
                                "method": "DTW over alignment-head cross-attention (openai timing.py)",
                                "heads": (trace.meta.get("alignment_heads") if heads is None
                                          else [[int(l), int(h)] for l, h in heads]),
                                "heads_from": "alignment_heads" if heads is None else "chosen",
                                "probability": PROBABILITY_DOC if "decoder.logits" in trace else
                                "mean of the steps' probabilities (no decoder.logits in the trace)"}
    rate = trace.time_bases.get("encoder_frame", ENCODER_FRAMES_PER_SECOND)
    jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
    jump_times = time_idx[jumps] / rate  # the time each row is entered, one per row
    words, word_idx = split_words(tokenizer, [ids[k] for k in text_rows], eos, trace.meta.get("language"))
    bounds = np.pad(np.cumsum([len(w) for w in word_idx]), (1, 0))
    end_of_path = (time_idx[-1] + 1) / rate
    out = []
    for w, idx, b0, b1 in zip(words, word_idx, bounds[:-1], bounds[1:]):
        start = float(jump_times[b0])
        end = float(jump_times[b1]) if b1 < len(jump_times) else float(end_of_path)
        steps = [text_rows[i] for i in idx]
        prob = float(np.mean([token_probs[i] for i in idx]))
        out.append({"word": w, "start": round(start + offset, 3), "end": round(end + offset, 3),
                    "probability": prob, "tokens": steps})
    return merge_punctuations(out)
