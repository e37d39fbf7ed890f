"""Alignment-head figures (``lab.interventions.align_heads.HeadScores``); never loads a model."""
from __future__ import annotations

import plotly.graph_objects as go

from .common import to_numpy


def head_scores_figure(hs, *, title: str | None = None) -> go.Figure:
    """Decoder layer x head grid of how well each cross-attention head follows the reference
    word times (``hs.scores``: mean attention mass inside the reference word, 0..1). The
    checkpoint's ``alignment_heads`` are outlined in black; the top-k found heads (k = number of
    checkpoint heads) carry their rank. Hover: score, hit rate (argmax inside the word), rank."""
    z = to_numpy(hs.scores)
    L, H = z.shape
    hits = to_numpy(hs.hits) if hs.hits is not None else None
    rank = {(l, h): i + 1 for i, (l, h, _) in enumerate(hs.ranked)}
    k = len(hs.checkpoint_heads) or 1
    ck = {tuple(x) for x in hs.checkpoint_heads}
    text = [[(f"#{rank[(l, h)]}" if rank[(l, h)] <= k else "") for h in range(H)] for l in range(L)]
    hover = [[f"layer {l}, head {h}<br>score {z[l, h]:.3f}"
              + (f"<br>argmax in word {hits[l, h]:.2f}" if hits is not None else "")
              + f"<br>rank {rank[(l, h)]} of {L * H}" + ("<br>checkpoint head" if (l, h) in ck else "")
              for h in range(H)] for l in range(L)]
    fig = go.Figure(go.Heatmap(z=z, x=list(range(H)), y=list(range(L)), zmin=0, zmax=1,
                               colorscale="Viridis", colorbar={"title": "mass in word"},
                               text=text, texttemplate="%{text}", textfont={"size": 12, "color": "white"},
                               hovertext=hover, hoverinfo="text"))
    for l, h in ck:
        fig.add_shape(type="rect", x0=h - 0.5, x1=h + 0.5, y0=l - 0.5, y1=l + 0.5,
                      line={"color": "black", "width": 3})
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="checkpoint alignment head",
                             marker={"symbol": "square-open", "size": 14, "color": "black"}))
    ov = hs.overlap
    sub = (f"top-{ov['k']} found: {ov['found_in_checkpoint']} are checkpoint heads · checkpoint "
           f"mean {ov['checkpoint_mean_score']:.2f} vs all heads {ov['all_heads_mean_score']:.2f}, "
           f"uniform {ov['uniform_score']:.2f} · {hs.n_tokens} tokens" if ov.get("k") else "")
    fig.update_layout(title={"text": (title or "Cross-attention heads vs the reference word times")
                             + (f"<br><sup>{sub}</sup>" if sub else "")},
                      xaxis={"title": "head", "dtick": 1}, yaxis={"title": "decoder layer", "dtick": 1,
                                                                   "autorange": "reversed"},
                      height=200 + 60 * L, width=260 + 70 * H, showlegend=True,
                      legend={"orientation": "h", "y": -0.18})
    return fig
align_heads_figure = head_scores_figure  # the name the brief uses
