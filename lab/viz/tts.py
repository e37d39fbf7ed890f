"""Figures of a TTS trace (``lab.tts.trace_tts``): the spectrogram growing step by step, the stop
probability against its threshold, pre- vs post-net, the text-to-frame alignment.

Every function takes a Trace and returns a plotly figure (interactive; Gradio ``gr.Plot``,
notebooks) except :func:`overview_figure` (matplotlib, static export). Nothing here loads a model.
Times are in seconds from ``trace.time_bases``; mel bins are labelled with their centre
frequency (Slaney mel scale, as SpeechT5's feature extractor).
"""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import envelope_traces, pool_2d, to_numpy, token_label

MEL_SCALE = "Magma"
DELTA_SCALE = "RdBu_r"
THRESHOLD_COLOR = "#d62728"
STOP_COLOR = "#1f77b4"


# -- helpers -------------------------------------------------------------------------------
# token_label (``▁`` as ``␣``, ``</s>`` as ``⟨/s⟩``: plotly would read it as a tag) is
# lab.viz.common.token_label, imported above and still importable from here.
def mel_bin_hz(trace) -> np.ndarray:
    """Centre frequency (Hz) of each mel bin."""
    import librosa

    m = trace.meta.get("mel", {})
    n = int(trace.meta.get("num_mel_bins", m.get("n_mels", 80)))
    return librosa.mel_frequencies(n + 2, fmin=m.get("fmin", 80.0), fmax=m.get("fmax", 7600.0))[1:-1]


def _mel_yaxis(fig, trace, row=None, col=None):
    hz = mel_bin_hz(trace)
    idx = np.linspace(0, len(hz) - 1, 6).round().astype(int)
    kw = dict(row=row, col=col) if row else {}
    fig.update_yaxes(tickvals=idx.tolist(), ticktext=[f"{hz[i]:.0f}" for i in idx],
                     title_text="Hz (mel)", **kw)


def _frame_seconds(trace, n: int, factor: int = 1) -> np.ndarray:
    return np.arange(n) * factor / trace.time_bases["mel_frame"]


def _heat(trace, z_frames_bins: np.ndarray, **kw) -> go.Heatmap:
    """Heatmap of a (mel_frame, mel_bin) array with seconds on x (pooled when large)."""
    z, fr, _ = pool_2d(z_frames_bins, reduce=np.mean)
    return go.Heatmap(z=z.T, x=_frame_seconds(trace, z.shape[0], fr), y=np.arange(z.shape[1]),
                      hovertemplate="%{x:.3f} s, bin %{y}: %{z:.2f}<extra></extra>", **kw)


def _stop_step(trace) -> int | None:
    return trace.meta.get("stop_step")


