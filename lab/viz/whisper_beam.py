"""The beam-search tree: every hypothesis extension the search considered."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from ..errors import LabError
from .common import token_label

STATUS_COLORS = {"alive": "#1f77b4", "finished": "#2ca02c", "pruned": "#b0b0b0"}


def _layout(nodes: list[dict]) -> dict:
    """y position per node id: leaves in depth-first order (children sorted by score, best
    first), parents at the mean of their children."""
    children: dict = {}
    for n in nodes:
        children.setdefault(n.get("parent"), []).append(n)
    for v in children.values():
        v.sort(key=lambda n: -float(n.get("score") or 0.0))
    ids = {n["id"] for n in nodes}
    roots = [n for n in nodes if n.get("parent") is None or n.get("parent") not in ids]
    y: dict = {}
    counter = [0]

    def place(n) -> float:  # iterative would be nicer, but trees are shallow (<= 448 steps)
        kids = children.get(n["id"], [])
        if not kids:
            y[n["id"]] = float(counter[0])
            counter[0] += 1
        else:
            ys = [place(k) for k in kids]
            y[n["id"]] = sum(ys) / len(ys)
        return y[n["id"]]

    for r in roots:
        place(r)
    return y


def _best_path(nodes: list[dict]) -> set:
    by_id = {n["id"]: n for n in nodes}
    finished = [n for n in nodes if n.get("status") == "finished"]
    if not finished:
        return set()
    best = max(finished, key=lambda n: float(n.get("score") or float("-inf")))
    path, cur = set(), best
    while cur is not None:
        path.add(cur["id"])
        cur = by_id.get(cur.get("parent"))
    return path


def beam_tree_figure(source, *, max_nodes: int = 3000, height: int | None = None) -> go.Figure:
    """Beam tree from ``trace.meta["beam"]`` (or that dict): x = decoder step, one node per
    token a hypothesis was extended with, edges parent -> child. Colour = status (alive blue,
    finished green, pruned grey); the best finished hypothesis is drawn thick orange. Hover
    shows the token, its log-probability and the hypothesis score."""
    beam = source.meta.get("beam") if hasattr(source, "meta") else source
    if not beam or not beam.get("nodes"):
        raise LabError("no beam search in this trace (run with beam size > 1)")
    nodes = list(beam["nodes"])[:max_nodes]
    y = _layout(nodes)
    by_id = {n["id"]: n for n in nodes}
    best = _best_path(nodes)
    ex, ey, bx, by = [], [], [], []
    for n in nodes:
        p = by_id.get(n.get("parent"))
        if p is None:
            continue
        xs, ys = (ex, ey) if not (n["id"] in best and p["id"] in best) else (bx, by)
        xs += [p.get("step", -1), n.get("step", 0), None]
        ys += [y[p["id"]], y[n["id"]], None]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#c8c8c8", width=1),
                             hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=bx, y=by, mode="lines", line=dict(color="#ff7f0e", width=4),
                             hoverinfo="skip", name="best hypothesis"))
    for status, color in STATUS_COLORS.items():
        sel = [n for n in nodes if n.get("status", "alive") == status]
        if not sel:
            continue
        fig.add_trace(go.Scatter(
            x=[n.get("step", 0) for n in sel], y=[y[n["id"]] for n in sel], mode="markers+text",
            marker=dict(color=color, size=9, line=dict(color="white", width=1)),
            text=[html.escape(token_label(n.get("token", ""))) for n in sel],
            textposition="top center", name=status,
            textfont=dict(size=9, color="#888") if status == "pruned" else dict(size=11),
            customdata=[[n.get("token_id"), float(n.get("logprob") or 0.0),
                         float(n.get("score") or 0.0), n["id"]] for n in sel],
            hovertemplate=("%{text} (id %{customdata[0]})<br>step %{x}<br>log p %{customdata[1]:.3f}"
                           "<br>score %{customdata[2]:.3f}<br>node %{customdata[3]}<extra>"
                           + status + "</extra>")))
    n_leaves = max(y.values(), default=0) + 1
    best_text = beam.get("best_text", "")
    fig.update_layout(
        title=f"Beam search (beam size {beam.get('beam_size', '?')}): best = "
              f"{html.escape(best_text.strip()[:80])!s}",
        height=height or int(min(900, max(300, 120 + 22 * n_leaves))),
        margin=dict(l=40, r=20, t=50, b=40), legend=dict(orientation="h", y=-0.15))
    fig.update_xaxes(title="decoder step", dtick=1)
    fig.update_yaxes(visible=False, autorange="reversed")
    return fig
