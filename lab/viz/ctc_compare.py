"""Compare view figures: CTC vs Whisper on one clip (rows from ``lab.ctc.compare.compare``)."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from .ctc import log_bar_range

COLORS = {"ctc": "#1f77b4", "whisper": "#ff7f0e"}


def lengths_figure(rows: list[dict], *, height: int = 380) -> go.Figure:
    """Sequence length at every stage, one bar group per model (log scale)."""
    fig = go.Figure()
    for r in rows:
        names = [s[0].strip() for s in r["stages"]]
        vals = [s[1] for s in r["stages"]]
        fig.add_trace(go.Bar(x=[f"{r['family']}: {n}" for n in names], y=vals, name=f"{r['family']} ({r['model']})",
                             marker_color=COLORS.get(r["family"], "#777"),
                             text=[f"{v:,}" for v in vals], textposition="outside",
                             hovertext=[f"{n}: {v:,} {s[2]}" for n, v, s in zip(names, vals, r["stages"])],
                             hoverinfo="text", cliponaxis=False))
    fig.update_layout(height=height, yaxis=dict(type="log", title="length (log)",
                                                range=log_bar_range([s[1] for r in rows for s in r["stages"]])),
                      margin=dict(l=50, r=20, t=50, b=120), xaxis=dict(tickangle=-30),
                      legend=dict(orientation="h", y=1.12),
                      title=dict(text="sequence length at every stage"))
    return fig


def compare_html(rows: list[dict]) -> str:
    """A table: model, text, WER/CER, time, decoder passes, then the stages with their lengths."""
    head = ("<tr><th>model</th><th>text</th><th>WER</th><th>CER</th><th>time (s)</th>"
            "<th>decoder passes</th><th>stages (length)</th></tr>")
    body = []
    def num(w, key):
        return "" if not w or w.get(key) is None else f"{w[key]:.2f}"

    for r in rows:
        w = r.get("wer")
        stages = "<br>".join(f"{html.escape(s[0].strip())}: <b>{s[1]:,}</b> {html.escape(s[2])}"
                             for s in r["stages"])
        body.append(
            f"<tr><td><b>{html.escape(r['family'])}</b><br><small>{html.escape(r['model'])}<br>"
            f"{html.escape(r['weights_source'])}</small></td><td>{html.escape(r['text']) or '<i>(empty)</i>'}</td>"
            f"<td>{num(w, 'wer')}</td><td>{num(w, 'cer')}</td>"
            f"<td>{r['seconds']:.2f}</td><td>{r['decoder_passes']}</td><td>{stages}</td></tr>")
    style = ("<style>.cmp td,.cmp th{border:1px solid #ddd;padding:4px 8px;vertical-align:top}"
             ".cmp{border-collapse:collapse}</style>")
    return style + f"<table class='cmp'>{head}{''.join(body)}</table>"