# -- the spectrogram growing ---------------------------------------------------------------
def growth_figure(trace, max_frames: int = 60, mel: str = "tts.mel_pre_postnet",
                  animate: bool = True) -> go.Figure:
    """The pre-post-net spectrogram revealed step by step, with the stop probability under it.

    A slider (and with ``animate`` a play button: plotly animation frames) moves a curtain over
    the frames not written yet at that step, so the figure stays small (the spectrogram is sent
    once). Gradio's ``gr.Plot`` drops animation frames: apps pass ``animate=False`` and play
    through with their own control."""
    m = to_numpy(trace[mel])
    p = to_numpy(trace["tts.stop_prob"])
    r = int(trace.meta["reduction_factor"])
    fps = trace.time_bases["mel_frame"]
    n_steps = len(p)
    end = m.shape[0] / fps
    zmin, zmax = float(np.percentile(m, 1)), float(m.max())
    fig = make_subplots(rows=2, cols=1, shared_xaxes=False, row_heights=[0.68, 0.32],
                        vertical_spacing=0.2,
                        subplot_titles=("mel spectrogram as the decoder writes it (before the post-net)",
                                        "stop probability per step"))
    fig.add_trace(_heat(trace, m, colorscale=MEL_SCALE, zmin=zmin, zmax=zmax,
                        colorbar=dict(title="log10", len=0.65, y=0.68)), row=1, col=1)
    top, bot = -0.5, m.shape[1] - 0.5

    def curtain(s):
        t = (s + 1) * r / fps
        return dict(x=[t, end, end, t, t], y=[top, top, bot, bot, top])

    def cursor(s):
        t = (s + 1) * r / fps
        return dict(x=[t, t], y=[top, bot])

    last = n_steps - 1
    fig.add_trace(go.Scatter(**curtain(last), mode="lines", fill="toself",
                             fillcolor="rgba(245,245,245,0.96)",
                             line=dict(width=0), hoverinfo="skip", showlegend=False,
                             name="not yet written"), row=1, col=1)
    fig.add_trace(go.Scatter(**cursor(last), mode="lines", line=dict(color="#00d4ff", width=2),
                             hoverinfo="skip", showlegend=False, name="decoder step"), row=1, col=1)
    steps = np.arange(n_steps)
    fig.add_trace(go.Scatter(x=steps, y=p, mode="lines", line=dict(color=STOP_COLOR),
                             name="stop probability",
                             hovertemplate="step %{x}: %{y:.3f}<extra></extra>"), row=2, col=1)
    thr = float(trace.meta.get("threshold", 0.5))
    fig.add_trace(go.Scatter(x=[0, max(n_steps - 1, 1)], y=[thr, thr], mode="lines",
                             line=dict(color=THRESHOLD_COLOR, dash="dash"),
                             name=f"threshold {thr:g}"), row=2, col=1)
    fig.add_annotation(x=0, y=thr, text=f"threshold {thr:g}", showarrow=False, xanchor="left",
                       yanchor="bottom", font=dict(color=THRESHOLD_COLOR), row=2, col=1)
    fig.add_trace(go.Scatter(x=[last], y=[p[last]], mode="markers",
                             marker=dict(size=11, color="#00d4ff", line=dict(color="black", width=1)),
                             name="current step", showlegend=False), row=2, col=1)
    moving = [1, 2, len(fig.data) - 1]  # curtain, cursor (row 1), current-step marker (row 2)
    shown = np.unique(np.linspace(0, last, min(max_frames, n_steps)).round().astype(int))

    def moved(s):  # new x / y of the moving traces at step s
        c, k = curtain(s), cursor(s)
        return {"x": [c["x"], k["x"], [int(s)]], "y": [c["y"], k["y"], [float(p[s])]]}

    # the slider restyles the three moving traces: works everywhere, also where animation frames
    # are dropped (Gradio's gr.Plot passes data and layout only)
    sliders = [dict(active=len(shown) - 1, y=-0.08, x=0.08 if animate else 0.0,
                    len=0.92 if animate else 1.0, pad=dict(t=30),
                    currentvalue=dict(prefix="decoder step "),
                    steps=[dict(label=str(s), method="restyle", args=[moved(s), moving])
                           for s in shown])]
    menus = []
    if animate:  # play button: plotly animation frames (notebooks, saved HTML)
        axes = [(fig.data[i].xaxis, fig.data[i].yaxis) for i in moving]
        fig.frames = [go.Frame(name=str(s), traces=moving,
                               data=[go.Scatter(x=x, y=y, xaxis=a[0], yaxis=a[1])
                                     for x, y, a in zip(moved(s)["x"], moved(s)["y"], axes)])
                      for s in shown]
        # redraw=True: with redraw=False plotly.js hides the heatmap while the curtain moves
        anim = dict(frame=dict(duration=120, redraw=True), transition=dict(duration=0),
                    mode="immediate")
        menus = [dict(type="buttons", direction="left", x=0.0, y=1.16, showactive=False,
                      buttons=[dict(label="\u25b6 play", method="animate",
                                    args=[[str(s) for s in shown], dict(anim, fromcurrent=False)]),
                               dict(label="\u275a\u275a pause", method="animate",
                                    args=[[None], dict(anim, mode="immediate")])])]
    fig.update_layout(height=600, margin=dict(l=60, r=20, t=70, b=40), showlegend=False,
                      updatemenus=menus, sliders=sliders)
    fig.update_xaxes(title_text="seconds", range=[0, end], row=1, col=1)
    fig.update_xaxes(title_text="decoder step", range=[-0.5, max(n_steps - 0.5, 0.5)], row=2, col=1)
    fig.update_yaxes(range=[0, max(1.05, float(p.max()) * 1.1, thr * 1.1)], row=2, col=1)
    _mel_yaxis(fig, trace, row=1, col=1)
    return fig


