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


def branch_figure(original, changed, *, max_steps: int = 60, alternatives: int = 4) -> go.Figure:
    """The forced branch: the original greedy path and the changed run's path as one tree,
    x = decoder step. The shared prefix is one path; at the first divergent step the changed
    run forks off (forced steps orange, the branch's later tokens orange-outlined), and the
    original's other top-k candidates at that step are drawn as grey stubs. Reads
    ``trace.steps`` (``token``, ``prob``, ``top_k``, ``forced``) of the two traces; at most
    ``max_steps`` steps of each path."""
    sa, sb = original.steps[:max_steps], changed.steps[:max_steps]
    if not sa and not sb:
        raise LabError("no decoder steps in these traces")
    first = next((k for k, (x, y) in enumerate(zip(sa, sb)) if x["token_id"] != y["token_id"]),
                 min(len(sa), len(sb)))
    fig = go.Figure()

    def path(steps, y, color, name, start=0):
        xs = list(range(start, len(steps)))
        if not xs:
            return
        sel = steps[start:]
        fig.add_trace(go.Scatter(
            x=xs, y=[y] * len(xs), mode="markers+text+lines", line=dict(color=color, width=3),
            marker=dict(size=[14 if s.get("forced") else 9 for s in sel], line=dict(color="white", width=1),
                        color=["#ff7f0e" if s.get("forced") else color for s in sel],
                        symbol=["star" if s.get("forced") else "circle" for s in sel]),
            text=[html.escape(token_label(s["token"])) for s in sel], textposition="top center",
            customdata=[[s["token_id"], float(s.get("prob") or 0.0), "forced" if s.get("forced") else "model"]
                        for s in sel],
            hovertemplate="%{text} (id %{customdata[0]})<br>step %{x}, p %{customdata[1]:.3f}"
                          "<br>%{customdata[2]}<extra>" + name + "</extra>", name=name))

    path(sa[:first], 0, "#555555", "shared prefix")
    if first > 0 and first < len(sa):
        fig.add_trace(go.Scatter(x=[first - 1, first], y=[0, 0], mode="lines", hoverinfo="skip",
                                 line=dict(color="#1f77b4", width=3), showlegend=False))
    if first > 0 and first < len(sb):
        fig.add_trace(go.Scatter(x=[first - 1, first], y=[0, 1], mode="lines", hoverinfo="skip",
                                 line=dict(color="#ff7f0e", width=3), showlegend=False))
    path(sa, 0, "#1f77b4", "original", start=first)
    path(sb, 1, "#ff7f0e", "changed (forced branch)", start=first)
    if first < len(sa):  # the original's other candidates at the fork
        taken = {sa[first]["token_id"]} | ({sb[first]["token_id"]} if first < len(sb) else set())
        alts = [c for c in sa[first].get("top_k", []) if c["token_id"] not in taken][:alternatives]
        ys = [-(k + 1) * 0.5 for k in range(len(alts))]
        for y in ys:
            fig.add_trace(go.Scatter(x=[max(first - 1, 0), first], y=[0, y], mode="lines", hoverinfo="skip",
                                     line=dict(color="#c8c8c8", width=1), showlegend=False))
        if alts:
            fig.add_trace(go.Scatter(
                x=[first] * len(alts), y=ys, mode="markers+text", name="other top-k at the fork",
                marker=dict(color=STATUS_COLORS["pruned"], size=7),
                text=[html.escape(token_label(c["token"])) for c in alts], textposition="middle right",
                textfont=dict(size=9, color="#888"),
                customdata=[[c["token_id"], float(c.get("prob") or 0.0)] for c in alts],
                hovertemplate="%{text} (id %{customdata[0]}) p %{customdata[1]:.3f}<extra>candidate</extra>"))
    forced = [s["index"] for s in changed.steps if s.get("forced")]
    what = f"forced at step {', '.join(map(str, forced))}" if forced else "no forced token"
    fig.update_layout(title=f"Branch: the changed run forks at step {first} ({what})", height=330,
                      margin=dict(l=30, r=20, t=50, b=40), legend=dict(orientation="h", y=-0.2))
    fig.update_xaxes(title="decoder step", dtick=1 if max(len(sa), len(sb)) <= 30 else None)
    fig.update_yaxes(visible=False, range=[-0.5 * (alternatives + 1) - 0.2, 1.6])
    return fig
