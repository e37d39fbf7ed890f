"""CTC figures (plotly, for notebooks and the app). Each takes a CTC ``Trace`` (names and axes:
``lab/ctc/names.py``) and options and returns a figure or HTML; nothing here loads a model. Time
axes are in seconds.

===============================  =============================================================
``waveform_figure``              raw vs normalised waveform (what the model actually gets)
``frame_grid_figure``            conv frames over a zoomed waveform: hop and overlap visible
``length_chain_figure``          samples -> each conv layer's length -> CTC frames (hop, field)
``logits_figure``                log-probabilities (time x vocabulary) with the argmax path
``token_strip_figure``           the raw per-frame tokens on the time axis
``collapse_figure``              the collapse stepper: each stage, colour = frame span, one
                                 character highlighted (its frames shaded in every row)
``words_figure``                 word spans over the waveform (greedy or forced alignment)
``attention_figure``             encoder self-attention of one layer / head
``decoders_html``                greedy vs beam vs beam+LM, words the LM changed marked
``char_choices`` / ``audio_slice``  helpers for the app (character list, a clip of audio)
===============================  =============================================================
There is no separate static (matplotlib) CTC module: export any of these with plotly's
``fig.write_image`` (kaleido).
"""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from ..ctc.constants import BLANK_MARK, DELIMITER_MARK
from ..errors import LabError
from .common import PALETTE, envelope_traces, pool_2d, to_numpy

BLANK_COLOR = "#e6e6e6"
DELIM_COLOR = "#555555"
HIGHLIGHT = "rgba(255,200,0,0.35)"


def _need(trace, name):
    if name not in trace:
        raise LabError(f"the trace has no {name!r} (captured with a policy that left it out)")
    return trace[name]


def _fps(trace) -> float:
    return float(trace.meta["frames_per_second"])


def waveform_figure(trace, *, height: int = 340) -> go.Figure:
    """Raw waveform (top) and the ``input_values`` the model gets (bottom), same time axis.
    Mel-input models have no normalised waveform: the top row only, with a note."""
    from plotly.subplots import make_subplots

    sr = trace.time_bases["sample"]
    raw = to_numpy(_need(trace, "input.waveform"))
    has_norm = "input.waveform_normalized" in trace
    rows = 2 if has_norm else 1
    titles = [f"raw: mean {raw.mean():+.4f}, std {raw.std():.4f}"]
    if has_norm:
        norm = to_numpy(trace["input.waveform_normalized"])
        how = ("zero mean, unit variance (do_normalize)" if trace.meta.get("do_normalize")
               else "as given (the processor does not normalise)")
        titles.append(f"model input: mean {norm.mean():+.4f}, std {norm.std():.4f} -- {how}")
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=titles)
    for tr_ in envelope_traces(raw, sr, color=PALETTE[0], name="raw", showlegend=True):
        fig.add_trace(tr_, row=1, col=1)
    if has_norm:
        for tr_ in envelope_traces(norm, sr, color=PALETTE[2], name="normalised", showlegend=True):
            fig.add_trace(tr_, row=2, col=1)
    fig.update_xaxes(title_text="time (s)", row=rows, col=1)
    fig.update_layout(height=height, margin=dict(l=50, r=20, t=40, b=40),
                      legend=dict(orientation="h", y=1.12))
    return fig