def step_figure(trace, step: int | None = None, mel: str = "tts.mel_pre_postnet") -> go.Figure:
    """The spectrogram as it was after decoder step ``step`` (default: the last), the step's new
    ``reduction_factor`` frames outlined, and the step's cross-attention over the text (mean of
    layers and heads) beside it. For a slider-driven view (app, notebook)."""
    m = to_numpy(trace[mel])
    r = int(trace.meta["reduction_factor"])
    n_steps = m.shape[0] // r
    s = n_steps - 1 if step is None else int(np.clip(step, 0, n_steps - 1))
    fps = trace.time_bases["mel_frame"]
    shown = m.copy()
    shown[(s + 1) * r:] = np.nan
    has_x = "tts.cross_attn" in trace
    fig = make_subplots(rows=1, cols=2 if has_x else 1, column_widths=[0.75, 0.25] if has_x else None,
                        horizontal_spacing=0.15,
                        subplot_titles=(f"after step {s}: frames {s * r}-{s * r + r - 1}",
                                        "this step reads (cross-attention)") if has_x else None)
    zmin, zmax = float(np.nanpercentile(m, 1)), float(np.nanmax(m))
    fig.add_trace(_heat(trace, shown, colorscale=MEL_SCALE, zmin=zmin, zmax=zmax,
                        colorbar=dict(title="log10", x=0.645 if has_x else 1.02, thickness=12)),
                  row=1, col=1)
    t0, t1 = s * r / fps, (s + 1) * r / fps
    fig.add_shape(type="rect", x0=t0 - 0.5 / fps, x1=t1 - 0.5 / fps, y0=-0.5, y1=m.shape[1] - 0.5,
                  line=dict(color="#00d4ff", width=2), row=1, col=1)
    p = to_numpy(trace["tts.stop_prob"])
    title = (f"step {s} / {len(p) - 1}: t = {t0:.3f} s, stop probability {p[s]:.3f} "
             f"(threshold {trace.meta.get('threshold', 0.5):g})" if s < len(p) else f"step {s}")
    if has_x:
        a = to_numpy(trace["tts.cross_attn"][s]).mean(axis=(0, 1))
        labels = [f"{i}:{token_label(t)}" for i, t in enumerate(trace.tokens)]
        fig.add_trace(go.Bar(x=a, y=labels, orientation="h", marker_color="#00a0c0",
                             hovertemplate="%{y}: %{x:.3f}<extra></extra>", showlegend=False),
                      row=1, col=2)
        fig.update_yaxes(autorange="reversed", tickfont=dict(size=9), row=1, col=2)
        fig.update_xaxes(title_text="attention", row=1, col=2)
    fig.update_xaxes(title_text="seconds", range=[-0.5 / fps, m.shape[0] / fps], row=1, col=1)
    _mel_yaxis(fig, trace, row=1, col=1)
    fig.update_layout(title=title, height=380, margin=dict(l=60, r=20, t=70, b=40))
    return fig


