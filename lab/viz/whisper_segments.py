"""Timestamp-token segments (``<|0.00|>`` ... ``<|2.40|>``) as spans on a time axis.

A segment is a dict ``{"start", "end" (seconds), "text", ...}`` as in a Whisper trace's
``meta["segments"]`` (timestamps mode) or ``LongResult.segments`` (absolute times). The DTW
word times (``meta["words"]``) are a different estimate of the same thing; these figures put the
two side by side so the difference is visible.
"""
from __future__ import annotations

import html

import plotly.graph_objects as go

from ..errors import LabError
from ..whisper.constants import SAMPLE_RATE
from .common import to_numpy

SEGMENT_COLORS = ["#9467bd", "#17becf"]
WORD_COLORS = ["#1f77b4", "#2ca02c"]


def _label(text, limit: int = 80) -> str:
    t = " ".join(str(text or "").split())
    return html.escape(t if len(t) <= limit else t[: limit - 1] + "\u2026")


def span_bars(spans: list[dict], *, y: str, colors: list[str], name: str, key: str = "text",
              hover_extra=None, row=None) -> go.Bar:
    """One horizontal bar per span (``start``..``end`` s) on the category row ``y``, its text
    inside (hidden when it does not fit; every span has the full text on hover)."""
    starts = [float(s["start"]) for s in spans]
    widths = [max(float(s["end"]) - float(s["start"]), 1e-3) for s in spans]
    texts = [_label(s.get(key, "")) for s in spans]
    extra = [hover_extra(s) if hover_extra else "" for s in spans]
    return go.Bar(
        y=[y] * len(spans), x=widths, base=starts, orientation="h", name=name, showlegend=False,
        marker=dict(color=[colors[i % len(colors)] for i in range(len(spans))],
                    line=dict(color="white", width=1)),
        text=texts, textposition="inside", insidetextanchor="middle", textangle=0,
        textfont=dict(color="white"), width=0.8,
        customdata=[[a, a + w, t, e] for a, w, t, e in zip(starts, widths, texts, extra)],
        hovertemplate="%{customdata[2]}<br>%{customdata[0]:.2f}\u2013%{customdata[1]:.2f} s"
                      "%{customdata[3]}<extra>" + name + "</extra>")


def _word_extra(w: dict) -> str:
    p = w.get("probability", w.get("prob"))
    return f"<br>p={float(p):.2f}" if p is not None else ""


def segments_figure(source, segments: list[dict] | None = None, words: list[dict] | None = None,
                    *, sample_rate: float = SAMPLE_RATE, height: int = 300,
                    title: str | None = None) -> go.Figure:
    """The waveform (top) over two rows of spans sharing its seconds axis: the timestamp-token
    segments and the DTW words.

    ``source``: a Whisper Trace (``input.waveform``, ``meta["segments"]``, ``meta["words"]``)
    or 1-D samples at ``sample_rate`` (then pass ``segments`` / ``words``). Raises ``LabError``
    when there are no segments (the trace was decoded without timestamp tokens)."""
    from plotly.subplots import make_subplots

    from .common import envelope_traces

    if hasattr(source, "tensors"):
        if "input.waveform" not in source:
            raise LabError("the trace has no input.waveform")
        samples = to_numpy(source["input.waveform"])
        sample_rate = float((source.time_bases or {}).get("sample", sample_rate))
        meta = source.meta or {}
        segments = meta.get("segments") if segments is None else segments
        words = meta.get("words") if words is None else words
    else:
        samples = to_numpy(source)
    if not segments:
        raise LabError("no timestamp segments: decode with timestamp tokens (the 'timestamp "
                       "tokens' box, or timestamps=True)")
    dur = samples.size / sample_rate
    # a segment past the audio (a weak model's timestamps can point into the padding) stays visible
    x_end = max([dur] + [float(s["end"]) for s in segments] + [float(s["start"]) for s in segments])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[0.5, 0.5])
    for tr in envelope_traces(samples, sample_rate, fillcolor="rgba(80,80,80,0.6)", width=0):
        fig.add_trace(tr, row=1, col=1)
    fig.add_trace(span_bars(segments, y="segments", colors=SEGMENT_COLORS, name="segment"),
                  row=2, col=1)
    if words:
        fig.add_trace(span_bars(words, y="words (DTW)", colors=WORD_COLORS, name="word",
                                key="word", hover_extra=_word_extra), row=2, col=1)
    fig.update_layout(title=title or f"Timestamp segments ({len(segments)}) and DTW words "
                      f"({len(words or [])}), {dur:.2f} s", height=height, barmode="overlay",
                      uniformtext=dict(minsize=9, mode="hide"),
                      margin=dict(l=90, r=20, t=40, b=40))
    fig.update_yaxes(title="amplitude", zeroline=False, row=1, col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=["words (DTW)", "segments"], row=2, col=1)
    fig.update_xaxes(range=[0, x_end], row=1, col=1)
    fig.update_xaxes(title="time (s)", range=[0, x_end], row=2, col=1)
    return fig
