"""Words over time: the waveform with each word's span (word timestamps from the alignment
heads' cross-attention and DTW) shaded and labelled; the shade is the word's probability
(``words[i]["probability"]``, red = unsure, green = sure, a colorbar beside; hover shows it)."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from ..errors import LabError
from ..whisper.constants import SAMPLE_RATE
from .common import envelope_traces, to_numpy
from .whisper_common import rate

WORD_FILLS = ["rgba(31,119,180,0.18)", "rgba(44,160,44,0.18)"]  # words without a probability
CURSOR = "#ff7f0e"
PROB_SCALE = "RdYlGn"
PROB_ALPHA = 0.4


def word_probability(w: dict) -> float | None:
    """A word's probability (``probability``; ``prob`` in traces saved before it was renamed)."""
    p = w.get("probability", w.get("prob"))
    return None if p is None else float(p)


def probability_fill(p: float | None, i: int = 0) -> str:
    """The span colour of a word: ``PROB_SCALE`` at ``p`` (0..1), translucent; alternating
    blue/green when the word has no probability."""
    if p is None or p != p:
        return WORD_FILLS[i % 2]
    from plotly.colors import sample_colorscale, unlabel_rgb

    r, g, b = unlabel_rgb(sample_colorscale(PROB_SCALE, [min(max(p, 0.0), 1.0)])[0])
    return f"rgba({int(r)},{int(g)},{int(b)},{PROB_ALPHA})"


def word_timeline_figure(source, words: list[dict] | None = None, *, sample_rate: float = SAMPLE_RATE,
                         cursor: float | None = None, highlight: tuple[float, float] | None = None,
                         window: float | None = None, max_points: int = 2000, height: int = 260,
                         title: str | None = None) -> go.Figure:
    """Waveform envelope (min/max per bin, at most ``max_points`` bins) with word spans.

    ``source``: a Whisper Trace (``input.waveform`` and ``meta["words"]``) or a 1-D array of
    samples (then pass ``words``: [{word, start, end, prob}] in seconds). ``cursor``: a time
    (s) drawn as a vertical line; ``highlight``: a (start, end) span outlined (the word of the
    selected decoder step). x axis in seconds over the clip (not the 30 s window); ``window``:
    show only that many seconds around ``cursor`` (labels of long clips stay readable; the
    data is all there, zoom out to see it). Labels alternate over three rows. Each span is
    coloured by the word's probability (``PROB_SCALE``, colorbar on the right)."""
    if hasattr(source, "tensors"):
        if "input.waveform" not in source:
            raise LabError("the trace has no input.waveform")
        samples = to_numpy(source["input.waveform"])
        sample_rate = rate(source, "sample", sample_rate)
        words = (source.meta or {}).get("words") if words is None else words
    else:
        samples = to_numpy(source)
    words = words or []
    dur = samples.size / sample_rate
    peak = float(max(np.abs(samples).max(initial=0), 1e-6))
    fig = go.Figure(envelope_traces(samples, sample_rate, max_points=max_points, width=0,
                                    fillcolor="rgba(80,80,80,0.6)"))
    probs = [word_probability(w) for w in words]
    for i, w in enumerate(words):
        s, e = float(w["start"]), float(w["end"])
        fig.add_vrect(x0=s, x1=e, fillcolor=probability_fill(probs[i], i), line_width=0, layer="below")
        fig.add_annotation(x=(s + e) / 2, y=peak * (1.12 + 0.2 * (i % 3)),
                           text=html.escape(str(w.get("word", "")).strip()), showarrow=False,
                           font=dict(size=12))
    if words:  # invisible hover targets, one per word (carrying the probability colorbar)
        known = [p for p in probs if p is not None]
        marker = dict(size=18, opacity=0)
        if known:
            marker.update(color=[p if p is not None else float("nan") for p in probs],
                          colorscale=PROB_SCALE, cmin=0, cmax=1, showscale=True,
                          colorbar=dict(title=dict(text="word p", side="right"), thickness=12,
                                        len=0.9, tickformat=".0%"))
        fig.add_trace(go.Scatter(
            x=[(float(w["start"]) + float(w["end"])) / 2 for w in words], y=[0.0] * len(words),
            mode="markers", marker=marker, showlegend=False,
            text=[html.escape(str(w.get("word", "")).strip()) for w in words],
            customdata=[[float(w["start"]), float(w["end"]), float("nan") if p is None else p]
                        for w, p in zip(words, probs)],
            hovertemplate="%{text}<br>%{customdata[0]:.2f}-%{customdata[1]:.2f} s"
                          "<br>word probability %{customdata[2]:.2f}<extra></extra>"))
    if highlight is not None and highlight[0] is not None:
        fig.add_vrect(x0=highlight[0], x1=highlight[1], line=dict(color=CURSOR, width=2),
                      fillcolor="rgba(255,127,14,0.15)")
    if cursor is not None:
        fig.add_vline(x=float(cursor), line=dict(color=CURSOR, width=2))
    fig.update_layout(title=title or f"Words over the waveform ({len(words)} words, {dur:.2f} s)",
                      height=height, margin=dict(l=50, r=20, t=40, b=40))
    x_range = [0, dur]
    if window and cursor is not None and dur > window:
        start = min(max(0.0, float(cursor) - window / 2), dur - window)
        x_range = [start, start + window]
    fig.update_xaxes(title="time (s)", range=x_range)
    fig.update_yaxes(title="amplitude", range=[-peak * 1.1, peak * 1.65], zeroline=False)
    return fig