# -- stop probability ----------------------------------------------------------------------
def stop_figure(trace) -> go.Figure:
    """Stop probability per step (summed over the step's frames, what the threshold is compared
    with), the threshold line, the minimum-length zone where stopping is not allowed, the maximum
    length, and the step where the loop stopped and why."""
    p = to_numpy(trace["tts.stop_prob"])
    n = len(p)
    steps = np.arange(n)
    thr = float(trace.meta.get("threshold", 0.5))
    step_s = 1.0 / trace.time_bases["step"]
    fig = go.Figure()
    minlen, maxlen = trace.meta.get("minlen", 0), trace.meta.get("maxlen")
    if minlen and minlen > 1:
        fig.add_vrect(x0=-0.5, x1=minlen - 1.5, fillcolor="#cccccc", opacity=0.35, line_width=0,
                      annotation_text="min length: no stop", annotation_position="top left")
    if "tts.stop_prob_frames" in trace and trace["tts.stop_prob_frames"].shape[1] > 1:
        pf = to_numpy(trace["tts.stop_prob_frames"])
        for j in range(pf.shape[1]):
            fig.add_trace(go.Scatter(x=steps, y=pf[:, j], mode="lines", line=dict(width=1, dash="dot"),
                                     opacity=0.6, name=f"frame {j} of the step",
                                     hovertemplate="step %{x}: %{y:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=steps, y=p, mode="lines+markers" if n <= 150 else "lines",
                             line=dict(color=STOP_COLOR, width=2), marker=dict(size=4),
                             name="stop probability (sum over the step's frames)",
                             customdata=steps * step_s,
                             hovertemplate="step %{x} (%{customdata:.2f} s): %{y:.3f}<extra></extra>"))
    fig.add_hline(y=thr, line=dict(color=THRESHOLD_COLOR, dash="dash"),
                  annotation_text=f"threshold {thr:g}", annotation_position="top right")
    if maxlen is not None and maxlen <= n + 5:
        fig.add_vline(x=maxlen - 1, line=dict(color="#888", dash="dot"),
                      annotation_text="max length", annotation_position="bottom left")
    s = _stop_step(trace)
    if s is not None and s < n:
        reason = trace.meta.get("stop_reason", "")
        fig.add_trace(go.Scatter(x=[s], y=[p[s]], mode="markers", name=f"stopped: {reason}",
                                 marker=dict(symbol="x", size=14, color=THRESHOLD_COLOR)))
        fig.add_annotation(x=s, y=p[s], text=f"stop at step {s} ({(s + 1) * step_s:.2f} s): {reason}",
                           showarrow=True, arrowhead=2, ax=-80, ay=-40)
    fig.update_layout(height=340, xaxis_title="decoder step", yaxis_title="stop probability",
                      yaxis_range=[0, max(1.05, float(p.max()) * 1.1, thr * 1.1)],
                      margin=dict(l=60, r=20, t=30, b=40), legend=dict(orientation="h", y=-0.25))
    return fig


# -- post-net ------------------------------------------------------------------------------
def postnet_figure(trace) -> go.Figure:
    """Pre-post-net, post-net and their difference (the post-net's residual correction)."""
    pre, post = to_numpy(trace["tts.mel_pre_postnet"]), to_numpy(trace["tts.mel_postnet"])
    delta = post - pre
    lim = float(np.abs(delta).max()) or 1.0
    zmin = float(min(np.percentile(pre, 1), np.percentile(post, 1)))
    zmax = float(max(pre.max(), post.max()))
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=("before the post-net (decoder output)",
                                        "after the post-net (what the vocoder gets)",
                                        "post-net correction (after - before)"))
    fig.add_trace(_heat(trace, pre, colorscale=MEL_SCALE, zmin=zmin, zmax=zmax,
                        colorbar=dict(title="log10", len=0.6, y=0.72)), row=1, col=1)
    fig.add_trace(_heat(trace, post, colorscale=MEL_SCALE, zmin=zmin, zmax=zmax, showscale=False),
                  row=2, col=1)
    fig.add_trace(_heat(trace, delta, colorscale=DELTA_SCALE, zmin=-lim, zmax=lim, zmid=0,
                        colorbar=dict(title="\u0394", len=0.3, y=0.14)), row=3, col=1)
    for row in (1, 2, 3):
        _mel_yaxis(fig, trace, row=row, col=1)
    fig.update_xaxes(title_text="seconds", row=3, col=1)
    fig.update_layout(height=720, margin=dict(l=60, r=20, t=40, b=40))
    return fig


