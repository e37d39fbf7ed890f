"""Shared readers for the Whisper figures: content length, the log-mel column grid, the
cross-attention of one decoder step, the time a step points at.

These read a Whisper ``Trace`` (names and axes: ``lab/whisper/names.py``) or plain
arrays and return numbers; the figure modules draw them. Times are in seconds.
"""
from __future__ import annotations


import numpy as np

from ..errors import LabError
from ..whisper.constants import (ENCODER_FRAMES_PER_SECOND, MEL_FRAMES_PER_SECOND, SAMPLE_RATE,
                                 WINDOW_SECONDS)
from .common import envelope, to_numpy

waveform_envelope = envelope  # the old name (lab.viz.common.envelope)

# How a step's cross-attention is summarised: "alignment" = mean over the model's alignment
# heads (the heads Whisper uses for word timestamps), "all" = mean over every layer and head,
# (layer, head) = one head, "layer:N" = mean over the heads of layer N.
HeadChoice = "str | tuple[int, int] | Sequence[tuple[int, int]]"


def rate(trace, axis: str, default: float) -> float:
    return float((trace.time_bases or {}).get(axis, default)) if trace is not None else default


def content_seconds(trace) -> float:
    """Seconds of real audio in the 30 s window (the rest of the log-mel is padding)."""
    meta = trace.meta or {}
    if meta.get("content_seconds") is not None:
        return float(meta["content_seconds"])
    if meta.get("n_content_mel_frames") is not None:
        return float(meta["n_content_mel_frames"]) / rate(trace, "mel_frame", MEL_FRAMES_PER_SECOND)
    if "input.waveform" in trace:
        return min(WINDOW_SECONDS, trace["input.waveform"].shape[0] / rate(trace, "sample", SAMPLE_RATE))
    return WINDOW_SECONDS


def content_frames(trace) -> int:
    meta = trace.meta or {}
    if meta.get("n_content_mel_frames") is not None:
        return int(meta["n_content_mel_frames"])
    return int(round(content_seconds(trace) * rate(trace, "mel_frame", MEL_FRAMES_PER_SECOND)))