def frame_grid_figure(trace, *, start: float | None = None, width_s: float = 0.12,
                      layer: int | None = None, height: int = 360) -> go.Figure:
    """A zoomed waveform with the receptive field of every frame of one conv layer (default:
    the last, i.e. the CTC frames) drawn as bars in two alternating rows, so the hop (the
    distance between bar starts) and the overlap (where consecutive bars overlap) are visible."""
    g = trace.meta["geometry"]
    layers = g["layers"]
    sr = g["sample_rate"]
    if layers:
        li = len(layers) - 1 if layer is None else layer
        if not 0 <= li < len(layers):
            raise LabError(f"conv layer {layer} does not exist (0..{len(layers) - 1})")
        hop, fld, off = layers[li]["hop"], layers[li]["field"], layers[li]["offset"]
        label = f"conv layer {li}"
    else:
        hop, fld, off = g["feature_hop"], g["feature_window"], g["feature_offset"]
        label = "feature frames"
    raw = to_numpy(_need(trace, "input.waveform"))
    dur = len(raw) / sr
    if start is None:  # the loudest stretch
        step = max(1, int(width_s * sr))
        energy = [float(np.abs(raw[i:i + step]).mean()) for i in range(0, max(1, len(raw) - step), step)]
        start = int(np.argmax(energy)) * width_s if energy else 0.0
    start = float(min(max(0.0, start), max(0.0, dur - width_s)))
    a, b = int(start * sr), int(min(len(raw), (start + width_s) * sr))
    t = np.arange(a, b) / sr
    fig = go.Figure(go.Scatter(x=t, y=raw[a:b], mode="lines", line=dict(color="#444", width=1),
                               name="waveform", yaxis="y"))
    j0 = max(0, int(np.floor((a - off - fld) / hop)))
    j1 = int(np.ceil((b - off) / hop))
    xs, bases, ys, texts, colors = [], [], [], [], []
    for j in range(j0, j1 + 1):
        s0 = (off + j * hop) / sr
        if s0 + fld / sr < start or s0 > start + width_s:
            continue
        xs.append(fld / sr)
        bases.append(s0)
        ys.append(f"row {j % 2}")
        texts.append(f"frame {j}")
        colors.append(PALETTE[j % len(PALETTE)])
    fig.add_trace(go.Bar(x=xs, base=bases, y=ys, orientation="h", marker=dict(color=colors, opacity=0.55),
                         text=texts, textposition="inside", insidetextanchor="start",
                         hovertemplate="%{text}: %{base:.4f}-%{x:.4f}s<extra></extra>", yaxis="y2",
                         name=f"{label} receptive fields", width=0.8))
    fig.update_layout(
        height=height, margin=dict(l=50, r=20, t=50, b=40), barmode="overlay",
        title=dict(text=f"{label}: hop {1000 * hop / sr:.2f} ms, receptive field {1000 * fld / sr:.2f} ms "
                        f"(overlap {max(0.0, 1000 * (fld - hop) / sr):.2f} ms)"),
        xaxis=dict(title="time (s)", range=[start, start + width_s], anchor="y2"),
        yaxis=dict(domain=[0.45, 1.0], title="amplitude"),
        yaxis2=dict(domain=[0.0, 0.38], showticklabels=False),
        showlegend=False)
    return fig


def log_bar_range(values, *, headroom: float = 0.45, floor: float = 0.3) -> list[float]:
    """A log-axis ``range`` (log10 units) for bars with ``textposition="outside"`` labels:
    ``headroom`` decades above the tallest bar so its value label is not cut off, ``floor``
    below the shortest."""
    v = [float(x) for x in values if x is not None and x > 0] or [1.0]
    return [max(np.log10(min(v)) - floor, -0.5), np.log10(max(v)) + headroom]


def length_chain_figure(trace, *, height: int = 320) -> go.Figure:
    """Sequence length at each stage (log scale) with each layer's kernel, stride, hop, field."""
    g = trace.meta["geometry"]
    names, lengths, hover = [], [], []
    if g["input"] == "waveform":
        names.append("samples")
        lengths.append(g["n_samples"])
        hover.append(f"{g['sample_rate']} per second")
    else:
        names += ["samples", "feature frames"]
        lengths += [g["n_samples"], g["n_feature_frames"]]
        hover += [f"{g['sample_rate']} per second",
                  f"window {1000 * g['feature_window'] / g['sample_rate']:.0f} ms, hop "
                  f"{1000 * g['feature_hop'] / g['sample_rate']:.0f} ms"]
    for d in g["layers"]:
        names.append(f"conv {d['index']}")
        lengths.append(d.get("captured_length", d["length"]))
        hover.append(f"kernel {d['kernel']}, stride {d['stride']}: hop {d['hop_ms']:.2f} ms, "
                     f"field {d['field_ms']:.2f} ms, {d['frames_per_second']:.0f}/s")
    names.append("CTC frames")
    lengths.append(g["n_frames"])
    hover.append(f"{g['frames_per_second']:.2f} per second (hop {g['hop_ms']:.1f} ms, field "
                 f"{g['field_ms']:.1f} ms)")
    fig = go.Figure(go.Bar(x=names, y=lengths, text=[f"{v:,}" for v in lengths], textposition="outside",
                           hovertext=hover, hoverinfo="text+y", marker_color=PALETTE[0],
                           cliponaxis=False))
    fig.update_layout(height=height, yaxis=dict(type="log", title="length (log)",
                                                range=log_bar_range(lengths)),
                      margin=dict(l=50, r=20, t=50, b=40),
                      title=dict(text=f"{g['n_samples']:,} samples -> {g['n_frames']} frames "
                                      f"({g['frames_per_second']:.4g} per second)"))
    return fig