# -- alignment -----------------------------------------------------------------------------
def alignment_figure(trace, layer: int | None = None, head: int | None = None) -> go.Figure:
    """Cross-attention of each decoder step over the text tokens (``layer``/``head`` ``None``:
    mean over them). A trained model draws a diagonal: it reads the text left to right."""
    from lab.tts.alignment import diagonality

    trace.require("tts.cross_attn")
    x = to_numpy(trace["tts.cross_attn"])  # (step, layer, head, text_token)
    sel = x
    if layer is not None:
        sel = sel[:, [layer]]
    if head is not None:
        sel = sel[:, :, [head]]
    a = sel.mean(axis=(1, 2))  # (step, text)
    score = diagonality(a)
    z, fs, _ = pool_2d(a)
    n_steps, n_text = a.shape
    labels = [f"{i}:{token_label(t)}" for i, t in enumerate(trace.tokens[:n_text])]
    # absolute scale from 0: an untrained model's near-uniform map must look uniform
    fig = go.Figure(go.Heatmap(z=z.T, x=np.arange(z.shape[0]) * fs, y=labels, colorscale="Viridis",
                               zmin=0.0, zmax=float(a.max()), colorbar=dict(title="attn"),
                               hovertemplate="step %{x}, token %{y}: %{z:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, n_steps - 1], y=[labels[0], labels[-1]], mode="lines",
                             line=dict(color="white", dash="dot", width=1),
                             name="ideal diagonal", hoverinfo="skip"))
    which = ("mean of all layers and heads" if layer is None and head is None else
             f"layer {'all' if layer is None else layer}, head {'all' if head is None else head}")
    fig.update_layout(title=f"text-to-frame alignment ({which}); diagonality {score:.2f} "
                            "(1 = perfect diagonal, ~0.42 = uniform)",
                      xaxis_title="decoder step", yaxis_title="text token",
                      yaxis=dict(autorange="reversed", tickfont=dict(size=9)),
                      height=max(320, 14 * n_text + 120), margin=dict(l=70, r=20, t=50, b=40),
                      showlegend=False)
    return fig