def mel_grid(mel: np.ndarray, n_content: int, *, mel_rate: float = MEL_FRAMES_PER_SECOND,
             max_cells: int = 120_000, pad_block: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Columns for drawing a (mel_bin, mel_frame) log-mel as a heatmap with few cells.

    Content frames are kept (or mean-pooled by a power of two until ``n_mels x columns`` fits in
    ``max_cells``); padding frames (constant in Whisper: the log of zeros clipped to the floor)
    are mean-pooled in blocks of ``pad_block`` frames. Returns ``(edges_seconds (n_cols+1,),
    z (n_mels, n_cols))`` -- ``edges`` are column boundaries, for a plotly heatmap with
    non-uniform columns.
    """
    n_mels, n_frames = mel.shape
    n_content = int(min(max(n_content, 0), n_frames))
    pad_cols = -(-(n_frames - n_content) // pad_block) if n_frames > n_content else 0
    budget = max(1, max_cells // n_mels - pad_cols)
    f = 1
    while n_content and -(-n_content // f) > budget:
        f *= 2
    cols, edges = [], [0.0]
    for start in range(0, n_content, f):
        stop = min(start + f, n_content)
        cols.append(mel[:, start:stop].mean(axis=1))
        edges.append(stop / mel_rate)
    for start in range(n_content, n_frames, pad_block):
        stop = min(start + pad_block, n_frames)
        cols.append(mel[:, start:stop].mean(axis=1))
        edges.append(stop / mel_rate)
    z = np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((n_mels, 0), np.float32)
    return np.asarray(edges, dtype=np.float64), z


def alignment_heads(trace) -> list[tuple[int, int]]:
    heads = (trace.meta or {}).get("alignment_heads") or []
    return [(int(layer), int(head)) for layer, head in heads]


def _head_list(trace, pattern: np.ndarray, heads) -> tuple[list[tuple[int, int]], str]:
    n_layers, n_heads = pattern.shape[:2]
    if heads is None or heads == "alignment":
        chosen = [(layer, h) for layer, h in alignment_heads(trace) if layer < n_layers and h < n_heads]
        if chosen:
            return chosen, "mean of the alignment heads"
        heads = "all"  # no alignment heads known (e.g. a tiny random model): use every head
    if heads == "all":
        return [(layer, h) for layer in range(n_layers) for h in range(n_heads)], "mean of all heads"
    if isinstance(heads, str) and heads.startswith("layer:"):
        layer = int(heads.split(":", 1)[1])
        if not 0 <= layer < n_layers:
            raise LabError(f"layer {layer} out of range (the decoder has {n_layers} layers)")
        return [(layer, h) for h in range(n_heads)], f"mean of layer {layer}'s heads"
    if isinstance(heads, tuple) and len(heads) == 2 and all(isinstance(x, (int, np.integer)) for x in heads):
        heads = [heads]
    chosen = [(int(a), int(b)) for a, b in heads]
    for layer, h in chosen:
        if not (0 <= layer < n_layers and 0 <= h < n_heads):
            raise LabError(f"head ({layer}, {h}) out of range: {n_layers} layers x {n_heads} heads")
    label = (f"layer {chosen[0][0]} head {chosen[0][1]}" if len(chosen) == 1
             else f"mean of {len(chosen)} heads")
    return chosen, label


def n_steps(trace) -> int:
    return len(trace.steps)


def check_step(trace, step: int) -> int:
    n = n_steps(trace)
    if n == 0:
        raise LabError("the trace has no decoder steps yet")
    step = int(step)
    if not 0 <= step < n:
        raise LabError(f"step {step} out of range: the trace has {n} decoder steps (0..{n - 1})")
    return step


def step_cross_attention(trace, step: int, heads="alignment") -> tuple[np.ndarray, str]:
    """Cross-attention of decoder step ``step`` over the encoder frames, summarised over
    ``heads`` (see ``HeadChoice``). Returns ``(weights (key_frame,), label)``; the weights of
    one head sum to 1 over the 1500 frames (20 ms each)."""
    step = check_step(trace, step)
    name = f"decoder.step.{step}.cross_attn.pattern"
    if name not in trace:
        trace.require("decoder.step.*.cross_attn.pattern")  # raises when none was captured
        raise LabError(f"no cross-attention captured for step {step} ({name})")
    pattern = to_numpy(trace[name])  # (layer, head, key_frame)
    chosen, label = _head_list(trace, pattern, heads)
    w = np.mean([pattern[layer, h] for layer, h in chosen], axis=0)
    return w.astype(np.float32), label


def cross_attention_matrix(trace, heads="alignment") -> tuple[np.ndarray, str]:
    """(step, key_frame) cross-attention of every decoder step, summarised over ``heads``."""
    rows, label = [], ""
    for s in range(n_steps(trace)):
        if f"decoder.step.{s}.cross_attn.pattern" not in trace:
            break
        w, label = step_cross_attention(trace, s, heads)
        rows.append(w)
    if not rows:
        trace.require("decoder.step.*.cross_attn.pattern")
    return np.stack(rows), label


def word_of_step(trace, step: int) -> dict | None:
    for w in (trace.meta or {}).get("words") or []:
        if step in (w.get("tokens") or []):
            return w
    return None


def step_time(trace, step: int, heads="alignment") -> tuple[float, float | None, float | None]:
    """Where step ``step`` points in time: ``(t, word_start, word_end)``.

    ``t`` is the centre of the word the step's token belongs to (word timestamps, DTW) when the
    trace has words, else the peak of the step's cross-attention.
    """
    w = word_of_step(trace, step)
    if w is not None:
        return (float(w["start"]) + float(w["end"])) / 2, float(w["start"]), float(w["end"])
    try:
        att, _ = step_cross_attention(trace, step, heads)
    except LabError:
        return 0.0, None, None
    enc_rate = rate(trace, "encoder_frame", ENCODER_FRAMES_PER_SECOND)
    return float(np.argmax(att)) / enc_rate, None, None



def is_special(token: str) -> bool:
    return token.startswith("<|") and token.endswith("|>")
