"""WER alignment pictures (any family): reference words over hypothesis words, column by
column, coloured by the edit that aligns them (jiwer's alignment, see ``lab.wer``).

Input: the dict of ``lab.wer.wer_alignment(reference, hypothesis)``: ``wer``, ``cer``, ``hits``,
``substitutions``, ``insertions``, ``deletions`` and ``ops`` = [{type: equal | substitute |
insert | delete, ref: [words], hyp: [words]}]. The texts were normalised as
``lab.wer.NORMALIZATION`` says; :func:`wer_html` prints that rule under the score.
"""
from __future__ import annotations

import html

import plotly.graph_objects as go

from ..errors import LabError
from ..wer import NORMALIZATION

OP_COLORS = {"equal": "#e6e6e6", "substitute": "#ffbb78", "delete": "#ff9896", "insert": "#9edae5"}
OP_NAMES = {"equal": "correct", "substitute": "substitution", "delete": "deletion (missed)",
            "insert": "insertion (extra)"}
GAP = "—"


def alignment_columns(alignment: dict) -> list[tuple[str, str | None, str | None]]:
    """One (op, ref_word or None, hyp_word or None) per aligned column."""
    if not isinstance(alignment, dict) or "ops" not in alignment:
        raise LabError("a WER alignment needs the dict of lab.wer.wer_alignment (with 'ops')")
    cols = []
    for op in alignment["ops"]:
        kind = op.get("type")
        ref, hyp = list(op.get("ref") or []), list(op.get("hyp") or [])
        if kind not in OP_COLORS:
            raise LabError(f"unknown alignment op {kind!r}")
        n = max(len(ref), len(hyp))
        for i in range(n):
            cols.append((kind, ref[i] if i < len(ref) else None, hyp[i] if i < len(hyp) else None))
    return cols


def summary(alignment: dict) -> str:
    a = alignment
    cer = f", CER {a['cer']:.1%}" if a.get("cer") is not None else ""
    return (f"WER {a.get('wer', 0):.1%}{cer}: {a.get('hits', 0)} correct, "
            f"{a.get('substitutions', 0)} substituted, {a.get('deletions', 0)} deleted, "
            f"{a.get('insertions', 0)} inserted")


def wer_figure(alignment: dict, *, line_chars: int = 80, height: int | None = None) -> go.Figure:
    """Reference (top row) vs hypothesis (bottom row), wrapped every ``line_chars`` characters;
    each aligned column is a box coloured by its edit (grey correct, orange substitution, red
    deletion, blue insertion). A gap is drawn as '—'."""
    cols = alignment_columns(alignment)
    starts, widths, ys, texts, colors, hovers = [], [], [], [], [], []
    x, line = 0, 0
    for kind, r, h in cols:
        w = max(len(r or ""), len(h or ""), 2) + 1
        if x and x + w > line_chars:
            x, line = 0, line + 1
        for row, word in (("reference", r), ("hypothesis", h)):
            starts.append(x)
            widths.append(w - 0.3)
            ys.append(f"{row[:3]} {line + 1}")
            texts.append(html.escape(word) if word is not None else GAP)
            colors.append(OP_COLORS[kind])
            hovers.append(f"{OP_NAMES[kind]}<br>ref: {html.escape(r or GAP)}<br>hyp: {html.escape(h or GAP)}")
        x += w
    order = [f"{row} {i + 1}" for i in range(line + 1) for row in ("ref", "hyp")]
    fig = go.Figure(go.Bar(
        x=widths, base=starts, y=ys, orientation="h", marker=dict(color=colors, line=dict(width=0)),
        text=texts, textposition="inside", insidetextanchor="middle",
        textfont=dict(family="monospace", size=13, color="black"), hovertext=hovers,
        hoverinfo="text", showlegend=False, width=0.8))
    for kind, color in OP_COLORS.items():  # legend entries
        fig.add_trace(go.Bar(x=[None], y=[order[0]], orientation="h", marker_color=color,
                             name=OP_NAMES[kind]))
    fig.update_layout(title=summary(alignment), barmode="overlay", uniformtext=dict(minsize=8, mode="show"),
                      height=height or 110 + 56 * (line + 1),
                      margin=dict(l=60, r=20, t=40, b=20), plot_bgcolor="white",
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right"))
    fig.update_xaxes(visible=False, range=[0, line_chars])
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], autorange=True)
    return fig


def wer_html(alignment: dict) -> str:
    """The same alignment as HTML that wraps with the page: one box per column, reference word
    over hypothesis word, coloured by edit, with a one-line summary and the normalisation rule
    (``lab.wer.NORMALIZATION``) on top."""
    parts = [f'<div class="lab-wer" style="font-family:monospace;line-height:1.3">'
             f'<div style="font-family:sans-serif;margin-bottom:6px"><b>{html.escape(summary(alignment))}</b>'
             '<br><span style="font-size:0.85em">top: reference, bottom: hypothesis. '
             + " ".join(f'<span style="background:{c};padding:0 4px">{OP_NAMES[k]}</span>'
                        for k, c in OP_COLORS.items()) + "</span>"
             + (f'<div style="font-size:0.8em;color:#666">{html.escape(NORMALIZATION)}</div>'
                if alignment.get("normalized", True) else "") + "</div>"]
    for kind, r, h in alignment_columns(alignment):
        parts.append(
            f'<span title="{OP_NAMES[kind]}" style="display:inline-block;text-align:center;'
            f'background:{OP_COLORS[kind]};margin:2px;padding:2px 5px;border-radius:3px">'
            f'{html.escape(r) if r is not None else GAP}<br>{html.escape(h) if h is not None else GAP}</span>')
    parts.append("</div>")
    return "".join(parts)