def _rows_for(trace, max_rows: int = 60) -> list[int]:
    """Vocabulary rows worth showing: every id when small, else the ids in the per-frame top-k."""
    V = len(trace.meta["vocab"])
    if V <= max_rows or "ctc.topk_ids" not in trace:
        return list(range(V))
    ids = np.unique(to_numpy(trace["ctc.topk_ids"]).astype(int))
    return sorted(set(ids.tolist()) | {int(trace.meta["blank_id"])})


def display_token(trace, i: int) -> str:
    tok = trace.meta["vocab"][i]
    if i == trace.meta["blank_id"]:
        return f"{BLANK_MARK} (blank)"
    if tok == trace.meta.get("word_delimiter"):
        return f"{DELIMITER_MARK} (space)"
    return tok


def symbol(trace, i: int) -> str:
    """The seed's one-frame symbol of id ``i``: ``_`` blank, ``|`` delimiter, else the token."""
    if i == trace.meta["blank_id"]:
        return BLANK_MARK
    tok = trace.meta["vocab"][i]
    return DELIMITER_MARK if tok == trace.meta.get("word_delimiter") else tok


def logits_figure(trace, *, floor: float = -12.0, height: int = 520) -> go.Figure:
    """Log-probabilities, vocabulary (y) x time (x), with the argmax path on top."""
    import torch

    logits = _need(trace, "ctc.logits").float()
    lp = to_numpy(torch.log_softmax(logits, -1)).T  # (vocab, frame)
    rows = _rows_for(trace)
    z = np.maximum(lp[rows], floor)
    fps = _fps(trace)
    pooled, fr, fc = pool_2d(z)
    times = (np.arange(pooled.shape[1]) * fc) / fps
    labels = [html.escape(display_token(trace, i)) for i in rows]  # plotly reads "<s>" as a tag
    ypos = np.arange(pooled.shape[0]) * fr
    fig = go.Figure(go.Heatmap(z=pooled, x=times, y=ypos, colorscale="Viridis", zmin=floor, zmax=0,
                               colorbar=dict(title=dict(text="log p")),
                               customdata=np.array([labels[int(r)] for r in ypos])[:, None].repeat(
                                   pooled.shape[1], 1),
                               hovertemplate="t=%{x:.2f}s %{customdata}: log p %{z:.2f}<extra></extra>"))
    ids = to_numpy(_need(trace, "ctc.frame_ids")).astype(int)
    pos = {r: k for k, r in enumerate(rows)}
    keep = [t for t, i in enumerate(ids) if i in pos]
    fig.add_trace(go.Scatter(x=[t / fps for t in keep], y=[pos[ids[t]] for t in keep], mode="markers",
                             marker=dict(size=4, color="red"), name="argmax",
                             text=[labels[pos[ids[t]]] for t in keep],
                             hovertemplate="t=%{x:.2f}s argmax %{text}<extra></extra>"))
    step = max(1, len(rows) // 40)
    fig.update_layout(height=height, margin=dict(l=90, r=20, t=40, b=40),
                      xaxis=dict(title="time (s)"),
                      yaxis=dict(title="token", autorange="reversed", tickmode="array",
                                 tickvals=list(range(0, len(rows), step)), ticktext=labels[::step]),
                      title=dict(text=f"CTC log-probabilities: {lp.shape[1]} frames x {lp.shape[0]} tokens"
                                      + ("" if len(rows) == lp.shape[0] else f" (showing {len(rows)}"
                                         " tokens that reach a frame's top-k)") + "; red: argmax"),
                      showlegend=False)
    return fig


def _span_colors(trace) -> tuple[list[int], list[str]]:
    """For each frame: index of the character (drop-blanks span) it belongs to, or -1."""
    col = trace.meta["collapse"]
    owner = [-1] * int(trace.meta["n_frames"])
    for k, s in enumerate(col["spans"]["no_blanks"]):
        for f in range(s["start"], s["end"]):
            owner[f] = k
    return owner, [PALETTE[k % len(PALETTE)] for k in range(len(col["spans"]["no_blanks"]))]


def _color(token: str, k: int, colors: list[str]) -> str:
    if token == BLANK_MARK:
        return BLANK_COLOR
    if token == DELIMITER_MARK:
        return DELIM_COLOR
    return colors[k] if k >= 0 else BLANK_COLOR


def collapse_figure(trace, *, highlight: int | None = None, height: int = 380,
                    window: tuple[float, float] | None = None) -> go.Figure:
    """The collapse stepper: one row per stage, every token a bar over the frames it came from.

    Colour identifies a character across stages (the frames it was read from, its merged run,
    the character itself). ``highlight``: index of a character (0-based over the drop-blanks
    stage) whose frames are shaded in every row. The naive-dedupe row outlines in red the letters
    it merged across a blank (the ``R_R`` -> ``R`` of ``ERROR`` -> ``EROR``)."""
    col = trace.meta["collapse"]
    fps = _fps(trace)
    owner, colors = _span_colors(trace)
    fig = go.Figure()
    ids = to_numpy(_need(trace, "ctc.frame_ids")).astype(int).tolist()
    rows = []
    toks = [symbol(trace, i) for i in ids]
    rows.append(("frames", [(t, t, t + 1, owner[t]) for t, _ in enumerate(ids)], toks))
    spans = col["spans"]
    for key, label in (("merged", "merge repeats"), ("no_blanks", "drop blanks")):
        items = [(k, s["start"], s["end"], owner[s["start"]]) for k, s in enumerate(spans[key])]
        rows.append((label, items, [s["token"] for s in spans[key]]))
    text_items = [(k, s["start"], s["end"], owner[s["start"]]) for k, s in enumerate(spans["no_blanks"])]
    rows.append(("| to space", text_items,
                 [" " if s["token"] == DELIMITER_MARK else s["token"] for s in spans["no_blanks"]]))
    naive_items = [(k, s["start"], s["end"], owner[s["start"]]) for k, s in enumerate(spans["naive"])]
    rows.append(("naive dedupe", naive_items, [s["token"] for s in spans["naive"]]))
    for label, items, syms in rows:
        xs, bases, cols, texts, lines, opac, hov = [], [], [], [], [], [], []
        for (k, a, b, own), sym in zip(items, syms):
            xs.append((b - a) / fps)
            bases.append(a / fps)
            cols.append(_color(sym, own, colors))
            texts.append("␣" if sym == " " else html.escape(sym))
            merged_across = label == "naive dedupe" and len({owner[f] for f in range(a, b) if owner[f] >= 0}) > 1
            lines.append("red" if merged_across else "white")
            on = highlight is None or (own == highlight)
            opac.append(1.0 if on or sym == BLANK_MARK else 0.35)
            hov.append(html.escape(f"{label}: {sym!r} frames {a}-{b - 1} ({a / fps:.2f}-{b / fps:.2f} s)"))
        fig.add_trace(go.Bar(x=xs, base=bases, y=[label] * len(xs), orientation="h",
                             marker=dict(color=cols, opacity=opac, line=dict(color=lines, width=1)),
                             hovertext=hov, hoverinfo="text", name=label, showlegend=False))
        fig.add_trace(go.Scatter(x=[b0 + w / 2 for b0, w in zip(bases, xs)], y=[label] * len(xs),
                                 mode="text", text=texts, textfont=dict(size=11, color="black"),
                                 hoverinfo="skip", showlegend=False))
    if highlight is not None:
        sp = spans["no_blanks"]
        if not 0 <= highlight < len(sp):
            raise LabError(f"character {highlight} does not exist (0..{len(sp) - 1})")
        fig.add_vrect(x0=sp[highlight]["start"] / fps, x1=sp[highlight]["end"] / fps,
                      fillcolor=HIGHLIGHT, line_width=0, layer="below")
    T = len(ids)
    if window is None:  # about 60 frames, around the highlighted character
        c = spans["no_blanks"][highlight]["start"] - 20 if highlight is not None else 0
        c = max(0, min(c, T - 60))
        window = (c / fps, min(T, c + 60) / fps)
    x0, x1 = window
    fig.update_layout(barmode="overlay", height=height, bargap=0.15,
                      margin=dict(l=110, r=20, t=50, b=40),
                      xaxis=dict(title="time (s)", range=[x0, x1]), dragmode="pan",
                      yaxis=dict(autorange="reversed", categoryorder="array",
                                 categoryarray=[r[0] for r in rows]),
                      title=dict(text=html.escape(f"greedy collapse: {trace.meta['text'][:80]!r}")
                                 + " <span style=\"font-size:11px\">(drag to move in time)</span>"))
    return fig


def token_strip_figure(trace, *, height: int = 230, window: tuple[float, float] | None = None) -> go.Figure:
    """The raw argmax token of every frame on the time axis, shaded by its probability."""
    fps = _fps(trace)
    ids = to_numpy(_need(trace, "ctc.frame_ids")).astype(int)
    probs = to_numpy(trace["ctc.topk_probs"])[:, 0] if "ctc.topk_probs" in trace else np.ones(len(ids))
    owner, colors = _span_colors(trace)
    syms = [symbol(trace, i) for i in ids]
    fig = go.Figure(go.Bar(x=[1 / fps] * len(ids), base=np.arange(len(ids)) / fps, y=["argmax"] * len(ids),
                           orientation="h",
                           marker=dict(color=[_color(s, owner[t], colors) for t, s in enumerate(syms)],
                                       opacity=np.clip(0.25 + 0.75 * probs, 0, 1).tolist()),
                           hovertext=[html.escape(f"frame {t} ({t / fps:.2f} s): {s!r} p={p:.2f}")
                                      for t, (s, p) in enumerate(zip(syms, probs))],
                           hoverinfo="text"))
    fig.add_trace(go.Scatter(x=np.arange(len(ids)) / fps + 0.5 / fps, y=["argmax"] * len(ids), mode="text",
                             text=[html.escape(s) for s in syms], textfont=dict(size=10),
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=np.arange(len(ids)) / fps + 0.5 / fps, y=probs, mode="lines",
                             yaxis="y2", line=dict(color="#333", width=1), name="p(argmax)"))
    x0, x1 = window if window else (0, min(len(ids), 80) / fps)
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=40, b=40), showlegend=False,
                      xaxis=dict(title="time (s)", range=[x0, x1], anchor="y2"), dragmode="pan",
                      yaxis=dict(domain=[0.45, 1.0]), yaxis2=dict(domain=[0, 0.35], range=[0, 1],
                                                                  title="p"),
                      uniformtext=dict(minsize=7, mode="hide"),
                      title=dict(text=html.escape(f"frame tokens ({fps:.4g} per second): "
                                                  f"{trace.meta['frame_tokens'][:70]}")))
    return fig


