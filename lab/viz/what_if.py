"""What-if figures: an unchanged run ``a``, a changed run ``b`` (same input, an intervention) and
their diff (``lab.interventions.diff.diff``) drawn side by side on the same axes and time base.

:func:`views` gives, for any family, ``original`` | ``changed`` | ``diff`` figures plus the
word diff as HTML (families with text); the Whisper branch view is
:func:`lab.viz.whisper_beam.branch_figure`, the TTS and classify figures are in
:mod:`lab.viz.interventions`. Times are seconds from ``trace.time_bases`` / the traces' frame
rates; the x range of ``original`` and ``changed`` is the same. Never loads a model.
"""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import envelope_traces, to_numpy, token_label

OP_COLORS = {"equal": None, "substitute": "#ff7f0e", "insert": "#2ca02c", "delete": "#d62728"}
CHANGED_FILL = "rgba(255,127,14,0.22)"  # changed frames / edited spans
EDIT_FILL = "rgba(214,39,40,0.14)"
RUN_COLORS = ("#1f77b4", "#ff7f0e")  # original, changed


# -- text ------------------------------------------------------------------------------------
def word_diff_html(diff: dict) -> str:
    """The word diff of ``diff["text"]["ops"]`` as HTML: equal words plain, substitutions orange
    (old struck through, new after), insertions green, deletions red struck through."""
    text = diff.get("text")
    if not text:
        return ""
    parts = []
    for op in text.get("ops", []):
        ref, hyp = html.escape(" ".join(op["ref"])), html.escape(" ".join(op["hyp"]))
        c = OP_COLORS.get(op["type"])
        if op["type"] == "equal":
            parts.append(ref)
        elif op["type"] == "delete":
            parts.append(f'<del style="color:{c}" title="deleted">{ref}</del>')
        elif op["type"] == "insert":
            parts.append(f'<ins style="color:{c};font-weight:600" title="inserted">{hyp}</ins>')
        else:
            parts.append(f'<span title="substituted"><del style="color:{c}">{ref}</del> '
                         f'<b style="color:{c}">{hyp}</b></span>')
    wer = text.get("wer")
    head = ("<b>No change in the text.</b>" if not text.get("changed") else
            f"<b>{text.get('word_errors', 0)} word change(s)</b>"
            + (f" (WER of the changed run against the original: {wer:.2f})" if wer is not None else ""))
    legend = " · ".join(f'<span style="color:{c}">{k}</span>' for k, c in OP_COLORS.items() if c)
    return (f'<div class="what-if-diff">{head} <small>({legend})</small><br>'
            f'<span style="font-size:1.1em">{" ".join(parts) or "<i>(empty)</i>"}</span></div>')


def _edited(trace) -> list[list[float]]:
    return (trace.meta.get("intervention") or {}).get("edited_seconds") or []


def _shade(fig, spans, fill, *, row=None, label=None):
    for k, (s, e) in enumerate(spans):
        kw = dict(row=row, col=1) if row else {}
        if label and k == 0:
            kw.update(annotation_text=label, annotation_position="top left")
        fig.add_vrect(x0=s, x1=e, fillcolor=fill, line_width=0, layer="below", **kw)


# -- Whisper ---------------------------------------------------------------------------------
def _whisper_seconds(*traces) -> float:
    return max([float(t.meta.get("content_seconds") or 0) for t in traces]
               + [float(w["end"]) for t in traces for w in (t.meta.get("words") or [])] + [1.0])


