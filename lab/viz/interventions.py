"""What-if figures: the head-importance grid (``lab.interventions.sweep.Sweep``); never loads a model."""
from __future__ import annotations

import plotly.graph_objects as go


def head_importance_figure(sweep) -> go.Figure:
    """Layer x head grid of the change in the output's total log-probability (nats) when that one
    head is knocked out; blue = the head helped (ablating it costs log-probability)."""
    z = sweep.delta.tolist() if hasattr(sweep.delta, "tolist") else sweep.delta
    lim = max((abs(v) for row in z for v in row), default=1.0) or 1.0
    fig = go.Figure(go.Heatmap(z=z, x=[f"h{h}" for h in range(len(z[0]))], y=[f"L{l}" for l in range(len(z))],
                               zmin=-lim, zmax=lim, colorscale="RdBu", reversescale=False,
                               colorbar={"title": "Δ log p (nats)"},
                               hovertemplate="layer %{y}, head %{x}: %{z:.3f} nats<extra></extra>"))
    fig.update_layout(title=f"Head importance: {sweep.part.replace('{i}', 'N')} knocked out one at a time"
                            f"<br><sup>{sweep.n_tokens} tokens, intact log p = {sweep.base_logprob:.2f} nats; "
                            "blue: the head helped</sup>",
                      xaxis_title="head", yaxis_title="layer", yaxis_autorange="reversed",
                      height=150 + 40 * len(z), margin=dict(t=70))
    return fig


# -- what-if views of TTS and classify (lab.viz.what_if.views calls these) -------------------
def _mel(trace):
    import numpy as np

    from .common import to_numpy

    name = "tts.mel_postnet" if "tts.mel_postnet" in trace.tensors else "tts.mel_pre_postnet"
    return np.asarray(to_numpy(trace[name])), float(trace.time_bases["mel_frame"])


def tts_run_figure(trace, *, x_max: float, zrange: tuple[float, float], title: str = "") -> go.Figure:
    """The run's mel spectrogram (post-net, log10; bins on y) over its stop probability per step,
    both on the time axis in seconds up to ``x_max``; ``zrange``: the colour range (shared by the
    two runs)."""
    import numpy as np
    from plotly.subplots import make_subplots

    from .common import to_numpy

    m, fps = _mel(trace)
    p = to_numpy(trace["tts.stop_prob"])
    step_rate = float(trace.time_bases["step"])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    fig.add_trace(go.Heatmap(z=m.T, x=(np.arange(m.shape[0]) + 0.5) / fps, zmin=zrange[0], zmax=zrange[1],
                             colorscale="Magma", showscale=False,
                             hovertemplate="%{x:.2f} s, bin %{y}: %{z:.2f}<extra></extra>"), row=1, col=1)
    thr = float(trace.meta.get("threshold", 0.5))
    fig.add_trace(go.Scatter(x=(np.arange(len(p)) + 1) / step_rate, y=p, mode="lines",
                             line=dict(color="#1f77b4", width=2), name="stop probability",
                             hovertemplate="%{x:.2f} s: p(stop) %{y:.3f}<extra></extra>"), row=2, col=1)
    fig.add_hline(y=thr, line=dict(color="#d62728", dash="dash"), row=2, col=1)
    reason = trace.meta.get("stop_reason", "?")
    fig.update_layout(height=330, showlegend=False, margin=dict(l=50, r=10, t=45, b=40),
                      title=dict(text=f"{title}{trace.meta.get('n_steps', len(p))} steps, "
                                      f"{m.shape[0] / fps:.2f} s, stop: {reason}", font=dict(size=13)))
    fig.update_xaxes(range=[0, x_max])
    fig.update_xaxes(title="time (s)", row=2, col=1)
    fig.update_yaxes(title="mel bin", row=1, col=1)
    fig.update_yaxes(title="p(stop)", range=[0, max(1.0, float(p.max()) if len(p) else 1.0)], row=2, col=1)
    return fig


def tts_diff_figure(a, b, diff: dict, *, x_max: float, zrange: tuple[float, float]) -> go.Figure:
    """Both mels stacked on one time axis (s; original over changed, colour range ``zrange``),
    |changed - original| over the frames both runs have, and both runs' stop probabilities with
    the threshold and each run's stopping step."""
    import numpy as np
    from plotly.subplots import make_subplots

    from .common import to_numpy

    ma, fps = _mel(a)
    mb, _ = _mel(b)
    n = min(len(ma), len(mb))
    d = np.abs(mb[:n] - ma[:n])
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, row_heights=[0.25, 0.25, 0.25, 0.25],
                        vertical_spacing=0.07,
                        subplot_titles=("original mel", "changed mel", "|changed - original| (frames both have)",
                                        "stop probability per step"))
    for row, m in ((1, ma), (2, mb)):
        fig.add_trace(go.Heatmap(z=m.T, x=(np.arange(len(m)) + 0.5) / fps, zmin=zrange[0], zmax=zrange[1],
                                 colorscale="Magma", showscale=False,
                                 hovertemplate="%{x:.2f} s, bin %{y}: %{z:.2f}<extra></extra>"), row=row, col=1)
    fig.add_trace(go.Heatmap(z=d.T, x=(np.arange(n) + 0.5) / fps, colorscale="Greys", zmin=0,
                             colorbar=dict(title="|Δ|", len=0.22, y=0.37),
                             hovertemplate="%{x:.2f} s, bin %{y}: |Δ| %{z:.3f}<extra></extra>"), row=3, col=1)
    step_rate = float(a.time_bases["step"])
    for tr, name, color in ((a, "original", "#1f77b4"), (b, "changed", "#ff7f0e")):
        p = to_numpy(tr["tts.stop_prob"])
        fig.add_trace(go.Scatter(x=(np.arange(len(p)) + 1) / step_rate, y=p, mode="lines", name=name,
                                 line=dict(color=color, width=2),
                                 hovertemplate="%{x:.2f} s: %{y:.3f}<extra>" + name + "</extra>"), row=4, col=1)
        s = tr.meta.get("stop_step")
        if s is not None:
            fig.add_vline(x=(s + 1) / step_rate, line=dict(color=color, dash="dot"), row=4, col=1)
    fig.add_hline(y=float(a.meta.get("threshold", 0.5)), line=dict(color="#d62728", dash="dash"), row=4, col=1)
    st = diff.get("stop", {})
    fig.update_layout(height=620, margin=dict(l=50, r=10, t=80, b=60), legend=dict(orientation="h", y=-0.12),
                      title=dict(text=f"stop step {' -> '.join(map(str, st.get('stop_step') or []))} "
                                      f"({'changed' if st.get('changed') else 'same'}); "
                                      f"mean |Δ mel| {st.get('mel_mean_abs_diff')}", font=dict(size=13)))
    fig.update_xaxes(range=[0, x_max])
    fig.update_xaxes(title="time (s)", row=4, col=1)
    return fig


