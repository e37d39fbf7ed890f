"""The Classify tab: what an audio classifier looks at.

AST: the filterbank cut into overlapping 16 x 16 patches, a patch picker (sliders) showing that
patch's pixels and its attention, CLS attention and rollout over the spectrogram, top-k labels.
wav2vec2 / HuBERT sequence classifiers: each frame's share of the logit. Frame classifiers: labels
as a timeline under the waveform. Plus one encoder with its three heads (CTC, sequence, frame).

Handlers (``api_name`` for gradio_client): ``/classify`` (run), ``/patch`` (patch picker),
``/overlay`` (attention / rollout over the spectrogram), ``/contribution`` (sequence models).
The Trace stays on the server in ``gr.State``; only figures go to the browser.
"""
from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path

import gradio as gr

from apps import common, factory, trace_io, what_if_panel
from lab import models
from lab.classify import three_heads, trace_classify
from lab.errors import LabError
from lab.trace import CapturePolicy
from lab.viz import classify as cv

TITLE = "Classify"
FAMILY = "classify"
CLIPS = common.CLIPS

# the app keeps what its views need: no per-head attention patterns (the AST rollout, the CLS
# attention and the head-averaged maps are computed during the run and kept)
APP_POLICY = CapturePolicy(names=["input.*", "ast.*", "cls.*", "frames.*", "encoder.hidden"])

DEMO = {"demo: tiny random AST": "ast", "demo: tiny random wav2vec2 (sequence)": "wav2vec2-seq",
        "demo: tiny random wav2vec2 (frame)": "wav2vec2-frame"}

ABOUT = """### What does a classifier look at?
**AST** turns the clip into a log-mel filterbank (100 frames/s; 128 bands for the AudioSet ASTs,
64 for the zoo's tiny-ast-sounds), cuts it into **overlapping 16 x 16 patches** (stride 10 in the
original: each patch shares 6 rows/columns with its neighbours; tiny-ast-sounds strides 8 in
frequency), and lets a transformer read the patches plus a CLS token. Pick a patch with the sliders to see its pixels
and where it looks. **wav2vec2 / HuBERT** classifiers average their frames into one vector: the
contribution plot splits the winning logit exactly over the frames. **Frame classifiers** label
every 20 ms. {shipped} The *demo* models have **random weights** (real shapes and mechanics,
meaningless labels)."""


def shipped_text() -> str:
    """One sentence naming the trained classifiers that ship offline (read from the zoo)."""
    parts = []
    for i in common.offline_ids(FAMILY):
        try:
            config = json.loads((Path(models.locate(i)[0]) / "config.json").read_text())
        except (OSError, ValueError, LabError):
            config = {}
        id2label = config.get("id2label") or {}
        bits = [(config.get("architectures") or [""])[0]] + (
            [f"labels: {', '.join(map(str, id2label.values()))}"] if id2label else [])
        bits = [b for b in bits if b]
        parts.append(f"**{i}**" + (f" ({'; '.join(bits)})" if bits else ""))
    if not parts:
        return "No trained classifier ships offline here."
    return ("Trained weights ship offline for " + ", ".join(parts) +
            (", the default model." if len(parts) == 1 else "; the first is the default."))


def about_text() -> str:
    return ABOUT.format(shipped=shipped_text())


def model_choices() -> list[str]:
    return common.model_choices(FAMILY, extra=DEMO)


def default_model() -> str:
    return common.default_model(FAMILY, next(iter(DEMO)))


def _demo_dir(kind: str) -> str:
    """Build (once) the demo model's directory in the lab cache."""
    from lab.classify.tiny import make_tiny

    d = models.cache_dir() / "classify-demo" / kind
    if not (d / "config.json").is_file():
        make_tiny(kind, d, **({"max_length": 1024} if kind == "ast" else {}))
    return str(d)


def _load(model_id: str):
    if not model_id:
        raise LabError("pick a model")
    if model_id in DEMO:
        loaded = factory.get(_demo_dir(DEMO[model_id]), FAMILY, server_path=True)
        return dataclasses.replace(loaded, model_id=model_id,
                                   weights_source=f"random weights (demo), {loaded.weights_source}")
    return factory.get(model_id, FAMILY)


def _status(trace) -> str:
    m = trace.meta
    random = "random" in trace.weights_source or trace.model_id in DEMO
    parts = [f"✅ **{m['architecture']}** · `{html.escape(trace.model_id)}` "
             f"({html.escape(trace.weights_source)})",
             f"probabilities: **{m['activation']}** ({html.escape(m['activation_rule'])})"]
    if m["kind"] == "ast":
        F, T = m["patch_grid"]
        parts.append(f"patch grid **{F} x {T} = {m['n_patches']}** patches; audio fills "
                     f"{m['n_content_time_patches']} of {T} patch columns")
    else:
        parts.append(f"{m['n_frames']} encoder frames ({m['n_content_frames']} hold audio)")
    if trace.model_id in DEMO or random:
        parts.append("⚠️ **random weights**: the labels mean nothing, the mechanics are real")
    parts += [f"note: {html.escape(n)}" for n in m.get("notes", [])]
    return "<br>".join(parts)


