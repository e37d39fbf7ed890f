"""A whole recording decoded window by window (Whisper's sequential long-form algorithm):
the waveform with every 30 s window drawn over it, the timestamp segments and the words on the
same seconds axis, and a table of the windows.

Reads a ``lab.whisper.long.LongResult`` (or its parts): ``windows`` (dicts ``{"index", "start",
"end", "decoded_end", "end_reason", "temperature", "fallbacks", "no_speech_prob", "skipped",
"text", "prompt_tokens"}``, seconds, absolute), ``segments`` and ``words`` (absolute seconds).
Never loads a model. :func:`window_rows` fills keys an older result lacks.
"""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from ..errors import LabError
from ..whisper.constants import SAMPLE_RATE, WINDOW_SECONDS
from .common import envelope_traces, to_numpy
from .whisper_segments import SEGMENT_COLORS, WORD_COLORS, _word_extra, span_bars

WINDOW_FILLS = ["rgba(31,119,180,0.16)", "rgba(255,187,120,0.22)"]
WINDOW_LINES = ["#1f77b4", "#ff7f0e"]
FALLBACK = "#d62728"
SKIPPED = "rgba(127,127,127,0.35)"
SELECTED = "#2ca02c"

END_REASONS = {
    "last_timestamp": "seek to the last complete timestamp",
    "single_timestamp": "ended with one timestamp: the whole window consumed",
    "no_speech": "no speech detected: skipped",
    "end_of_audio": "the audio ended",
    "max_tokens": "hit the token limit",
    "no_timestamp_pair": "no complete timestamp pair: the whole window consumed",
}


def window_rows(windows, traces=()) -> list[dict]:
    """``windows`` as dicts with every key the figures read. Accepts C's dicts, or (start, end)
    pairs (the fixed-window scheme) with the text taken from ``traces[k].meta``."""
    rows = []
    for k, w in enumerate(windows or []):
        if not isinstance(w, dict):
            a, b = (float(x) for x in w)
            w = {"start": a, "end": b, "decoded_end": b}
        meta = traces[k].meta if k < len(traces) and traces[k] is not None else {}
        r = dict(w)
        r.setdefault("index", k)
        r["start"], r["end"] = float(r["start"]), float(r["end"])
        r["decoded_end"] = float(r.get("decoded_end") if r.get("decoded_end") is not None
                                 else min(r["start"] + WINDOW_SECONDS, r["end"]))
        r.setdefault("end_reason", meta.get("stop_reason", "?"))
        r.setdefault("temperature", 0.0)
        r["fallbacks"] = list(r.get("fallbacks") or [])
        r.setdefault("no_speech_prob", None)
        r["skipped"] = bool(r.get("skipped"))
        r.setdefault("text", str(meta.get("text", "")).strip())
        rows.append(r)
    return rows


def window_label(w: dict) -> str:
    """One line naming a window: index, span, why it ended, fallback/skip marks."""
    marks = ""
    if w["skipped"]:
        marks += " · skipped (no speech)"
    if w["fallbacks"]:
        marks += f" · fell back to T={float(w['temperature']):.1f}"
    return (f"window {w['index']}: {w['start']:.1f}\u2013{w['end']:.1f} s · "
            f"{w['end_reason']}{marks}")


def _fallback_text(w: dict) -> str:
    if not w["fallbacks"]:
        return "none"
    parts = []
    for f in w["fallbacks"]:
        reason = f.get("reason") or ", ".join(f.get("reasons") or []) or "?"
        bits = [f"T={float(f.get('temperature', 0)):.1f}: {reason}"]
        if f.get("compression_ratio") is not None:
            bits.append(f"compression {float(f['compression_ratio']):.2f}")
        if f.get("avg_logprob") is not None:
            bits.append(f"avg logprob {float(f['avg_logprob']):.2f}")
        parts.append(" ".join([bits[0]] + ([f"({', '.join(bits[1:])})"] if bits[1:] else [])))
    return "; ".join(parts)


def _hover(w: dict) -> str:
    nsp = w["no_speech_prob"]
    return "<br>".join([
        f"<b>window {w['index']}</b>: {w['start']:.2f}\u2013{w['end']:.2f} s "
        f"(decoded to {w['decoded_end']:.2f} s)",
        f"end: {html.escape(str(w['end_reason']))}",
        f"temperature {float(w['temperature']):.1f}; fallbacks: {html.escape(_fallback_text(w))}",
        f"no-speech p={float(nsp):.2f}" if nsp is not None else "no-speech p: -",
        ("<i>skipped (no speech)</i>" if w["skipped"] else
         html.escape((w["text"][:90] + "\u2026") if len(w["text"]) > 90 else w["text"]))])


