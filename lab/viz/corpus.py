"""Corpus figures from the summary table (a pandas DataFrame, ``lab.corpus.Store.table()``).

Never loads a model or a trace: every figure reads table columns only (``wer``, ``conf_mean``,
``char_pairs`` ...). Plotly figures, small enough for a browser.
"""
from __future__ import annotations

import json
from collections import Counter

import plotly.graph_objects as go


def _ok(df):
    return df[df["error"].isna()] if "error" in df else df


def _empty(title: str, why: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=why, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, height=300, xaxis_visible=False, yaxis_visible=False)
    return fig


def wer_histogram_figure(df, bins: int = 20) -> go.Figure:
    """WER per clip (x, 0..max), one overlaid histogram per model."""
    d = _ok(df).dropna(subset=["wer"])
    if d.empty:
        return _empty("WER per clip", "no clip with a reference")
    fig = go.Figure()
    for model, g in d.groupby("model"):
        fig.add_trace(go.Histogram(x=g["wer"], name=f"{model} (mean {g['wer'].mean():.2f})",
                                   opacity=0.6, xbins=dict(start=0, size=max(float(d['wer'].max()), 1.0) / bins)))
    fig.update_layout(title="WER per clip, by model", barmode="overlay", xaxis_title="WER",
                      yaxis_title="clips", height=340, legend=dict(orientation="h", y=-0.25))
    return fig


def confusion(df, model: str | None = None, top: int = 30) -> tuple[list[str], list[str], list[list[int]]]:
    """(reference chars, greedy chars, counts[ref][hyp]) summed over the CTC rows' ``char_pairs``
    (forced-aligned reference char -> the greedy char at its frames; ``∅`` = only blanks)."""
    d = _ok(df).dropna(subset=["char_pairs"])
    if model:
        d = d[d["model"] == model]
    c: Counter = Counter()
    for s in d["char_pairs"]:
        for r, h in json.loads(s):
            c[(r, h or "∅")] += 1
    refs = [ch for ch, _ in _sum(c, 0).most_common(top)]
    hyps = sorted({h for _, h in c} , key=lambda h: (h == "∅", h))
    return refs, hyps, [[c.get((r, h), 0) for h in hyps] for r in refs]


def _sum(c: Counter, k: int) -> Counter:
    out: Counter = Counter()
    for key, n in c.items():
        out[key[k]] += n
    return out


def confusion_figure(df, model: str | None = None) -> go.Figure:
    """CTC character confusion: rows = reference chars (forced alignment), columns = greedy chars,
    colour = share of the row (row-normalised), hover = counts."""
    refs, hyps, counts = confusion(df, model)
    if not refs:
        return _empty("CTC character confusion", "no CTC row with a reference")
    z = [[n / max(sum(row), 1) for n in row] for row in counts]
    fig = go.Figure(go.Heatmap(z=z, x=hyps, y=refs, customdata=counts, colorscale="Blues",
                               hovertemplate="ref %{y} -> %{x}: %{customdata} (%{z:.0%})<extra></extra>"))
    fig.update_layout(title=f"CTC character confusion{' - ' + model if model else ''}",
                      xaxis_title="greedy char at the reference char's aligned frames",
                      yaxis_title="reference char (forced alignment)", height=520,
                      yaxis_autorange="reversed", xaxis=dict(tickmode="array", tickvals=hyps),
                      yaxis=dict(tickmode="array", tickvals=refs))
    return fig


def calibration(df, bins: int = 10):
    """Per model: (bin centre, mean conf, share of clips correct, count) over ``conf_mean`` with
    "correct" = WER 0 (clips with a reference)."""
    d = _ok(df).dropna(subset=["conf_mean", "wer"])
    out = {}
    for model, g in d.groupby("model"):
        rows = []
        for b in range(bins):
            lo, hi = b / bins, (b + 1) / bins
            s = g[(g["conf_mean"] >= lo) & ((g["conf_mean"] < hi) | ((b == bins - 1) & (g["conf_mean"] <= hi)))]
            if len(s):
                rows.append(((lo + hi) / 2, float(s["conf_mean"].mean()), float((s["wer"] == 0).mean()), len(s)))
        out[model] = rows
    return out


def calibration_figure(df, bins: int = 10) -> go.Figure:
    """Mean token confidence (x) vs share of clips transcribed exactly (y), per model; the
    diagonal is perfect calibration. Marker size ~ clips in the bin."""
    cal = calibration(df, bins)
    if not cal:
        return _empty("Confidence vs correct", "no clip with a reference and a confidence")
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"),
                               name="calibrated"))
    for model, rows in cal.items():
        fig.add_trace(go.Scatter(x=[r[1] for r in rows], y=[r[2] for r in rows], mode="lines+markers",
                                 marker=dict(size=[6 + 2 * min(r[3], 10) for r in rows]), name=model,
                                 text=[f"{r[3]} clips" for r in rows]))
    fig.update_layout(title="Confidence vs correct (WER = 0)", xaxis_title="mean token confidence",
                      yaxis_title="share of clips correct", xaxis_range=[0, 1], yaxis_range=[-0.05, 1.05],
                      height=380)
    return fig


def disagreement(df, a: str, b: str, top: int = 10):
    """Clips both models traced, ranked by the CER between their two transcripts (pandas)."""
    from ..wer import wer_alignment

    d = _ok(df)
    x = d[d["model"] == a].set_index("clip_id")
    y = d[d["model"] == b].set_index("clip_id")
    common = [c for c in x.index if c in y.index]
    rows = []
    for c in common:
        ta, tb = str(x.at[c, "text"] or ""), str(y.at[c, "text"] or "")
        cer = wer_alignment(ta, tb)["cer"] if ta.strip() else (0.0 if not tb.strip() else 1.0)
        rows.append({"clip_id": c, "cer_between": float(cer), f"text {a}": ta, f"text {b}": tb,
                     f"wer {a}": x.at[c, "wer"], f"wer {b}": y.at[c, "wer"]})
    import pandas as pd

    out = pd.DataFrame(rows)
    return out.sort_values("cer_between", ascending=False).head(top) if len(out) else out


def disagreement_figure(df, a: str, b: str, top: int = 10) -> go.Figure:
    """The ``top`` clips where models ``a`` and ``b`` disagree most (CER between their texts)."""
    d = disagreement(df, a, b, top)
    if d.empty:
        return _empty("Where two models disagree", "no clip traced by both models")
    d = d.iloc[::-1]
    fig = go.Figure(go.Bar(x=d["cer_between"], y=d["clip_id"], orientation="h",
                           customdata=d[[f"text {a}", f"text {b}"]].values,
                           hovertemplate=f"%{{y}}<br>{a}: %{{customdata[0]}}<br>{b}: %{{customdata[1]}}"
                                         "<extra></extra>"))
    fig.update_layout(title=f"Where {a} and {b} disagree most",
                      xaxis_title="CER between the two models' transcripts", height=120 + 28 * len(d))
    return fig