# the config fields lab.classify.heads.head_row reads: kept in the trace (meta["encoder_config"])
# so a saved trace draws the three-heads table without its model
HEAD_FIELDS = ("model_type", "conv_kernel", "conv_stride", "hidden_size", "num_hidden_layers",
               "use_weighted_layer_sum", "add_adapter", "output_hidden_size", "vocab_size",
               "pad_token_id", "ctc_loss_reduction", "ctc_zero_infinity", "classifier_proj_size",
               "num_labels")


def encoder_config(loaded) -> dict | None:
    """The fields of a wav2vec2-style config the three-heads table reads (None for AST)."""
    cfg = loaded.model.config
    if not hasattr(cfg, "conv_stride"):
        return None
    return {k: getattr(cfg, k) for k in HEAD_FIELDS if hasattr(cfg, k)}


def _heads_md(trace) -> str:
    import types

    n_samples = len(trace["input.waveform"])
    fields = trace.meta.get("encoder_config")
    cfg = types.SimpleNamespace(**fields) if fields else None
    if cfg is None and trace.meta.get("kind") != "ast":
        return ("The three-heads table reads the model's config; this trace does not hold it "
                "(`meta['encoder_config']`, recorded by the app's runs).")
    if cfg is None:
        from lab.classify.tiny import tiny_config

        cfg = tiny_config("wav2vec2-seq")
        note = ("AST has one head (mean of CLS and distillation -> LayerNorm -> Linear). Below: the "
                "three heads a wav2vec2-style encoder can wear (the demo's tiny config).\n\n")
    else:
        note = "The encoder of this model with each of its three possible heads:\n\n"
    return note + cv.heads_markdown(three_heads(cfg, n_samples=max(n_samples, 400)))


OUTPUTS = common.Outputs("status", "topk_plot", "ast_group", "grid_plot", "overlay_plot",
                         "patch_f", "patch_t", "layer", "head", "pixels_plot", "patch_attn_plot",
                         "seq_group", "label", "contrib_plot", "pool_plot", "frames_group",
                         "timeline_plot", "heads_md", "describe", "trace")
PATCH_VIEWS = common.Outputs("grid_plot", "pixels_plot", "patch_attn_plot")


@common.guarded(OUTPUTS, box="status")
def classify(audio, model_id, top_k):
    """Run the classifier; fill the views of its kind (AST / sequence / frames)."""
    common.require_audio(audio)
    loaded = _load(model_id)
    trace = trace_classify(audio, loaded, top_k=int(top_k), policy=APP_POLICY)
    config = encoder_config(loaded)
    if config:
        trace.meta["encoder_config"] = config
    return _views(trace, int(top_k))


def what_if_args(loaded, trace, audio, top_k):
    """(clip, trace kwargs) of a what-if on the tab's inputs, as /classify traces."""
    common.require_audio(audio)
    return audio, dict(top_k=int(top_k), policy=APP_POLICY)


def loaded_views(traces) -> list:
    """Every output for a saved trace (``apps/trace_io.py``), as after a run."""
    trace = traces[0]
    return _views(trace, len(trace.meta.get("top_k") or []) or 5)


def _views(trace, top_k: int) -> list:
    kind = trace.meta["kind"]
    out = dict(status=_status(trace), topk_plot=cv.top_k_figure(trace, top_k),
               ast_group=gr.update(visible=kind == "ast"),
               seq_group=gr.update(visible=kind == "sequence"),
               frames_group=gr.update(visible=kind == "frames"),
               heads_md=_heads_md(trace), describe=trace.describe(), trace=trace)
    if kind == "ast":
        F, T = trace.meta["patch_grid"]
        f, t = F // 2, min(T - 1, trace.meta["n_content_time_patches"] // 2)
        L, H = trace["ast.cls_attention"].shape[:2]
        out.update(_patch_views(trace, f, t),
                   overlay_plot=cv.spectrogram_figure(trace, overlay="rollout", grid=False),
                   patch_f=gr.update(maximum=F - 1, value=f),
                   patch_t=gr.update(maximum=T - 1, value=t),
                   layer=gr.update(maximum=max(L - 1, 1), value=L - 1),
                   head=gr.update(maximum=max(H - 1, 1), value=0))
    elif kind == "sequence":
        best = trace.meta["top_k"][0]["label"]
        out.update(label=gr.update(choices=trace.meta["labels"], value=best),
                   contrib_plot=cv.contribution_figure(trace, best),
                   pool_plot=cv.pooling_figure(trace))
    else:
        out.update(timeline_plot=cv.frame_timeline_figure(trace))
    return OUTPUTS.values(**out)


def _patch_views(trace, f: int, t: int, layer: int | None = None) -> dict:
    """The patch picker's views (``PATCH_VIEWS``): the grid with patch (f, t) outlined, its
    pixels, its attention (``layer``: None = the last)."""
    return dict(grid_plot=cv.spectrogram_figure(trace, patch=(f, t)),
                pixels_plot=cv.patch_figure(trace, f, t),
                patch_attn_plot=cv.patch_attention_figure(trace, f, t, layer=layer))


