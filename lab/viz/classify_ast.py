"""AST pictures (plotly): the filterbank with its overlapping patch grid, one patch as 16 x 16
pixels, attention / rollout laid over the spectrogram, a patch's own attention, top-k bars.

Every function reads an AST Trace (``lab.classify.trace_ast``); x axes are seconds
(``mel_frame`` 100/s), y axes mel bins (low at the bottom). A patch is named by its grid
position ``(f, t)`` = (frequency row, time column); token ``2 + f * time + t``.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import LabError
from .common import to_numpy

FBANK_COLORS = "Magma"
ATTN_COLORS = "Hot"
# overlay: transparent where the weight is low, so the spectrogram stays readable underneath
OVERLAY_COLORS = [[0.0, "rgba(255,40,0,0)"], [0.35, "rgba(255,40,0,0.35)"],
                  [0.7, "rgba(255,140,0,0.7)"], [1.0, "rgba(255,255,0,0.95)"]]
PAD_FILL = "rgba(255,255,255,0.45)"
SELECT = "#00e5ff"


# -- helpers ---------------------------------------------------------------------------------
def _require_ast(trace) -> dict:
    if trace.meta.get("kind") != "ast":
        raise LabError("this picture needs an AST trace (lab.classify.trace_ast)")
    return trace.meta


def patch_box(trace, f: int, t: int) -> dict:
    """Where patch (f, t) sits: mel bins ``[mel0, mel1)``, frames ``[frame0, frame1)``, seconds."""
    m = _require_ast(trace)
    F, T = m["patch_grid"]
    if not (0 <= f < F and 0 <= t < T):
        raise LabError(f"patch ({f}, {t}) is outside the {F} x {T} grid")
    p, fs, ts = m["patch_size"], m["frequency_stride"], m["time_stride"]
    rate = trace.time_bases["mel_frame"]
    return {"index": f * T + t, "token": 2 + f * T + t, "mel0": f * fs, "mel1": f * fs + p,
            "frame0": t * ts, "frame1": t * ts + p, "start": t * ts / rate, "end": (t * ts + p) / rate}


def _shade_padding(fig, trace, row=None, col=None):
    m = trace.meta
    start = m.get("padded_from_frame")
    if start is None:
        return
    rate = trace.time_bases["mel_frame"]
    kw = {} if row is None else {"row": row, "col": col}
    fig.add_vrect(x0=start / rate, x1=m["max_length"] / rate, fillcolor=PAD_FILL, line_width=0,
                  layer="above", annotation_text="padding (log-mel 0 -> +0.47, not silence)",
                  annotation_position="top left",
                  annotation_font_color="black", **kw)


def _grid_lines(trace, *, color="rgba(255,255,255,0.35)") -> list[go.Scatter]:
    """Patch edges: solid where patches start, dotted where they end (16 after the start):
    between a start line and the previous patch's dotted end line, two patches overlap."""
    m = trace.meta
    F, T = m["patch_grid"]
    p, fs, ts = m["patch_size"], m["frequency_stride"], m["time_stride"]
    rate = trace.time_bases["mel_frame"]
    top, right = m["num_mel_bins"] - 0.5, m["max_length"] / rate
    out = []
    for offset, dash, name in ((0, "solid", "patch starts"), (p, "dot", "patch ends")):
        xs, ys = [], []
        for t in range(T):
            x = (t * ts + offset) / rate
            xs += [x, x, None]
            ys += [-0.5, top, None]
        for f in range(F):
            y = f * fs + offset - 0.5
            xs += [0, right, None]
            ys += [y, y, None]
        out.append(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=color, width=0.7, dash=dash),
                              hoverinfo="skip", showlegend=False, name=name))
    return out


def _rect(trace, f, t, **line):
    b = patch_box(trace, f, t)
    return dict(type="rect", x0=b["start"], x1=b["end"], y0=b["mel0"] - 0.5, y1=b["mel1"] - 0.5,
                line=line, layer="above")


