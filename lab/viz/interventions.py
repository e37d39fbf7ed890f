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
    fig.update_layout(title=f"Head importance: {sweep.part.replace('{i}', 'N')} knocked out one at a time "
                            f"({sweep.n_tokens} tokens, intact log p = {sweep.base_logprob:.2f})",
                      xaxis_title="head", yaxis_title="layer", yaxis_autorange="reversed",
                      height=120 + 40 * len(z), width=700)
    return fig