@common.guarded(PATCH_VIEWS)
def show_patch(trace, f, t, layer):
    """The patch picker: the grid with that patch outlined, its pixels, its attention."""
    if trace is None or trace.meta.get("kind") != "ast":
        return PATCH_VIEWS.skip()
    return PATCH_VIEWS.values(**_patch_views(trace, int(f), int(t), int(layer)))


@common.guarded()
def show_overlay(trace, which, layer, head):
    """Rollout, or the CLS attention of one layer (head mean or one head), over the spectrogram."""
    if trace is None or trace.meta.get("kind") != "ast":
        return gr.skip()
    if which == "rollout":
        return cv.spectrogram_figure(trace, overlay="rollout", grid=False)
    h = None if which == "CLS attention (head mean)" else int(head)
    return cv.spectrogram_figure(trace, overlay="cls", layer=int(layer), head=h, grid=False)


@common.guarded()
def show_contribution(trace, label):
    if trace is None or trace.meta.get("kind") != "sequence" or not label:
        return gr.skip()
    return cv.contribution_figure(trace, label)


def build() -> None:
    gr.Markdown(about_text())
    trace = common.trace_state()
    with gr.Row():
        with gr.Column(scale=2):
            audio = common.audio_input(
                "Audio (the AudioSet AST reads up to 10.24 s, tiny-ast-sounds 5 s)",
                elem_id="classify-audio")
        with gr.Column(scale=1):
            model_id = gr.Dropdown(model_choices(), value=default_model(), label="Model",
                                   allow_custom_value=True,
                                   info="a zoo id, a local HF model directory, a cached hub id, "
                                        "or a demo (random weights)")
            top_k = gr.Slider(1, 20, value=5, step=1, label="Top-k labels")
            run = gr.Button("Run", variant="primary", elem_id="classify-run")
    clips = sorted(p for p in CLIPS.glob("*.wav"))
    if clips:
        gr.Examples([[str(p)] for p in clips], inputs=[audio], label="Example clips (espeak-ng)")
    scenes = sorted((CLIPS / "scenes").glob("*.wav"))
    if scenes:
        gr.Examples([[str(p)] for p in scenes], inputs=[audio],
                    label="Sound scenes (synthetic mixtures: speech + siren; chord + clicks + noise)")
    status = common.status_box("Pick a clip and press **Run**.", elem_id="classify-status")
    topk_plot = trace_io.Plot(label="Top labels", elem_id="classify-topk")
    with gr.Column(visible=True) as ast_group:
        grid_plot = trace_io.Plot(label="Filterbank and its overlapping patch grid",
                            elem_id="classify-grid")
        with gr.Row():
            patch_f = gr.Slider(0, 11, value=6, step=1, label="Patch row (frequency)")
            patch_t = gr.Slider(0, 100, value=0, step=1, label="Patch column (time)")
            layer = gr.Slider(0, 11, value=11, step=1, label="Layer")
        with gr.Row():
            pixels_plot = trace_io.Plot(label="The patch as 16 x 16 pixels", elem_id="classify-pixels")
            patch_attn_plot = trace_io.Plot(label="Its attention", elem_id="classify-patch-attn")
        with gr.Row():
            which = gr.Radio(["rollout", "CLS attention (head mean)", "CLS attention (one head)"],
                             value="rollout", label="Over the spectrogram")
            head = gr.Slider(0, 11, value=0, step=1, label="Head")
        overlay_plot = trace_io.Plot(label="Attention over the spectrogram", elem_id="classify-overlay")
    with gr.Column(visible=False) as seq_group:
        label = gr.Dropdown([], label="Label whose logit is split over the frames")
        contrib_plot = trace_io.Plot(label="Each frame's contribution", elem_id="classify-contrib")
        pool_plot = trace_io.Plot(label="Projector output and its masked mean", elem_id="classify-pool")
    with gr.Column(visible=False) as frames_group:
        timeline_plot = trace_io.Plot(label="Frame labels under the waveform", elem_id="classify-timeline")
    with gr.Accordion("One encoder, three heads", open=False):
        heads_md = gr.Markdown()
    with gr.Accordion("Trace contents (describe())", open=False):
        describe = gr.Code(label="trace.describe()", language=None)

    ui = locals()
    ran = run.click(classify, [audio, model_id, top_k], OUTPUTS.components(ui), api_name="classify")
    gr.on([patch_f.release, patch_t.release, layer.release], show_patch,
          [trace, patch_f, patch_t, layer], PATCH_VIEWS.components(ui), api_name="patch")
    gr.on([which.change, layer.release, head.release], show_overlay,
          [trace, which, layer, head], overlay_plot, api_name="overlay")
    label.change(show_contribution, [trace, label], contrib_plot, api_name="contribution")
    trace_io.panel(FAMILY, trace, OUTPUTS.components(ui), loaded_views, names=OUTPUTS)
    what_if_panel.build(FAMILY, state=trace, model=model_id, load=_load, args=what_if_args,
                        inputs=[audio, top_k], run_event=ran)