def words_figure(trace, *, words: list[dict] | None = None, highlight: int | None = None,
                 height: int = 280) -> go.Figure:
    """Waveform with word spans (shaded, labelled with the word and its score)."""
    sr = trace.time_bases["sample"]
    raw = to_numpy(_need(trace, "input.waveform"))
    words = trace.meta.get("words", []) if words is None else words
    fig = go.Figure(envelope_traces(raw, sr, color="#555", name="waveform"))
    peak = float(np.abs(raw).max() or 1.0)
    for k, w in enumerate(words):
        on = highlight is None or highlight == k
        fig.add_vrect(x0=w["start"], x1=w["end"], line_width=2 if highlight == k else 0,
                      line_color="orange", layer="below",
                      fillcolor=PALETTE[k % len(PALETTE)], opacity=0.25 if on else 0.08)
        sc = w.get("score")
        fig.add_annotation(x=(w["start"] + w["end"]) / 2, y=peak * 1.1, showarrow=False,
                           text=f"{html.escape(w['word'])}" + (f"<br>{sc:.2f}" if sc is not None else ""),
                           font=dict(size=11, color="black" if on else "#999"))
    fig.update_layout(height=height, margin=dict(l=50, r=20, t=40, b=40), xaxis_title="time (s)",
                      yaxis=dict(range=[-peak * 1.05, peak * 1.35], showticklabels=False),
                      title=dict(text=f"words ({trace.meta.get('words_from', 'greedy')})"))
    return fig


