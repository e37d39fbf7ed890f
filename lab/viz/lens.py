"""Lens figures (``lab.interventions.lens``): what each encoder layer "knows" through the output
head. Reads a :class:`~lab.interventions.lens.Lens` or the rows of ``whisper_lens_all``; never
loads a model."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from .common import to_numpy

MAX_TEXT_FRAMES = 260  # above this many frames the cells carry no letters (unreadable)
BLANK = "_"


def _label(name: str, cer, ref_cer) -> str:
    parts = [name]
    if cer is not None:
        parts.append(f"CER {cer:.2f}")
    if ref_cer is not None:
        parts.append(f"ref {ref_cer:.2f}")
    return " · ".join(parts)


def ctc_lens_figure(lens, *, show_text: bool | None = None) -> go.Figure:
    """Layer x time grid: each cell is one CTC frame of one layer read through the head, coloured
    by the probability of its argmax token (blank cells pale), the argmax character written in it
    (blanks left empty; ``|`` = word delimiter). x: seconds (frame centres, ``lens.
    frames_per_second``); y: the layers, bottom = embeddings, top = the model's output, labelled
    with each layer's CER against the final text (and the reference). Hover: the layer's text."""
    lp = to_numpy(lens.log_probs)  # (layer, frame, vocab)
    n_layers, n_frames = lp.shape[:2]
    prob = np.exp(lp.max(-1))
    blank = np.array([[t == BLANK for t in row] for row in lens.tokens])
    z = np.where(blank, -prob, prob)  # blank frames on the negative (pale) side of the scale
    t = (np.arange(n_frames) + 0.5) / float(lens.frames_per_second)
    names = lens.layer_names or [f"layer {i}" for i in range(n_layers)]
    ref = lens.reference_cer or [None] * n_layers
    ylabels = [_label(n, c, r) for n, c, r in zip(names, lens.cer, ref)]
    text = [["" if tok == BLANK else tok for tok in row] for row in lens.tokens]
    hover = [[f"{html.escape(names[i])}<br>t = {t[f]:.2f} s<br>argmax {html.escape(lens.tokens[i][f])} "
              f"p = {prob[i, f]:.2f}<br>text: {html.escape(lens.texts[i][:80])}"
              for f in range(n_frames)] for i in range(n_layers)]
    show_text = n_frames <= MAX_TEXT_FRAMES if show_text is None else show_text
    fig = go.Figure(go.Heatmap(
        z=z, x=t, y=list(range(n_layers)), zmin=-1, zmax=1,
        colorscale=[[0, "#c6dbef"], [0.5, "#f7f7f7"], [0.5, "#fff5eb"], [1, "#d94801"]],
        colorbar={"title": "p(argmax)", "tickvals": [-1, -0.5, 0, 0.5, 1],
                  "ticktext": ["1 blank", "0.5 blank", "0", "0.5 char", "1 char"]},
        text=text if show_text else None, texttemplate="%{text}" if show_text else None,
        textfont={"size": 9}, hovertext=hover, hoverinfo="text"))
    fig.update_layout(
        title=f"CTC lens: every layer through the head ({lens.model_id or lens.family})",
        xaxis_title="time (s)", yaxis={"tickvals": list(range(n_layers)), "ticktext": ylabels},
        height=140 + 46 * n_layers, width=min(1800, 360 + 7 * n_frames), margin={"l": 220})
    return fig


def _series(lens_or_rows):
    """(layer labels, {series name: values}) from a Lens or whisper_lens_all rows."""
    if hasattr(lens_or_rows, "cer"):
        lens = lens_or_rows
        names = lens.layer_names or [f"layer {i}" for i in range(len(lens.cer))]
        series = {"CER vs final layer": lens.cer}
        if lens.reference_cer is not None:
            series["CER vs reference"] = lens.reference_cer
        return names, series, f"CTC lens ({lens.model_id or lens.family})"
    rows = list(lens_or_rows)
    names = [r.get("name", str(r["layer"])) for r in rows]
    series = {}
    for key, label in (("wer", "WER vs final layer"), ("cer", "CER vs final layer"),
                       ("reference_wer", "WER vs reference"), ("reference_cer", "CER vs reference")):
        if any(key in r for r in rows):
            series[label] = [r.get(key) for r in rows]
    return names, series, "Whisper lens (decoder on each encoder layer)"


def lens_cer_figure(lens_or_rows) -> go.Figure:
    """Layer vs error rate: a :class:`Lens` (CER per layer against the final layer's text and
    the reference) or ``whisper_lens_all`` rows (WER / CER against the last layer's text and the
    reference). Lower is better; 0 against the final layer = that layer already "says" what the
    model says."""
    names, series, title = _series(lens_or_rows)
    fig = go.Figure()
    for label, vals in series.items():
        y = [None if v is None else float(v) for v in vals]
        fig.add_trace(go.Scatter(x=names, y=y, mode="lines+markers", name=label,
                                 line={"dash": "dot" if "reference" in label else "solid"}))
    fig.update_layout(title=title, xaxis_title="layer", yaxis_title="error rate",
                      yaxis={"rangemode": "tozero"}, height=380, width=760,
                      legend={"orientation": "h", "y": -0.25})
    return fig
