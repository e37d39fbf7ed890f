"""One decoder step, seen from every side: where it listens (cross-attention over the log-mel),
what it considered (top-k probabilities), what it reads (self-attention over the prefix), and
the whole decode at once (every step's cross-attention against time)."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import LabError
from ..whisper.constants import ENCODER_FRAMES_PER_SECOND, MEL_FRAMES_PER_SECOND, WINDOW_SECONDS
from .common import to_numpy, token_label
from .whisper_common import (check_step, content_frames, content_seconds, cross_attention_matrix,
                             is_special, mel_grid, rate, step_cross_attention, word_of_step)
from .whisper_mel import ATTN_COLORS, MEL_COLORS, shade_padding

CHOSEN = "#ff7f0e"
OTHER = "#7f9fbf"
LISTEN = "#00e5ff"


def _x_range(trace, crop: str, margin: float = 1.0) -> list[float]:
    total = trace["input.log_mel"].shape[1] / rate(trace, "mel_frame", MEL_FRAMES_PER_SECOND) \
        if "input.log_mel" in trace else WINDOW_SECONDS
    if crop == "all":
        return [0.0, total]
    if crop != "content":
        raise LabError(f"crop must be 'content' or 'all', got {crop!r}")
    return [0.0, float(min(total, content_seconds(trace) + margin))]


def _top_k_bars(trace, step: int, k: int | None = None) -> tuple[go.Bar, int]:
    s = trace.steps[step]
    top = list(s.get("top_k") or [])[: k or None]
    chosen = s.get("token_id")
    if chosen is not None and not any(t.get("token_id") == chosen for t in top):
        top.append({"token_id": chosen, "token": s.get("token", ""), "prob": s.get("prob", 0.0)})
    labels = [f"{i + 1}. {token_label(t.get('token', ''))}" for i, t in enumerate(top)]
    probs = [float(t.get("prob", 0.0)) for t in top]
    colors = [CHOSEN if t.get("token_id") == chosen else OTHER for t in top]
    bar = go.Bar(x=probs[::-1], y=labels[::-1], orientation="h", marker_color=colors[::-1],
                 text=[f"{p:.1%}" for p in probs[::-1]], textposition="auto", showlegend=False,
                 customdata=[t.get("token_id") for t in top][::-1],
                 hovertemplate="%{y}<br>id %{customdata}<br>p = %{x:.4f}<extra></extra>")
    return bar, len(top)


def top_k_figure(trace, step: int, *, k: int | None = None, height: int = 320) -> go.Figure:
    """Horizontal bars of the ``top_k`` candidates of decoder step ``step`` (probabilities after
    softmax of the step's logits); the chosen token in orange."""
    step = check_step(trace, step)
    bar, n = _top_k_bars(trace, step, k)
    fig = go.Figure(bar)
    s = trace.steps[step]
    fig.update_layout(title=f"Step {step}: top-{n} next tokens (chose {token_label(s.get('token'))!s})",
                      height=height, margin=dict(l=110, r=20, t=40, b=40))
    fig.update_xaxes(title="probability", range=[0, 1])
    return fig


def _listen_title(trace, step: int, att: np.ndarray, label: str) -> str:
    s = trace.steps[step]
    enc_rate = rate(trace, "encoder_frame", ENCODER_FRAMES_PER_SECOND)
    n_content_enc = int(np.ceil(content_seconds(trace) * enc_rate))
    pad_mass = float(att[n_content_enc:].sum() / max(att.sum(), 1e-12))
    peak = float(np.argmax(att)) / enc_rate
    return (f"Step {step}: chose <b>{html.escape(token_label(s.get('token', '')))}</b> "
            f"(p={float(s.get('prob', 0)):.2f}), listening near {peak:.2f} s "
            f"[{label}; {pad_mass:.0%} on padding]")


def cross_attention_figure(trace, step: int, *, heads="alignment", crop: str = "content",
                           top_k: bool = True, k: int | None = None, max_cells: int = 80_000,
                           height: int = 360) -> go.Figure:
    """Where decoder step ``step`` listens: its cross-attention over the 1500 encoder frames
    (20 ms each), drawn as a curve over the log-mel on the same seconds axis, with the top-k
    bar chart beside it (``top_k=False`` leaves it out).

    ``heads``: "alignment" (mean of the model's alignment heads, default), "all", "layer:N",
    or a (layer, head) pair / list of pairs. ``crop="content"`` zooms the time axis to the audio
    (+1 s); the title reports how much attention falls on the padding. The log-mel is pooled
    (content frames to at most ``max_cells`` cells, padding in 0.5 s blocks) and sent as 8-bit
    levels (it is the backdrop here, without hover; ``log_mel_figure`` has the values).
    """
    step = check_step(trace, step)
    att, label = step_cross_attention(trace, step, heads)
    enc_rate = rate(trace, "encoder_frame", ENCODER_FRAMES_PER_SECOND)
    cols = 2 if top_k else 1
    fig = make_subplots(rows=1, cols=cols, column_widths=[0.74, 0.26][:cols],
                        horizontal_spacing=0.12 if top_k else 0.02,
                        specs=[[{"secondary_y": True}] + ([{}] if top_k else [])])
    if "input.log_mel" in trace:
        mel = to_numpy(trace["input.log_mel"])
        mel_rate = rate(trace, "mel_frame", MEL_FRAMES_PER_SECOND)
        edges, z = mel_grid(mel, content_frames(trace), mel_rate=mel_rate, max_cells=max_cells)
        lo, hi = float(z.min()), float(z.max())
        z8 = np.round((z - lo) / max(hi - lo, 1e-9) * 255).astype(np.uint8)  # no hover: 1 byte/cell
        fig.add_trace(go.Heatmap(z=z8, x=edges, y=np.arange(mel.shape[0] + 1) - 0.5, zmin=0, zmax=255,
                                 colorscale=MEL_COLORS, showscale=False, hoverinfo="skip"),
                      row=1, col=1, secondary_y=False)
        shade_padding(fig, content_seconds(trace), mel.shape[1] / mel_rate, xref="x", yref="y")
    fig.add_trace(go.Scatter(x0=0.5 / enc_rate, dx=1 / enc_rate, y=att, mode="lines", line=dict(color=LISTEN, width=2),
                             fill="tozeroy", fillcolor="rgba(0,229,255,0.25)", name="cross-attention",
                             showlegend=False,
                             hovertemplate="t=%{x:.2f} s<br>attention %{y:.4f}<extra></extra>"),
                  row=1, col=1, secondary_y=True)
    w = word_of_step(trace, step)
    if w is not None:
        fig.add_vrect(x0=float(w["start"]), x1=float(w["end"]), line=dict(color=CHOSEN, width=2),
                      fillcolor="rgba(0,0,0,0)", row=1, col=1)
    if top_k:
        bar, _ = _top_k_bars(trace, step, k)
        fig.add_trace(bar, row=1, col=2)
        fig.update_xaxes(title="probability", range=[0, 1], row=1, col=2)
    fig.update_xaxes(title="time (s)", range=_x_range(trace, crop), row=1, col=1)
    fig.update_yaxes(title="mel bin", row=1, col=1, secondary_y=False, showgrid=False)
    fig.update_yaxes(row=1, col=1, secondary_y=True, showgrid=False, showticklabels=False,
                     range=[0, float(att.max()) * 1.15 + 1e-9])  # curve height: hover for values
    fig.update_layout(title=dict(text=_listen_title(trace, step, att, label), font=dict(size=13)),
                      height=height, margin=dict(l=60, r=20, t=50, b=40), bargap=0.15)
    return fig


step_figure = cross_attention_figure  # the app's and notebook's linked step view


def cross_attention_map_figure(trace, *, heads="alignment", step: int | None = None,
                               crop: str = "content", max_cells: int = 50_000,
                               height: int | None = None) -> go.Figure:
    """The whole decode at once: one row per decoder step (its token on the y axis), its
    cross-attention over time (seconds) as colour. Speech is read left to right, so the bright
    cells run down a diagonal; ``step`` draws a box around one row."""
    m, label = cross_attention_matrix(trace, heads)  # (step, key_frame)
    enc_rate = rate(trace, "encoder_frame", ENCODER_FRAMES_PER_SECOND)
    xr = _x_range(trace, crop)
    n = int(min(m.shape[1], np.ceil(xr[1] * enc_rate)))
    m = m[:, :n] / np.maximum(m[:, :n].max(axis=1, keepdims=True), 1e-12)  # each row to its peak
    fc = max(1, -(-m.size // max_cells))  # pool time only: every step keeps its row
    pooled = np.stack([m[:, i:i + fc].max(axis=1) for i in range(0, n, fc)], axis=1) if fc > 1 else m
    labels = [f"{i} {token_label(s.get('token', ''))}" for i, s in enumerate(trace.steps[:m.shape[0]])]
    fig = go.Figure(go.Heatmap(
        z=pooled, x0=fc / enc_rate / 2, dx=fc / enc_rate, y=labels, colorscale=ATTN_COLORS,
        colorbar=dict(title="rel.", thickness=12),
        hovertemplate="%{y}<br>t=%{x:.2f} s<br>%{z:.2f} of row peak<extra></extra>"))
    if step is not None:
        s = check_step(trace, step)
        fig.add_hrect(y0=s - 0.5, y1=s + 0.5, line=dict(color=CHOSEN, width=2), fillcolor="rgba(0,0,0,0)")
    c = content_seconds(trace)
    if c < xr[1]:
        fig.add_vrect(x0=c, x1=xr[1], fillcolor="rgba(255,255,255,0.45)", line_width=0)
    fig.update_layout(title=f"Cross-attention of every step over time ({label}, each row scaled to its peak)",
                      height=height or min(900, 140 + 16 * m.shape[0]),
                      margin=dict(l=120, r=20, t=40, b=40))
    fig.update_xaxes(title="time (s)", range=[0, n / enc_rate])
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def decoder_self_attention_figure(trace, step: int, *, height: int = 320) -> go.Figure:
    """What step ``step`` reads: its decoder self-attention (rows = layer/head) over the tokens
    before it (prompt + tokens generated so far). Causal: nothing after the step exists yet."""
    step = check_step(trace, step)
    name = f"decoder.step.{step}.self_attn.pattern"
    if name not in trace:
        trace.require("decoder.step.*.self_attn.pattern")
        raise LabError(f"no self-attention captured for step {step}")
    p = to_numpy(trace[name])  # (layer, head, key_token)
    n_layers, n_heads, n_keys = p.shape
    keys = [d.get("token", "") for d in (trace.meta or {}).get("prompt") or []] + \
        [s.get("token", "") for s in trace.steps[:step]]
    if len(keys) != n_keys:
        keys = [str(i) for i in range(n_keys)]
    xlab = [f"{i}:{token_label(k)}" for i, k in enumerate(keys)]
    ylab = [f"L{layer} H{h}" for layer in range(n_layers) for h in range(n_heads)]
    fig = go.Figure(go.Heatmap(z=p.reshape(n_layers * n_heads, n_keys), x=xlab, y=ylab,
                               colorscale=ATTN_COLORS, zmin=0, zmax=1,
                               hovertemplate="%{y} -> %{x}<br>%{z:.3f}<extra></extra>"))
    fig.update_layout(title=f"Step {step}: decoder self-attention over the prefix",
                      height=height, margin=dict(l=70, r=20, t=40, b=90))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(type="category", tickangle=-45)
    return fig


def transcript_html(trace, step: int | None = None) -> str:
    """The generated tokens as HTML: background shade = the model's confidence (white = sure,
    red = unsure), the token of ``step`` boxed, special tokens grey. Hover shows id and p."""
    out = ['<div class="lab-transcript" style="font-size:1.15em;line-height:2;font-family:sans-serif">']
    for i, s in enumerate(trace.steps):
        tok = s.get("token", "")
        p = float(s.get("prob", 1.0))
        title = html.escape(f"step {i}: id {s.get('token_id')} p={p:.3f}", quote=True)
        if is_special(tok):
            style = "color:#888;font-size:0.8em"
        else:
            style = f"background:rgba(214,39,40,{(1 - p) * 0.6:.2f})"
        if step is not None and i == step:
            style += f";outline:2px solid {CHOSEN};border-radius:3px"
        out.append(f'<span title="{title}" data-step="{i}" style="{style};white-space:pre">'
                   f'{html.escape(tok)}</span>')
    out.append("</div>")
    return "".join(out)