def attention_figure(trace, layer: int = 0, head: int | str = 0, *, height: int = 460) -> go.Figure:
    """Encoder self-attention of ``layer`` / ``head`` (``"mean"``: averaged over heads)."""
    name = f"encoder.layers.{layer}.attn.pattern"
    if name not in trace:
        kept = sorted(int(n.split(".")[2]) for n in trace.names("encoder.layers.*.attn.pattern"))
        raise LabError(f"attention of layer {layer} was not captured (kept layers: {kept or 'none'}; "
                       "long clips keep fewer layers -- see meta['policy'])")
    a = trace[name].float()
    z = to_numpy(a.mean(0) if head == "mean" else a[int(head)])
    pooled, fr, fc = pool_2d(z)
    fps = _fps(trace)
    fig = go.Figure(go.Heatmap(z=pooled, x=np.arange(pooled.shape[1]) * fc / fps,
                               y=np.arange(pooled.shape[0]) * fr / fps, colorscale="Blues",
                               hovertemplate="query %{y:.2f}s key %{x:.2f}s: %{z:.3f}<extra></extra>"))
    note = " (WavLM: torch averages its heads)" if trace.meta.get("heads_averaged") else ""
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=50, b=40),
                      xaxis_title="key time (s)", yaxis=dict(title="query time (s)", autorange="reversed"),
                      title=dict(text=f"layer {layer}, head {head}{note}"))
    return fig


