"""The Whisper input and encoder pictures: the log-mel (padding shaded) and encoder
self-attention for one layer/head. Time axes in seconds."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..errors import LabError
from .common import pool_2d, to_numpy
from ..whisper.constants import ENCODER_FRAMES_PER_SECOND, MEL_FRAMES_PER_SECOND, WINDOW_SECONDS
from .whisper_common import content_frames, content_seconds, mel_grid, rate

MEL_COLORS = "Magma"
ATTN_COLORS = "Viridis"
PAD_FILL = "rgba(255,255,255,0.45)"


def shade_padding(fig: go.Figure, start: float, end: float, *, xref: str = "x",
                  yref: str = "y", label: str = "padding") -> None:
    """Shade [start, end] seconds (the zero padding of the 30 s window) on the subplot with
    axes ``xref``/``yref``, with a dashed line where the audio ends and a label."""
    if end - start <= 1e-6:
        return
    dom = f"{yref} domain"
    fig.add_shape(type="rect", x0=start, x1=end, y0=0, y1=1, xref=xref, yref=dom,
                  fillcolor=PAD_FILL, line_width=0, layer="above")
    fig.add_shape(type="line", x0=start, x1=start, y0=0, y1=1, xref=xref, yref=dom,
                  line=dict(color="white", dash="dash", width=1.5), layer="above")
    wide = (end - start) >= 0.2 * end  # a narrow strip gets a short label ending at its right
    fig.add_annotation(x=start if wide else end, y=1.0, xref=xref, yref=dom,
                       xanchor="left" if wide else "right", yanchor="top",
                       text=f" {label} →" if wide else "padding", showarrow=False,
                       font=dict(color="black", size=11), bgcolor="rgba(255,255,255,0.7)")


def log_mel_figure(source, *, n_content_frames: int | None = None,
                   mel_rate: float = MEL_FRAMES_PER_SECOND, max_cells: int = 60_000,
                   cursor: float | None = None,
                   x_range: tuple[float, float] | None = None, height: int = 300,
                   title: str | None = None) -> go.Figure:
    """The 80 x 3000 log-mel Whisper sees, with the padded part shaded.

    ``source``: a Whisper Trace (uses ``input.log_mel`` and ``meta["n_content_mel_frames"]``)
    or a (mel_bin, mel_frame) array (then pass ``n_content_frames``; default: all content).
    Content frames are drawn at full resolution (mean-pooled by 2, 4, ... only when the content
    alone would exceed ``max_cells``); the constant padding in 0.5 s blocks. ``cursor``: a
    time (s) to mark with a vertical line. x axis in seconds, y axis the mel bin (low pitch at
    the bottom); colour = Whisper's normalised log10 energy ((log10(mel) + 4) / 4, floored at
    max - 2).
    """
    if hasattr(source, "tensors"):
        mel = to_numpy(source["input.log_mel"])
        n_content = content_frames(source) if n_content_frames is None else n_content_frames
        mel_rate = rate(source, "mel_frame", mel_rate)
    else:
        mel = to_numpy(source)
        if mel.ndim != 2:
            raise LabError(f"log-mel must be 2-D (mel_bin, mel_frame), got shape {mel.shape}")
        n_content = mel.shape[1] if n_content_frames is None else n_content_frames
    edges, z = mel_grid(mel, n_content, mel_rate=mel_rate, max_cells=max_cells)
    total = mel.shape[1] / mel_rate
    content = min(n_content, mel.shape[1]) / mel_rate
    fig = go.Figure(go.Heatmap(
        z=z, x=edges, y=np.arange(mel.shape[0] + 1) - 0.5, colorscale=MEL_COLORS,
        colorbar=dict(title="log-mel", thickness=12),
        hovertemplate="t=%{x:.2f} s<br>mel bin %{y}<br>value %{z:.2f}<extra></extra>"))
    shade_padding(fig, content, total, label=f"padding ({total - content:.1f} s of zeros)")
    if cursor is not None:
        fig.add_vline(x=float(cursor), line=dict(color="cyan", width=2))
    fig.update_layout(
        title=title or f"Log-mel input: {content:.2f} s of audio in a {total:.0f} s window",
        height=height, margin=dict(l=60, r=20, t=40, b=40))
    fig.update_xaxes(title="time (s)", range=list(x_range) if x_range else [0, total])
    fig.update_yaxes(title="mel bin", range=[-0.5, mel.shape[0] - 0.5])
    return fig


def encoder_attention_figure(trace, layer: int = 0, head: int = 0, *, crop: str = "content",
                             margin: float = 0.5, max_cells: int = 90_000,
                             saturate: float | None = 0.998, height: int = 480) -> go.Figure:
    """Encoder self-attention of one ``layer``/``head``: query time (rows) x key time (columns).

    Reads ``encoder.layers.{layer}.attn.pattern`` (head, query_frame, key_frame), 50 frames/s.
    ``crop="content"`` keeps the frames that hold audio plus ``margin`` seconds of padding;
    ``"all"`` the full 30 s (1500 x 1500). Max-pooled to at most ``max_cells`` so that sharp
    peaks survive; each row of one head sums to 1. ``saturate``: the colour scale tops out at
    this quantile of the pooled weights (a few huge peaks would otherwise hide the rest; hover
    still shows exact values), ``None`` = the maximum.
    """
    name = f"encoder.layers.{int(layer)}.attn.pattern"
    if name not in trace:
        found = trace.require("encoder.layers.*.attn.pattern")
        raise LabError(f"no encoder attention for layer {layer}; captured: {found}")
    pattern = trace[name]
    if not 0 <= int(head) < pattern.shape[0]:
        raise LabError(f"head {head} out of range: layer {layer} has {pattern.shape[0]} heads")
    enc_rate = rate(trace, "encoder_frame", ENCODER_FRAMES_PER_SECOND)
    n_total = pattern.shape[-1]
    content = content_seconds(trace)
    if crop == "content":
        n = int(min(n_total, np.ceil((content + margin) * enc_rate)))
    elif crop == "all":
        n = n_total
    else:
        raise LabError(f"crop must be 'content' or 'all', got {crop!r}")
    z = to_numpy(pattern[int(head), :n, :n])
    pooled, fr, fc = pool_2d(z, max_cells=max_cells, reduce=np.max)
    fig = go.Figure(go.Heatmap(
        z=pooled, x0=fc / enc_rate / 2, dx=fc / enc_rate, y0=fr / enc_rate / 2, dy=fr / enc_rate,
        colorscale=ATTN_COLORS, colorbar=dict(title="weight", thickness=12), zmin=0,
        zmax=float(np.quantile(pooled, saturate)) if saturate else None,
        hovertemplate="query %{y:.2f} s<br>key %{x:.2f} s<br>weight %{z:.3f}<extra></extra>"))
    end = n / enc_rate
    if content < end:
        fig.add_vrect(x0=content, x1=end, fillcolor=PAD_FILL, line_width=0, layer="above")
        fig.add_hrect(y0=content, y1=end, fillcolor=PAD_FILL, line_width=0, layer="above")
    pooled_note = "" if fr == fc == 1 else f" (max-pooled {fr}x{fc})"
    fig.update_layout(
        title=f"Encoder self-attention, layer {layer} head {head}{pooled_note}",
        height=height, margin=dict(l=60, r=20, t=40, b=40))
    fig.update_xaxes(title="key time (s): where it looks", range=[0, end], constrain="domain")
    fig.update_yaxes(title="query time (s): who looks", range=[end, 0], scaleanchor="x",
                     scaleratio=1, constrain="domain")
    return fig


__all__ = ["log_mel_figure", "encoder_attention_figure", "shade_padding", "WINDOW_SECONDS"]