def fbank_cells(trace, pad_block: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(z (mel_bin, column), x edges in seconds) of ``input.fbank`` for a heatmap: content frames
    one column each, the constant padding in blocks of ``pad_block`` frames (same picture, a
    fraction of the bytes)."""
    fb = to_numpy(trace["input.fbank"]).T  # (mel_bin, mel_frame)
    rate = trace.time_bases["mel_frame"]
    n = fb.shape[1]
    start = trace.meta.get("padded_from_frame") or n
    cols = list(range(start)) + list(range(start, n, pad_block))
    edges = np.array(cols + [n], dtype=np.float64) / rate
    return fb[:, cols], edges


def grid_values(trace, which: str = "rollout", layer: int | None = None,
                head: int | None = None) -> tuple[np.ndarray, str]:
    """(freq_patch, time_patch) values to lay over the spectrogram, and a title.

    ``which``: ``"rollout"`` (``ast.rollout``) or ``"cls"`` (``ast.cls_attention`` of ``layer``,
    ``head``; ``head=None`` averages heads, ``layer=None`` the last layer).
    """
    _require_ast(trace)
    if which == "rollout":
        return to_numpy(trace["ast.rollout"]), "attention rollout (CLS + distillation readout)"
    if which != "cls":
        raise LabError(f"overlay must be 'rollout' or 'cls', not {which!r}")
    cls = to_numpy(trace["ast.cls_attention"])  # (layer, head, F, T)
    L = cls.shape[0]
    layer = L - 1 if layer is None else int(layer)
    if not 0 <= layer < L:
        raise LabError(f"layer {layer} does not exist (0..{L - 1})")
    if head is None:
        return cls[layer].mean(0), f"CLS attention, layer {layer}, mean of {cls.shape[1]} heads"
    if not 0 <= head < cls.shape[1]:
        raise LabError(f"head {head} does not exist (0..{cls.shape[1] - 1})")
    return cls[layer, head], f"CLS attention, layer {layer}, head {head}"


# -- figures ---------------------------------------------------------------------------------
def view_frames(trace, crop: bool = True, margin_frames: int = 100) -> int:
    """Frames to show: all of them, or (``crop``) the content plus ``margin_frames`` of padding
    (a 1 s clip in a 10.24 s window would otherwise be a sliver)."""
    m = trace.meta
    start = m.get("padded_from_frame")
    if not crop or start is None:
        return m["max_length"]
    return min(m["max_length"], start + margin_frames)


def spectrogram_figure(trace, *, patch: tuple[int, int] | None = None, grid: bool = True,
                       overlay: str | None = None, layer: int | None = None,
                       head: int | None = None, opacity: float = 1.0, crop: bool = True,
                       height: int = 360) -> go.Figure:
    """The normalized filterbank AST reads (``input.fbank``), padding shaded.

    ``grid``: draw the overlapping patch grid. ``patch=(f, t)``: outline that patch (cyan) and,
    dashed, its right and upper neighbours, so the overlap (16 - stride) shows.
    ``overlay="rollout" | "cls"``: lay :func:`grid_values` over the spectrogram (each patch's value
    drawn at its centre, one cell per stride); the spectrogram turns grey underneath.
    ``crop``: show the audio plus 1 s of the padding (the whole window stays in the data; zoom
    out to see it). Note the padding is *not* silence: zeros in the log filterbank normalize to
    (0 - mean) / (2 std) = +0.47, louder than most speech.
    """
    m = _require_ast(trace)
    z, edges = fbank_cells(trace)
    rate = trace.time_bases["mel_frame"]
    fig = go.Figure(go.Heatmap(
        z=z, x=edges, y=np.arange(z.shape[0]), colorscale="Greys" if overlay else FBANK_COLORS,
        reversescale=bool(overlay), showscale=not overlay,
        colorbar=dict(title="fbank", thickness=10, x=1.0),
        hovertemplate="t=%{x:.2f} s<br>mel bin %{y}<br>value %{z:.2f}<extra></extra>"))
    title = (f"AST input: {m['num_mel_bins']} mel bins x {m['max_length']} frames -> "
             f"{m['patch_grid'][0]} x {m['patch_grid'][1]} = {m['n_patches']} patches "
             f"({m['patch_size']}x{m['patch_size']}, strides {m['frequency_stride']}/{m['time_stride']})")
    if overlay:
        z, title = grid_values(trace, overlay, layer, head)
        p, fs, ts = m["patch_size"], m["frequency_stride"], m["time_stride"]
        F, T = z.shape
        fig.add_trace(go.Heatmap(
            z=z, x=(np.arange(T) * ts + p / 2) / rate, y=np.arange(F) * fs + p / 2 - 0.5,
            colorscale=OVERLAY_COLORS, opacity=opacity, colorbar=dict(title="weight", thickness=10),
            customdata=np.stack(np.meshgrid(np.arange(T), np.arange(F)), -1),
            hovertemplate="patch (f=%{customdata[1]}, t=%{customdata[0]})<br>%{z:.4f}<extra></extra>"))
    if grid:
        for s in _grid_lines(trace):
            fig.add_trace(s)
    if patch is not None:
        f, t = patch
        F, T = m["patch_grid"]
        fig.add_shape(**_rect(trace, f, t, color=SELECT, width=3))
        for nf, nt in ((f, t + 1), (f + 1, t)):
            if nf < F and nt < T:
                fig.add_shape(**_rect(trace, nf, nt, color=SELECT, width=1.5, dash="dash"))
    _shade_padding(fig, trace)
    fig.update_layout(title=dict(text=title, font_size=13), height=height,
                      margin=dict(l=60, r=20, t=40, b=40), showlegend=False)
    fig.update_xaxes(title="time (s)", range=[0, view_frames(trace, crop) / rate])
    fig.update_yaxes(title="mel bin", range=[-0.5, m["num_mel_bins"] - 0.5])
    return fig


def patch_figure(trace, f: int, t: int, *, height: int = 340) -> go.Figure:
    """Patch (f, t) as the 16 x 16 pixels the patch embedding sees (``ast.patches``), with the
    absolute mel bins and frames on the axes."""
    b = patch_box(trace, f, t)
    px = to_numpy(trace["ast.patches"][b["index"]])  # (patch_mel, patch_frame)
    fig = go.Figure(go.Heatmap(
        z=px, x=np.arange(b["frame0"], b["frame1"]), y=np.arange(b["mel0"], b["mel1"]),
        colorscale=FBANK_COLORS, colorbar=dict(title="fbank", thickness=10),
        text=np.round(px, 2), hovertemplate="frame %{x}<br>mel bin %{y}<br>%{z:.3f}<extra></extra>"))
    fig.update_layout(
        title=dict(text=f"patch #{b['index']} (f={f}, t={t}): mel bins {b['mel0']}-{b['mel1'] - 1}, "
                        f"frames {b['frame0']}-{b['frame1'] - 1} ({b['start']:.2f}-{b['end']:.2f} s)",
                   font_size=12),
        height=height, margin=dict(l=60, r=20, t=40, b=40))
    fig.update_xaxes(title="frame", constrain="domain")
    fig.update_yaxes(title="mel bin", scaleanchor="x", scaleratio=1)
    return fig


def patch_attention_figure(trace, f: int, t: int, *, layer: int | None = None,
                           height: int = 330) -> go.Figure:
    """What patch (f, t) attends to, and how much the CLS token attends to it.

    Left: the patch's query row of ``ast.attention_mean`` (head mean) at ``layer`` over the grid
    (the two special tokens' share in the title). Right: CLS -> this patch in every layer and head
    (``ast.cls_attention``).
    """
    m = _require_ast(trace)
    b = patch_box(trace, f, t)
    F, T = m["patch_grid"]
    cls = to_numpy(trace["ast.cls_attention"])[:, :, f, t]  # (layer, head)
    L = cls.shape[0]
    layer = L - 1 if layer is None else int(layer)
    if not 0 <= layer < L:
        raise LabError(f"layer {layer} does not exist (0..{L - 1})")
    fig = make_subplots(rows=1, cols=2, column_widths=[0.72, 0.28], horizontal_spacing=0.1,
                        subplot_titles=[f"patch ({f},{t}) attends to (layer {layer}, head mean)",
                                        "CLS -> this patch"])
    if "ast.attention_mean" in trace:
        row = to_numpy(trace["ast.attention_mean"][layer, b["token"]])
        special = float(row[:2].sum())
        fig.add_trace(go.Heatmap(z=row[2:].reshape(F, T), colorscale=ATTN_COLORS, showscale=False,
                                 hovertemplate="f=%{y} t=%{x}<br>%{z:.4f}<extra></extra>"), 1, 1)
        fig.add_shape(type="rect", x0=t - 0.5, x1=t + 0.5, y0=f - 0.5, y1=f + 0.5,
                      line=dict(color=SELECT, width=2), row=1, col=1)
        fig.layout.annotations[0].text += f" -- {special:.1%} to CLS/distillation"
    fig.add_trace(go.Heatmap(z=cls, colorscale=ATTN_COLORS, colorbar=dict(thickness=10),
                             hovertemplate="layer %{y} head %{x}<br>%{z:.4f}<extra></extra>"), 1, 2)
    fig.update_xaxes(title="time patch", row=1, col=1)
    fig.update_yaxes(title="freq patch", row=1, col=1)
    fig.update_xaxes(title="head", dtick=1, row=1, col=2)
    fig.update_yaxes(title="layer", dtick=1, row=1, col=2)
    for a in fig.layout.annotations:
        a.font.size = 12
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=40, b=40))
    return fig


def cls_attention_layers_figure(trace, *, head: int | None = None, height_per_layer: int = 90) -> go.Figure:
    """CLS attention on the grid, one row per layer (head mean, or ``head``), and the rollout
    last: how the readout's focus builds up through the encoder."""
    _require_ast(trace)
    cls = to_numpy(trace["ast.cls_attention"])
    L = cls.shape[0]
    names = [f"layer {i}" for i in range(L)] + ["rollout"]
    fig = make_subplots(rows=L + 1, cols=1, shared_xaxes=True, vertical_spacing=0.02,
                        row_titles=names)
    for i in range(L):
        z = cls[i].mean(0) if head is None else cls[i, head]
        fig.add_trace(go.Heatmap(z=z, colorscale=ATTN_COLORS, showscale=False,
                                 hovertemplate="f=%{y} t=%{x}<br>%{z:.4f}<extra></extra>"), i + 1, 1)
    fig.add_trace(go.Heatmap(z=to_numpy(trace["ast.rollout"]), colorscale="Viridis", showscale=False),
                  L + 1, 1)
    fig.update_layout(height=60 + height_per_layer * (L + 1), margin=dict(l=40, r=80, t=40, b=40),
                      title=dict(text="CLS attention over the patch grid, layer by layer "
                                      + ("(head mean)" if head is None else f"(head {head})"),
                                 font_size=13))
    fig.update_xaxes(title="time patch", row=L + 1, col=1)
    return fig


TOP_K_MIN_HEIGHT = 280


def top_k_figure(trace, k: int = 5, *, height: int | None = None) -> go.Figure:
    """Horizontal bars of the ``k`` best labels (``cls.probs``, names from the config)."""
    probs = to_numpy(trace["cls.probs"])
    names = trace.meta.get("labels") or [str(i) for i in range(len(probs))]
    k = max(1, min(int(k), len(probs)))
    order = np.argsort(-probs)[:k][::-1]
    act = trace.meta.get("activation", "")
    note = ("sigmoid: each label on its own, scores need not sum to 1" if act == "sigmoid"
            else "softmax: one distribution, all labels sum to 1")
    fig = go.Figure(go.Bar(x=probs[order], y=[names[i] for i in order], orientation="h",
                           text=[f"{probs[i]:.3f}" for i in order], textposition="auto",
                           marker_color="#4c78a8",
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    # at least TOP_K_MIN_HEIGHT px: with 3 labels the old 80 + 32 k gave ~12 px bars inside a
    # Gradio tab, and the y labels (automargin) get room whatever their length
    fig.update_layout(title=dict(text=f"top {k} labels<br><sup>{note}</sup>", font_size=13),
                      height=height or max(TOP_K_MIN_HEIGHT, 130 + 36 * k),
                      margin=dict(l=20, r=20, t=60, b=50), bargap=0.25)
    fig.update_yaxes(automargin=True, type="category", tickmode="array",
                     tickvals=[names[i] for i in order])
    fig.update_xaxes(title="probability", range=[0, 1])
    return fig
