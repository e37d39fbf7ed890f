"""Shared figure helpers: seconds axes, heatmap downsampling, the waveform envelope, token
labels, the categorical palette, figure payload size."""
from __future__ import annotations

import json

import numpy as np

MAX_HEATMAP_CELLS = 200_000  # above this a plotly heatmap is pooled before it is sent

# One categorical palette for every family (d3 category10): frame spans, words, segments.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f"]

# Whole tokens plotly would read as HTML tags, and the SentencePiece word boundary.
_TOKEN_NAMES = {"\u2581": "\u2423", "</s>": "\u27e8/s\u27e9", "<unk>": "\u27e8unk\u27e9"}


def to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def pool_2d(z: np.ndarray, max_cells: int = MAX_HEATMAP_CELLS, reduce=np.max) -> tuple[np.ndarray, int, int]:
    """Pool a (rows, cols) matrix by integer factors until it has at most ``max_cells`` cells.

    Returns (pooled, row_factor, col_factor). ``reduce`` is max by default so that sharp
    attention peaks survive downsampling.
    """
    r, c = z.shape
    fr = fc = 1
    while (r // fr) * (c // fc) > max_cells:
        if c // fc >= r // fr:
            fc *= 2
        else:
            fr *= 2
    if fr == fc == 1:
        return z, 1, 1
    r2, c2 = r // fr * fr, c // fc * fc
    # keep the tail: pad up to a multiple instead of cutting it off
    pr, pc = (-r) % fr, (-c) % fc
    zp = np.pad(z, ((0, pr), (0, pc)), mode="edge") if (pr or pc) else z
    del r2, c2
    pooled = reduce(reduce(zp.reshape(zp.shape[0] // fr, fr, zp.shape[1] // fc, fc), axis=3), axis=1)
    return pooled, fr, fc


def frame_times(n: int, frames_per_second: float, factor: int = 1) -> np.ndarray:
    """Start time in seconds of each of ``n`` (pooled by ``factor``) frames."""
    return np.arange(n) * factor / frames_per_second


def figure_bytes(fig) -> int:
    """Size of the JSON a plotly figure sends to the browser."""
    return len(fig.to_json().encode()) if hasattr(fig, "to_json") else len(json.dumps(fig).encode())


def envelope(samples, sample_rate: float, max_points: int = 2000
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, lower, upper): min/max of a waveform in at most ``max_points`` equal bins (the
    last one may be shorter), small enough to send to a browser. ``times`` are bin starts in
    seconds (the first is 0, so an autoranged axis starts at 0)."""
    x = np.asarray(to_numpy(samples), dtype=np.float32).reshape(-1)
    if x.size == 0:
        return np.zeros(0), np.zeros(0, np.float32), np.zeros(0, np.float32)
    hop = max(1, -(-x.size // max(1, int(max_points))))
    pad = (-x.size) % hop
    blocks = (np.pad(x, (0, pad), mode="edge") if pad else x).reshape(-1, hop)
    t = np.arange(blocks.shape[0]) * hop / sample_rate
    return t, blocks.min(axis=1), blocks.max(axis=1)


def envelope_traces(samples, sample_rate: float, *, max_points: int = 2000, color: str | None = None,
                    width: float = 0.6, fillcolor: str | None = None, name: str | None = None,
                    showlegend: bool = False) -> list:
    """The :func:`envelope` as two plotly lines (upper, then lower filled up to it)."""
    import plotly.graph_objects as go

    t, lo, hi = envelope(samples, sample_rate, max_points)
    line = dict(width=width, **({"color": color} if color else {}))
    group = dict(name=name, legendgroup=name) if name else {}
    return [go.Scatter(x=t, y=hi, mode="lines", line=line, showlegend=showlegend, hoverinfo="skip",
                       **group),
            go.Scatter(x=t, y=lo, mode="lines", line=line, fill="tonexty", showlegend=False,
                       hoverinfo="skip", **({"fillcolor": fillcolor} if fillcolor else {}), **group)]


def token_label(token) -> str:
    """A token made readable (and safe from plotly's HTML): spaces and ``▁`` as ``␣``, newlines
    as ``⏎``, ``</s>`` / ``<unk>`` as ``⟨/s⟩`` / ``⟨unk⟩``, an empty token as ``∅``."""
    if token is None:
        return "?"
    token = _TOKEN_NAMES.get(token, token)
    return token.replace(" ", "\u2423").replace("\u2581", "\u2423").replace("\n", "\u23ce") or "\u2205"