def tts_views(a, b, diff: dict) -> dict:
    """``original`` / ``changed`` (same time axis, same colour range) and ``diff`` figures."""
    import numpy as np

    ma, fps = _mel(a)
    mb, _ = _mel(b)
    x_max = max(len(ma), len(mb)) / fps
    both = np.concatenate([ma.ravel(), mb.ravel()]) if ma.size + mb.size else np.zeros(1)
    z = (float(np.percentile(both, 1)), float(both.max()))
    return dict(original=tts_run_figure(a, x_max=x_max, zrange=z, title="original: "),
                changed=tts_run_figure(b, x_max=x_max, zrange=z, title="changed: "),
                diff=tts_diff_figure(a, b, diff, x_max=x_max, zrange=z))


def _probs(trace, ids: list[int], top_k: list[dict]) -> list[float]:
    if "cls.probs" in trace.tensors and trace["cls.probs"].dim() == 1:  # (label,)
        p = trace["cls.probs"].float()
        return [float(p[i]) for i in ids]
    by_id = {r["id"]: float(r["score"]) for r in top_k}
    return [by_id.get(i, 0.0) for i in ids]


def classify_run_figure(trace, *, title: str = "") -> go.Figure:
    """The run's top-k labels as horizontal bars (probability 0..1, the model's activation)."""
    rows = trace.meta.get("top_k") or []
    fig = go.Figure(go.Bar(x=[r["score"] for r in rows], y=[str(r["label"]) for r in rows], orientation="h",
                           marker_color="#1f77b4", text=[f"{r['score']:.3f}" for r in rows],
                           textposition="auto",
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_layout(height=90 + 28 * max(len(rows), 1), margin=dict(l=120, r=10, t=45, b=40),
                      title=dict(text=f"{title}top-1 {rows[0]['label'] if rows else '?'}", font=dict(size=13)))
    fig.update_xaxes(range=[0, 1], title=f"probability ({trace.meta.get('activation', '')})")
    fig.update_yaxes(autorange="reversed")
    return fig


def classify_diff_figure(a, b, diff: dict) -> go.Figure:
    """Top-k bars side by side: every label in either run's top-k, original and changed
    probability next to each other (labels ordered by the original's probability)."""
    ka, kb = diff["labels"]["top_k"]
    ids = list(dict.fromkeys([r["id"] for r in ka] + [r["id"] for r in kb]))
    names = {r["id"]: str(r["label"]) for r in ka + kb}
    pa, pb = _probs(a, ids, ka), _probs(b, ids, kb)
    order = sorted(range(len(ids)), key=lambda k: -pa[k])
    labels = [names[ids[k]] for k in order]
    fig = go.Figure()
    for name, p, color in (("original", pa, "#1f77b4"), ("changed", pb, "#ff7f0e")):
        fig.add_trace(go.Bar(x=[p[k] for k in order], y=labels, orientation="h", name=name, marker_color=color,
                             texttemplate="%{x:.3f}", textposition="outside", cliponaxis=False,
                             hovertemplate="%{y}: %{x:.4f}<extra>" + name + "</extra>"))
    lab = diff["labels"]
    fig.update_layout(barmode="group", height=110 + 40 * max(len(ids), 1), margin=dict(l=120, r=40, t=70, b=40),
                      legend=dict(orientation="h", y=1.0, x=1.0, xanchor="right", yanchor="bottom"),
                      title=dict(text=f"top-1 {lab['top1'][0]} -> {lab['top1'][1]}"
                                      f"{' (changed)' if lab['top1_changed'] else ''}; max |Δp| "
                                      f"{lab.get('max_prob_change')}", font=dict(size=13)))
    fig.update_xaxes(range=[0, 1], title="probability")
    fig.update_yaxes(autorange="reversed")
    return fig


def classify_views(a, b, diff: dict) -> dict:
    return dict(original=classify_run_figure(a, title="original: "),
                changed=classify_run_figure(b, title="changed: "),
                diff=classify_diff_figure(a, b, diff))