def diagonality_figure(trace) -> go.Figure:
    """Diagonality score of every (layer, head) cross-attention map."""
    d = trace.meta.get("diagonality")
    if not d:
        from lab.errors import LabError

        raise LabError("this trace has no cross-attention (diagonality) to show")
    z = np.asarray(d["per_head"])
    fig = go.Figure(go.Heatmap(z=z, x=[f"head {h}" for h in range(z.shape[1])],
                               y=[f"layer {i}" for i in range(z.shape[0])], colorscale="Viridis",
                               zmin=0.4, zmax=1.0, text=np.round(z, 2), texttemplate="%{text}",
                               hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title="which heads align text to speech (diagonality per head)",
                      height=140 + 40 * z.shape[0], margin=dict(l=70, r=20, t=50, b=40))
    return fig


def encoder_attention_figure(trace, layer: int = 0, head: int | None = None) -> go.Figure:
    """Text encoder self-attention of one layer (``head`` None: mean over heads), chars on both axes."""
    a = to_numpy(trace[f"encoder.layers.{layer}.attn.pattern"])
    a = a.mean(axis=0) if head is None else a[head]
    labels = [f"{i}:{token_label(t)}" for i, t in enumerate(trace.tokens[:a.shape[0]])]
    fig = go.Figure(go.Heatmap(z=a, x=labels, y=labels, colorscale="Viridis", zmin=0.0,
                               hovertemplate="%{y} -> %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title=f"text encoder self-attention, layer {layer}, "
                            f"{'mean of heads' if head is None else f'head {head}'}",
                      yaxis=dict(autorange="reversed", tickfont=dict(size=9)),
                      xaxis=dict(tickfont=dict(size=9)), height=max(360, 12 * len(labels) + 120),
                      margin=dict(l=70, r=20, t=50, b=60))
    return fig


def waveform_figure(trace, name: str = "tts.waveform", max_points: int = 4000) -> go.Figure:
    """Min/max envelope of a waveform over seconds."""
    fig = go.Figure(envelope_traces(trace[name], trace.time_bases["sample"], max_points=max_points,
                                    width=0.5))
    fig.update_layout(title=f"{name} ({trace.meta.get('vocoder', '') if name == 'tts.waveform' else 'griffin-lim'})",
                      xaxis_title="seconds", height=220, margin=dict(l=60, r=20, t=40, b=40))
    return fig


# -- text ----------------------------------------------------------------------------------
def tokens_html(trace) -> str:
    """The tokens as chips with their ids (what the encoder reads): characters, or for a model
    with a phone front end one ARPAbet phone per chip."""
    ids = trace["input.token_ids"].tolist() if "input.token_ids" in trace else [None] * len(trace.tokens)
    front = trace.meta.get("text_frontend")
    head = (f"<div style='color:#555'>This model reads <b>phones</b>, not letters: "
            f"{html.escape(front)}; each chip is one phone (<code>pau</code> = a pause).</div>"
            if front else "")
    chips = "".join(
        f"<span style='display:inline-block;margin:2px;padding:2px 5px;border:1px solid #bbb;"
        f"border-radius:4px;font-family:monospace'>{html.escape(token_label(t))}"
        f"<sub style='color:#888'>{i}</sub></span>" for t, i in zip(trace.tokens, ids))
    notes = "".join(f"<div style='color:#b35c00'>{html.escape(p)}</div>"
                    for p in trace.meta.get("text_problems", []))
    return f"{head}<div>{chips}</div>{notes}"


def steps_rows(trace) -> list[list]:
    """One row per decoder step: step, seconds, stop probability, decision, most-attended token."""
    return [[s["index"], round(s["start_s"], 3), round(s["stop_prob"], 4), s["decision"],
             token_label(s["attn_peak_token"]) if s.get("attn_peak_token") else ""]
            for s in trace.steps]


def summary_markdown(trace) -> str:
    m = trace.meta
    lines = [f"**{m.get('n_steps', 0)} decoder steps -> {m.get('n_frames', 0)} mel frames "
             f"({m.get('n_frames', 0) / trace.time_bases['mel_frame']:.2f} s)**; "
             f"stopped at step {m.get('stop_step')} by **{m.get('stop_reason')}** "
             f"(threshold {m.get('threshold')}, min {m.get('minlen')} / max {m.get('maxlen')} steps)",
             f"model `{trace.model_id}` ({trace.weights_source}); speaker: {m.get('speaker')}; "
             f"prenet dropout {m.get('prenet_dropout')} seeded with {m.get('seed')}",
             f"vocoder: {m.get('vocoder')} ({m.get('vocoder_source', '')})"]
    if m.get("vocoder_note"):
        lines.append(f"note: {m['vocoder_note']}")
    if m.get("diagonality"):
        d = m["diagonality"]
        lines.append(f"alignment diagonality: best head L{d['best_layer_head'][0]}H"
                     f"{d['best_layer_head'][1]} {d['best']:.2f}, mean {d['mean']:.2f}")
    return "\n\n".join(lines)


# -- static overview (matplotlib) ----------------------------------------------------------
def overview_figure(trace, step: int | None = None):
    """A static matplotlib summary: spectrogram before / after the post-net and their difference,
    the stop probability with threshold and stop step, and the alignment. ``step``: draw the
    spectrogram as it was after that step (the growing view) instead of complete. A
    ``matplotlib.figure.Figure`` made without pyplot: no backend is switched (a notebook keeps
    its own) and nothing stays open; save it with ``fig.savefig``, or let a notebook show it."""
    from matplotlib.figure import Figure

    pre, post = to_numpy(trace["tts.mel_pre_postnet"]), to_numpy(trace["tts.mel_postnet"])
    r = int(trace.meta["reduction_factor"])
    fps = trace.time_bases["mel_frame"]
    if step is not None:
        pre = pre.copy()
        pre[(step + 1) * r:] = np.nan
    end = post.shape[0] / fps
    fig = Figure(figsize=(10, 13), layout="constrained")
    axes = fig.subplots(5, 1)
    vmin, vmax = np.nanpercentile(post, 1), np.nanmax(post)
    ext = [0, end, 0, post.shape[1]]
    for ax, z, title in ((axes[0], pre, "before the post-net" + (f" (after step {step})" if step is not None else "")),
                         (axes[1], post, "after the post-net")):
        im = ax.imshow(z.T, origin="lower", aspect="auto", extent=ext, cmap="magma", vmin=vmin, vmax=vmax)
        ax.set_title(title)
        ax.set_ylabel("mel bin")
        fig.colorbar(im, ax=ax, label="log10")
    delta = to_numpy(trace["tts.mel_postnet"]) - to_numpy(trace["tts.mel_pre_postnet"])
    lim = float(np.abs(delta).max()) or 1.0
    im = axes[2].imshow(delta.T, origin="lower", aspect="auto", extent=ext, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title("post-net correction (after - before)")
    axes[2].set_ylabel("mel bin")
    axes[2].set_xlabel("seconds")
    fig.colorbar(im, ax=axes[2], label="\u0394")
    p = to_numpy(trace["tts.stop_prob"])
    thr = trace.meta.get("threshold", 0.5)
    axes[3].plot(p, color=STOP_COLOR, label="stop probability")
    axes[3].axhline(thr, color=THRESHOLD_COLOR, ls="--", label=f"threshold {thr:g}")
    s = _stop_step(trace)
    if s is not None:
        axes[3].plot([s], [p[s]], "x", color=THRESHOLD_COLOR, ms=12,
                     label=f"stop at step {s}: {trace.meta.get('stop_reason')}")
    if trace.meta.get("minlen", 0) > 1:
        axes[3].axvspan(-0.5, trace.meta["minlen"] - 1.5, color="#ccc", alpha=0.5, label="min length")
    axes[3].set_xlabel("decoder step")
    axes[3].set_ylim(0, max(1.05, float(p.max()) * 1.1, thr * 1.1))
    axes[3].legend(loc="upper left", fontsize=8)
    axes[3].set_title("stop probability")
    if "tts.cross_attn" in trace:
        a = to_numpy(trace["tts.cross_attn"]).mean(axis=(1, 2))
        axes[4].imshow(a.T, origin="upper", aspect="auto", cmap="viridis", interpolation="nearest",
                       vmin=0.0)
        axes[4].plot([0, a.shape[0] - 1], [0, a.shape[1] - 1], "w:", lw=1)
        labels = [token_label(t) for t in trace.tokens[:a.shape[1]]]
        every = max(1, len(labels) // 40)
        axes[4].set_yticks(range(0, len(labels), every), labels[::every], fontsize=7)
        axes[4].set_xlabel("decoder step")
        d = trace.meta.get("diagonality", {})
        axes[4].set_title(f"text-to-frame alignment (mean of layers/heads); diagonality "
                          f"{d.get('mean', float('nan')):.2f}")
    fig.suptitle(f"{trace.model_id}: \"{trace.meta.get('spoken_text', '')[:70]}\"", fontsize=10)
    return fig