def whisper_run_figure(trace, *, x_max: float | None = None, n_steps: int | None = None,
                       title: str = "") -> go.Figure:
    """Two rows: the run's words on the time axis (DTW word times, s; one bar per word, shade =
    the word's probability, words holding a forced token outlined orange; edited spans shaded),
    and the probability of the token each decoder step took (forced steps orange). ``x_max`` /
    ``n_steps``: the axes' ends (the same for both runs)."""
    words = trace.meta.get("words") or []
    forced = {s["index"] for s in trace.steps if s.get("forced")}
    fig = make_subplots(rows=2, cols=1, row_heights=[0.5, 0.5], vertical_spacing=0.22,
                        subplot_titles=("words (DTW times)", "p(token taken) per decoder step"))
    if words:
        p = [float(w.get("probability") or 0) for w in words]
        hit = [bool(forced & set(w.get("tokens") or [])) for w in words]
        fig.add_trace(go.Bar(
            x=[max(w["end"] - w["start"], 0.01) for w in words], base=[w["start"] for w in words],
            y=[k % 2 for k in range(len(words))], orientation="h", width=0.8,
            marker=dict(color=p, colorscale="Blues", cmin=0, cmax=1,
                        line=dict(color=["#ff7f0e" if h else "#555" for h in hit],
                                  width=[3 if h else 0.5 for h in hit])),
            text=[html.escape(w["word"].strip()) for w in words], textposition="inside", textangle=0,
            insidetextanchor="middle", textfont=dict(size=12),
            customdata=[[w["start"], w["end"], pw] for w, pw in zip(words, p)],
            hovertemplate="%{text}: %{customdata[0]:.2f}-%{customdata[1]:.2f} s, p=%{customdata[2]:.2f}"
                          "<extra></extra>", showlegend=False), row=1, col=1)
    _shade(fig, _edited(trace), EDIT_FILL, row=1, label="edited")
    steps = trace.steps
    fig.add_trace(go.Bar(x=[s["index"] for s in steps], y=[float(s.get("prob") or 0) for s in steps],
                         marker_color=["#ff7f0e" if s.get("forced") else "#1f77b4" for s in steps],
                         hovertext=[html.escape(token_label(s["token"])) for s in steps],
                         hovertemplate="step %{x}: %{hovertext} p=%{y:.3f}<extra></extra>",
                         showlegend=False), row=2, col=1)
    hits = [s for s in steps if s.get("forced")]
    if hits:  # a forced token is often one the model found unlikely: mark it even when its bar is ~0
        fig.add_trace(go.Scatter(x=[s["index"] for s in hits], y=[min(float(s.get("prob") or 0) + 0.12, 0.95)
                                                                   for s in hits],
                                 mode="markers+text", marker=dict(symbol="star", size=12, color="#ff7f0e"),
                                 text=["forced"] * len(hits), textposition="top center", hoverinfo="skip",
                                 showlegend=False), row=2, col=1)
    text = trace.meta.get("text", "").strip()
    fig.update_layout(title=dict(text=html.escape(f"{title}{text[:90]}"), font=dict(size=13)),
                      height=480, margin=dict(l=40, r=10, t=60, b=40), bargap=0.1)
    fig.update_xaxes(title="time (s)", range=[0, x_max or _whisper_seconds(trace)], row=1, col=1)
    fig.update_yaxes(visible=False, range=[-0.6, 1.6], row=1, col=1)
    fig.update_xaxes(title="decoder step", range=[-0.5, (n_steps or len(steps) or 1) - 0.5], row=2, col=1)
    fig.update_yaxes(title="p", range=[0, 1], row=2, col=1)
    return fig


