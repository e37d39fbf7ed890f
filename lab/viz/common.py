"""Shared figure helpers: seconds axes, heatmap downsampling, figure payload size."""
from __future__ import annotations

import json

import numpy as np

MAX_HEATMAP_CELLS = 200_000  # above this a plotly heatmap is pooled before it is sent


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
