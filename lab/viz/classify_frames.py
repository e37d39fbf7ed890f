"""Sequence- and frame-classifier pictures (plotly): the masked mean, each frame's contribution
to a logit, and per-frame labels as a timeline under the waveform. x axes in seconds."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import LabError
from .common import PALETTE, envelope_traces, to_numpy

PAD_FILL = "rgba(128,128,128,0.18)"


def _waveform(fig, trace, row):
    for tr in envelope_traces(trace["input.waveform"], trace.time_bases["sample"], color="#555",
                              fillcolor="rgba(80,80,80,0.5)"):
        fig.add_trace(tr, row, 1)
    fig.update_yaxes(title="wave", showticklabels=False, row=row, col=1)


def _shade_padding(fig, trace, rows):
    start = trace.meta.get("padded_from_frame")
    if start is None:
        return
    rate = trace.time_bases["encoder_frame"]
    for r in rows:
        fig.add_vrect(x0=start / rate, x1=trace.meta["n_frames"] / rate, fillcolor=PAD_FILL,
                      line_width=0, row=r, col=1)


def _label_index(trace, label) -> int:
    names = trace.meta["labels"]
    if label is None:
        return int(trace.meta["top_k"][0]["id"])
    if isinstance(label, str):
        if label not in names:
            raise LabError(f"unknown label {label!r}; labels: {names}")
        return names.index(label)
    if not 0 <= int(label) < len(names):
        raise LabError(f"label id {label} outside 0..{len(names) - 1}")
    return int(label)


def contribution_figure(trace, label=None, *, height: int = 480) -> go.Figure:
    """How each frame moves one logit (default: the top label).

    Rows: the waveform; bars of ``cls.frame_contributions[:, label]`` (green pushes the logit up,
    red down; bars + bias = the logit exactly); ``cls.frame_share`` (each frame's share of the
    pooled vector). Padding frames (masked out of the mean) are shaded.
    """
    if trace.meta.get("kind") != "sequence":
        raise LabError("the contribution picture needs a sequence-classifier trace")
    c = _label_index(trace, label)
    name = trace.meta["labels"][c]
    contrib = to_numpy(trace["cls.frame_contributions"])[:, c]
    share = to_numpy(trace["cls.frame_share"])
    bias = float(to_numpy(trace["cls.bias"])[c])
    logit = float(to_numpy(trace["cls.logits"])[c])
    rate = trace.time_bases["encoder_frame"]
    t = (np.arange(len(contrib)) + 0.5) / rate  # frame centres
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.25, 0.45, 0.3],
                        vertical_spacing=0.06,
                        subplot_titles=["waveform",
                                        f"frame contributions to logit({name}) = "
                                        f"{contrib.sum():+.3f} (sum) {bias:+.3f} (bias) = {logit:+.3f}",
                                        "share of the pooled vector (sums to 1)"])
    _waveform(fig, trace, 1)
    fig.add_trace(go.Bar(x=t, y=contrib, width=1 / rate,
                         marker_color=np.where(contrib >= 0, "#54a24b", "#e45756"),
                         hovertemplate="t=%{x:.2f} s<br>%{y:+.4f}<extra></extra>", showlegend=False), 2, 1)
    fig.add_trace(go.Scatter(x=t, y=share, mode="lines", line=dict(color="#4c78a8"),
                             hovertemplate="t=%{x:.2f} s<br>%{y:.4f}<extra></extra>", showlegend=False), 3, 1)
    _shade_padding(fig, trace, [2, 3])
    for a in fig.layout.annotations:
        a.font.size = 12
    fig.update_xaxes(title="time (s)", row=3, col=1)
    fig.update_yaxes(title="logit part", row=2, col=1)
    fig.update_yaxes(title="share", row=3, col=1)
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=40, b=40), bargap=0)
    return fig


def pooling_figure(trace, *, height: int = 360) -> go.Figure:
    """The projected frames ``cls.projected`` (proj x frame) and their masked mean
    ``cls.pooled`` (one column): the whole clip squeezed into one vector."""
    if trace.meta.get("kind") != "sequence":
        raise LabError("the pooling picture needs a sequence-classifier trace")
    proj = to_numpy(trace["cls.projected"]).T
    pooled = to_numpy(trace["cls.pooled"])[:, None]
    mask = to_numpy(trace["cls.frame_mask"]).astype(bool)
    proj = np.where(mask[None, :], proj, np.nan)  # padded frames blank: the mean ignores them
    lim = float(np.nanmax(np.abs(proj))) or 1.0
    rate = trace.time_bases["encoder_frame"]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.9, 0.1], shared_yaxes=True,
                        horizontal_spacing=0.03,
                        subplot_titles=[f"projector output p_t ({proj.shape[0]} numbers per frame)",
                                        "masked mean"])
    fig.add_trace(go.Heatmap(z=proj, x=(np.arange(proj.shape[1]) + 0.5) / rate, colorscale="RdBu",
                             zmin=-lim, zmax=lim, showscale=False,
                             hovertemplate="t=%{x:.2f} s<br>dim %{y}<br>%{z:.3f}<extra></extra>"), 1, 1)
    fig.add_trace(go.Heatmap(z=pooled, colorscale="RdBu", zmin=-lim, zmax=lim,
                             colorbar=dict(thickness=10),
                             hovertemplate="dim %{y}<br>%{z:.3f}<extra></extra>"), 1, 2)
    fig.update_xaxes(title="time (s)", row=1, col=1)
    fig.update_xaxes(showticklabels=False, row=1, col=2)
    fig.update_yaxes(title="projector dim", row=1, col=1)
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=40, b=40))
    return fig


def frame_timeline_figure(trace, *, height: int = 460) -> go.Figure:
    """Per-frame labels under the waveform: the waveform; the label segments
    (``meta["frame_labels"]``) as a timeline, one row per label; the frame probabilities
    (``frames.probs``, label x frame)."""
    if trace.meta.get("kind") != "frames":
        raise LabError("the timeline picture needs a frame-classifier trace")
    names = trace.meta["labels"]
    probs = to_numpy(trace["frames.probs"]).T  # (label, frame)
    rate = trace.time_bases["encoder_frame"]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.25, 0.35, 0.4],
                        vertical_spacing=0.05,
                        subplot_titles=["waveform",
                                        f"frame labels ({trace.meta['activation']}"
                                        + (f", p > {trace.meta['threshold']}" if trace.meta["activation"] == "sigmoid"
                                           else ", best label per frame") + ")",
                                        "frame probabilities"])
    _waveform(fig, trace, 1)
    for c, name in enumerate(names):
        segs = [s for s in trace.meta["frame_labels"] if s["id"] == c]
        if not segs:
            continue
        fig.add_trace(go.Bar(
            base=[s["start"] for s in segs], x=[s["end"] - s["start"] for s in segs],
            y=[name] * len(segs), orientation="h", marker_color=PALETTE[c % len(PALETTE)],
            name=name, customdata=[[s["start"], s["end"], s["score"]] for s in segs],
            hovertemplate=name + "<br>%{customdata[0]:.2f}-%{customdata[1]:.2f} s"
                                 "<br>mean p %{customdata[2]:.3f}<extra></extra>"), 2, 1)
    fig.add_trace(go.Heatmap(z=probs, x=(np.arange(probs.shape[1]) + 0.5) / rate, y=names,
                             colorscale="Blues", zmin=0, zmax=1, colorbar=dict(thickness=10, len=0.35, y=0.18),
                             hovertemplate="t=%{x:.2f} s<br>%{y}: %{z:.3f}<extra></extra>"), 3, 1)
    for a in fig.layout.annotations:
        a.font.size = 12
    fig.update_xaxes(title="time (s)", row=3, col=1)
    fig.update_xaxes(range=[0, probs.shape[1] / rate])
    fig.update_layout(height=height, margin=dict(l=90, r=20, t=40, b=40), barmode="overlay",
                      showlegend=False)
    return fig


def hidden_figure(trace, layer: int = -1, *, height: int = 300) -> go.Figure:
    """One layer of ``encoder.hidden`` (hidden x frame): what the head reads at the top."""
    h = to_numpy(trace["encoder.hidden"])
    L = h.shape[0]
    idx = layer % L
    z = h[idx].T
    lim = float(np.abs(z).max()) or 1.0
    rate = trace.time_bases["encoder_frame"]
    fig = go.Figure(go.Heatmap(z=z, x=np.arange(z.shape[1]) / rate, colorscale="RdBu", zmin=-lim,
                               zmax=lim, colorbar=dict(thickness=10)))
    fig.update_layout(title=dict(text="encoder hidden states, "
                                      + ("input of layer 0" if idx == 0 else f"output of layer {idx - 1}"),
                                 font_size=13),
                      height=height, margin=dict(l=60, r=20, t=40, b=40))
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title="hidden dim")
    return fig