def whisper_diff_figure(diff: dict) -> go.Figure:
    """Two rows: KL(original || changed) of each decoder step's distribution (nats; bars whose
    top token changed are orange; the first divergent step a red dashed line, forced steps
    orange dotted), and the start / end shift (s) of every word both runs share."""
    st, words = diff.get("steps", {}), diff.get("words") or {}
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.22,
                        subplot_titles=("KL(orig || changed) per step; orange: top-1 changed",
                                        "word time shift, changed - original (s)"))
    kl = st.get("kl") or []
    top1 = set(st.get("top1_changed") or [])
    fig.add_trace(go.Bar(x=list(range(len(kl))), y=kl, name="KL", showlegend=False,
                         marker_color=["#ff7f0e" if s in top1 else "#1f77b4" for s in range(len(kl))],
                         hovertemplate="step %{x}: KL %{y:.4f} nats<extra></extra>"), row=1, col=1)
    first, forced = st.get("first_divergent_step"), st.get("forced") or []
    for s in forced:
        fig.add_vline(x=s, line=dict(color="#ff7f0e", dash="dot", width=3), row=1, col=1,
                      annotation_text=f"forced {s}" + (" = first divergent" if s == first else ""),
                      annotation_position="top left")
    if first is not None and first not in forced:
        fig.add_vline(x=first, line=dict(color="#d62728", dash="dash"), row=1, col=1,
                      annotation_text=f"first divergent step {first}", annotation_position="top right")
    rows = words.get("words") or []
    labels = [f"{k}:{html.escape(r['word'])}" for k, r in enumerate(rows)]
    for key, color in (("start_shift", "#2ca02c"), ("end_shift", "#9467bd")):
        fig.add_trace(go.Bar(x=labels, y=[r[key] for r in rows], name=key.replace("_", " "),
                             marker_color=color,
                             hovertemplate="%{x}: %{y:+.3f} s<extra>" + key + "</extra>"), row=2, col=1)
    fig.update_xaxes(title="decoder step", row=1, col=1)
    fig.update_yaxes(title="nats", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title="s", row=2, col=1)
    n = st.get("n_steps", ["?", "?"])
    fig.update_layout(height=480, margin=dict(l=50, r=10, t=60, b=70), barmode="group",
                      legend=dict(orientation="h", y=-0.22),
                      title=dict(text=f"steps: {n[0]} original, {n[1]} changed; "
                                      f"{words.get('matched', 0)} shared words", font=dict(size=13)))
    return fig


# -- CTC -------------------------------------------------------------------------------------
def _ctc_symbols(trace) -> list[str]:
    from .ctc import symbol

    return [symbol(trace, int(i)) for i in to_numpy(trace["ctc.frame_ids"]).astype(int)]


def _shown(syms: list[str]) -> list[str]:
    """Frame symbols as drawn: blanks left out (they are most frames of a trained model; hover
    still names them), the rest HTML-escaped."""
    from .ctc import BLANK_MARK

    return ["" if s == BLANK_MARK else html.escape(s) for s in syms]


def ctc_run_figure(trace, *, x_max: float | None = None, title: str = "") -> go.Figure:
    """The run's input waveform (the edited clip for an edit; edited spans shaded) over its
    argmax frame tokens, on one time axis (s)."""
    fps = float(trace.meta["frames_per_second"])
    rate = float(trace.time_bases.get("sample", 16000.0))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.05)
    for tr in envelope_traces(trace["input.waveform"], rate, name="waveform", color=RUN_COLORS[0],
                              fillcolor="rgba(31,119,180,0.35)"):
        fig.add_trace(tr, row=1, col=1)
    syms = _ctc_symbols(trace)
    fig.add_trace(go.Scatter(x=(np.arange(len(syms)) + 0.5) / fps, y=[0] * len(syms), mode="text",
                             text=_shown(syms), textfont=dict(size=10), hovertext=syms,
                             hovertemplate="frame %{customdata}: %{hovertext}<extra></extra>",
                             customdata=list(range(len(syms)))), row=2, col=1)
    _shade(fig, _edited(trace), EDIT_FILL, row=1, label="edited")
    fig.update_layout(height=300, showlegend=False, margin=dict(l=40, r=10, t=45, b=40),
                      title=dict(text=html.escape(f"{title}{trace.meta.get('text', '')[:90]}"),
                                 font=dict(size=13)))
    fig.update_xaxes(range=[0, x_max or len(syms) / fps])
    fig.update_xaxes(title="time (s)", row=2, col=1)
    fig.update_yaxes(visible=False, row=2, col=1)
    return fig