def decoders_html(trace) -> str:
    """Greedy vs beam vs beam+LM: one row each; words that differ from greedy are marked."""
    dec = trace.meta.get("decoders")
    rows = [("greedy (argmax + collapse)", trace.meta["text"], None)]
    if dec:
        rows.append((f"beam search (width {dec['beam']['beam_size']})", dec["beam"]["text"],
                     dec["beam"].get("wer")))
        if "beam_lm" in dec:
            lm = dec["beam_lm"]["lm"]
            rows.append((f"beam + {lm['order']}-gram LM ({lm['n_words']} words)", dec["beam_lm"]["text"],
                         dec["beam_lm"].get("wer")))
    greedy = trace.meta["text"].split()
    out = ["<table style='border-collapse:collapse;font-family:monospace'>"]
    for label, text, wer in rows:
        words = text.split()
        cells = []
        for k, w in enumerate(words):
            changed = k >= len(greedy) or greedy[k] != w
            style = "background:#ffe08a;border-radius:3px;padding:0 2px" if changed and label != rows[0][0] else ""
            cells.append(f"<span style='{style}'>{html.escape(w)}</span>")
        w_txt = "" if wer is None else f" <small>WER {wer:.2f}</small>"
        out.append(f"<tr><td style='padding:4px 10px;color:#555'>{html.escape(label)}</td>"
                   f"<td style='padding:4px 10px'>{' '.join(cells) or '<i>(empty)</i>'}{w_txt}</td></tr>")
    if "wer" in trace.meta:
        out.append(f"<tr><td style='padding:4px 10px;color:#555'>reference</td><td style='padding:4px 10px'>"
                   f"{html.escape(trace.meta['reference'])} <small>(greedy WER "
                   f"{trace.meta['wer']['wer']:.2f}, CER {trace.meta['wer']['cer']:.2f})</small></td></tr>")
    out.append("</table>")
    return "".join(out)


def char_choices(trace) -> list[tuple[str, int]]:
    """(label, index) for every character of the drop-blanks stage, for a dropdown."""
    fps = _fps(trace)
    out = []
    for k, s in enumerate(trace.meta["collapse"]["spans"]["no_blanks"]):
        sym = "␣" if s["token"] == DELIMITER_MARK else s["token"]
        out.append((f"{k}: {sym}  ({s['start'] / fps:.2f}-{s['end'] / fps:.2f} s)", k))
    return out


def audio_slice(trace, start: float, end: float, *, pad: float = 0.0) -> tuple[int, np.ndarray]:
    """``(sample_rate, samples)`` of the clip between ``start`` and ``end`` seconds (+ pad)."""
    sr = int(trace.time_bases["sample"])
    x = to_numpy(_need(trace, "input.waveform"))
    a = max(0, int((start - pad) * sr))
    b = min(len(x), int(np.ceil((end + pad) * sr)))
    return sr, x[a:max(b, a + 1)]


def char_slice(trace, index: int, *, pad: float = 0.05) -> tuple[int, np.ndarray]:
    """Audio under character ``index``'s frames (padded so a 20 ms slice is audible)."""
    s = trace.meta["collapse"]["spans"]["no_blanks"][index]
    fps = _fps(trace)
    return audio_slice(trace, s["start"] / fps, s["end"] / fps, pad=pad)