def long_form_figure(samples, windows, segments=(), words=(), *, sample_rate: float = SAMPLE_RATE,
                     selected: int | None = None, max_points: int = 3000, height: int = 460,
                     title: str | None = None) -> go.Figure:
    """The whole recording: (1) the waveform with each window as a shaded span (alternating
    colours, label ``W<k>`` on top; the part of the 30 s window decoded but not consumed --
    after the seek point, re-read by the next window -- as a dotted outline; fallback windows with a red border and their
    temperature; skipped windows grey), (2) the timestamp segments, (3) the words. One x axis in
    seconds over the whole clip. ``selected``: a window index outlined in green.

    ``samples``: 1-D samples at ``sample_rate``; ``windows``: see :func:`window_rows`;
    ``segments`` / ``words``: dicts with absolute ``start`` / ``end`` (s)."""
    from plotly.subplots import make_subplots

    x = to_numpy(samples).reshape(-1)
    rows = window_rows(windows)
    if not rows:
        raise LabError("no windows to draw: decode the recording first")
    dur = max(x.size / sample_rate, max(w["end"] for w in rows))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.68, 0.32])
    for tr in envelope_traces(x, sample_rate, max_points=max_points, width=0,
                              fillcolor="rgba(70,70,70,0.65)"):
        fig.add_trace(tr, row=1, col=1)
    peak = float(max(np.abs(x).max(initial=0), 1e-6))
    top = peak * 1.9
    for w in rows:
        k, a, b = w["index"], w["start"], w["end"]
        fell = bool(w["fallbacks"])
        fill = SKIPPED if w["skipped"] else WINDOW_FILLS[k % 2]
        line = dict(color=FALLBACK, width=3) if fell else dict(width=0)
        fig.add_shape(type="rect", x0=a, x1=b, y0=-peak * 1.15, y1=peak * 1.15, fillcolor=fill,
                      line=line, layer="below", row=1, col=1)
        if w["decoded_end"] > b + 1e-3:  # decoded but not consumed: the next window re-reads it
            fig.add_shape(type="rect", x0=b, x1=w["decoded_end"], y0=-peak * 1.15, y1=peak * 1.15,
                          line=dict(color=WINDOW_LINES[k % 2], width=2, dash="dot"),
                          fillcolor="rgba(0,0,0,0.06)", row=1, col=1)
        fig.add_vline(x=a, line=dict(color="rgba(40,40,40,0.6)", width=1), row=1, col=1)
        label = f"W{k}" + (f" T={float(w['temperature']):.1f}" if fell else "") \
            + (" skip" if w["skipped"] else "")
        fig.add_annotation(x=(a + b) / 2, y=peak * (1.3 + 0.28 * (k % 2)), text=label,
                           showarrow=False, row=1, col=1,
                           font=dict(size=12, color=FALLBACK if fell else "#333"))
        if selected is not None and k == int(selected):
            fig.add_shape(type="rect", x0=a, x1=b, y0=-peak * 1.2, y1=top * 0.97,
                          line=dict(color=SELECTED, width=3), fillcolor="rgba(0,0,0,0)",
                          row=1, col=1)
    # hover targets: one invisible marker per window (plotly shapes have no hover)
    fig.add_trace(go.Scatter(
        x=[(w["start"] + w["end"]) / 2 for w in rows], y=[0.0] * len(rows), mode="markers",
        marker=dict(size=30, opacity=0), showlegend=False, text=[_hover(w) for w in rows],
        customdata=[w["index"] for w in rows], hovertemplate="%{text}<extra></extra>",
        name="windows"), row=1, col=1)
    if segments:
        fig.add_trace(span_bars(list(segments), y="segments", colors=SEGMENT_COLORS,
                                name="segment"), row=2, col=1)
    if words:
        fig.add_trace(span_bars(list(words), y="words", colors=WORD_COLORS, name="word",
                                key="word", hover_extra=_word_extra), row=2, col=1)
    n_fb = sum(bool(w["fallbacks"]) for w in rows)
    n_skip = sum(w["skipped"] for w in rows)
    fig.update_layout(
        title=title or (f"Whole recording: {dur:.1f} s in {len(rows)} windows"
                        f" ({n_fb} fell back, {n_skip} skipped as no speech)"),
        height=height, barmode="overlay", uniformtext=dict(minsize=9, mode="hide"),
        margin=dict(l=80, r=20, t=50, b=45), hovermode="closest")
    fig.update_yaxes(title="amplitude", range=[-peak * 1.25, top], zeroline=False, row=1, col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=["words", "segments"], row=2, col=1)
    fig.update_xaxes(range=[0, dur], row=1, col=1)
    fig.update_xaxes(title="time (s)", range=[0, dur], row=2, col=1)
    return fig


def long_result_figure(result, samples, *, sample_rate: float = SAMPLE_RATE,
                       selected: int | None = None, **kw) -> go.Figure:
    """:func:`long_form_figure` for a ``LongResult`` and the whole clip's samples."""
    return long_form_figure(samples, window_rows(result.windows, result.traces),
                            getattr(result, "segments", None) or [], result.words or [],
                            sample_rate=sample_rate, selected=selected, **kw)


def windows_html(windows, traces=(), *, selected: int | None = None) -> str:
    """A table of the windows: span, why it ended, temperature and fallbacks (with their
    compression ratio / average log-prob), no-speech probability, the window's text."""
    rows = window_rows(windows, traces)
    head = ("<tr><th>#</th><th>start&ndash;end (s)</th><th>decoded to</th><th>end</th>"
            "<th>T</th><th>fallbacks</th><th>no-speech p</th><th>text</th></tr>")
    body = []
    for w in rows:
        style = []
        if w["skipped"]:
            style.append("color:#777")
        if selected is not None and w["index"] == int(selected):
            style.append("outline:2px solid #2ca02c")
        nsp = w["no_speech_prob"]
        body.append(
            f"<tr style='{';'.join(style)}'><td>{w['index']}</td>"
            f"<td>{w['start']:.2f}&ndash;{w['end']:.2f}</td><td>{w['decoded_end']:.2f}</td>"
            f"<td title='{html.escape(END_REASONS.get(w['end_reason'], ''), quote=True)}'>"
            f"{html.escape(str(w['end_reason']))}</td>"
            f"<td>{float(w['temperature']):.1f}</td>"
            f"<td style='color:{FALLBACK if w['fallbacks'] else 'inherit'}'>"
            f"{html.escape(_fallback_text(w))}</td>"
            f"<td>{'' if nsp is None else f'{float(nsp):.2f}'}</td>"
            f"<td>{'<i>skipped (no speech)</i>' if w['skipped'] else html.escape(w['text'])}</td></tr>")
    return ("<table class='whisper-windows' style='font-size:0.85em;border-collapse:collapse'>"
            f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table>")