def ctc_diff_figure(a, b, diff: dict) -> go.Figure:
    """Frame tokens of both runs on one time axis (s), the frames whose token changed shaded
    orange (``diff["frames"]["changed_seconds"]``); below, the largest absolute change of a CTC
    logit at each frame."""
    fps = float(a.meta["frames_per_second"])
    fr = diff["frames"]
    sa, sb = _ctc_symbols(a), _ctc_symbols(b)
    changed = set(fr["changed"])
    x = (np.arange(len(sa)) + 0.5) / fps
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.55, 0.45], vertical_spacing=0.06)
    for y, syms in (("original", sa), ("changed", sb)):
        fig.add_trace(go.Scatter(x=x, y=[y] * len(syms), mode="text", text=_shown(syms),
                                 hovertext=[html.escape(s) for s in syms],
                                 textfont=dict(size=10, color=["#d62728" if t in changed else "#333"
                                                               for t in range(len(syms))]),
                                 customdata=list(range(len(syms))),
                                 hovertemplate="frame %{customdata}: %{hovertext}<extra>" + y + "</extra>"),
                      row=1, col=1)
    delta = (b["ctc.logits"].float() - a["ctc.logits"].float()).abs().amax(-1)
    fig.add_trace(go.Bar(x=x, y=to_numpy(delta), width=1 / fps, marker_color="#7f7f7f",
                         hovertemplate="%{x:.2f} s: max |Δ logit| %{y:.3f}<extra></extra>"), row=2, col=1)
    _shade(fig, fr["changed_seconds"], CHANGED_FILL, row=1)
    _shade(fig, fr["changed_seconds"], CHANGED_FILL, row=2)
    fig.update_layout(height=320, showlegend=False, margin=dict(l=70, r=10, t=45, b=40),
                      title=dict(text=f"{fr['n_changed']} of {fr['n_frames']} frame tokens changed "
                                      f"(shaded); max |Δ logit| {fr['max_logit_change']:.3g}",
                                 font=dict(size=13)))
    fig.update_yaxes(categoryorder="array", categoryarray=["changed", "original"], row=1, col=1)
    fig.update_yaxes(title="max |Δ logit|", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title="time (s)", range=[0, len(sa) / fps], row=2, col=1)
    return fig


# -- every family ----------------------------------------------------------------------------
def views(a, b, diff: dict) -> dict:
    """``{"original", "changed", "diff"}`` figures and ``"text_html"`` (the word diff; empty for
    TTS) for the two traces of one what-if (``lab.interventions.run.WhatIf`` fields)."""
    from . import interventions as iv

    family = a.family
    out = {"text_html": word_diff_html(diff)}
    if family == "whisper":
        x_max = _whisper_seconds(a, b)
        n = max(len(a.steps), len(b.steps))
        out.update(original=whisper_run_figure(a, x_max=x_max, n_steps=n, title="original: "),
                   changed=whisper_run_figure(b, x_max=x_max, n_steps=n, title="changed: "),
                   diff=whisper_diff_figure(diff))
    elif family == "ctc":
        n = max(int(a["ctc.frame_ids"].numel()), int(b["ctc.frame_ids"].numel()))
        x_max = n / float(a.meta["frames_per_second"])
        out.update(original=ctc_run_figure(a, x_max=x_max, title="original: "),
                   changed=ctc_run_figure(b, x_max=x_max, title="changed: "),
                   diff=ctc_diff_figure(a, b, diff))
    elif family == "tts":
        out.update(iv.tts_views(a, b, diff))
    elif family == "classify":
        out.update(iv.classify_views(a, b, diff))
    else:
        from ..errors import LabError

        raise LabError(f"no what-if views for family {family!r}")
    return out


__all__ = ["views", "word_diff_html", "whisper_run_figure", "whisper_diff_figure", "ctc_run_figure",
           "ctc_diff_figure", "token_label"]
