"""The Whisper tab: a decode debugger. Give it audio, watch it decode token by token, then move
the step slider: the cross-attention over the log-mel, the top-k bars, the highlighted token and
the cursor on the word timeline all follow.

Multilingual checkpoints (whisper-base): a language picker (``detect`` = the language step, or
force one) and a task (transcribe / translate to English); the prompt is shown as token chips and
the language step as a top-10 bar chart. English-only checkpoints (``*.en``) have no language step.

Handlers (``api_name`` for gradio_client): ``/transcribe`` (streams: yields after the encoder
and after each decoder step), ``/step`` (the linked step views), ``/encoder_attention``,
``/language_controls`` (the picker's state for a model id).
The Trace stays on the server in ``gr.State``; only figures go to the browser.
"""
from __future__ import annotations

import html
import time

import gradio as gr

from apps import common, factory, trace_io
from apps import whisper_long_panel as long_panel
from apps import what_if_panel
from lab import models
from lab.audio import load_audio
from lab.errors import LabError
from lab.viz import whisper as wv
from lab.viz import whisper_language as lgv
from lab.viz import whisper_segments as sv
from lab.whisper import language as wl
from lab.whisper.constants import WINDOW_SECONDS

TITLE = "Whisper"
FAMILY = "whisper"
PLOT_EVERY_S = 0.3  # while streaming, redraw the step figure at most this often
WORDS_WINDOW_S = 10.0  # the word timeline shows this many seconds around the selected step

ABOUT = """### Whisper decode debugger
Whisper turns 30 s of audio into an **80 x 3000 log-mel** (shorter clips are padded with
silence), an **encoder** reads it into 1500 frames (20 ms each), and a **decoder** writes the text
one token at a time, looking at the audio through **cross-attention**. Press **Run** and watch the
tokens arrive; then move the **step** slider: every view below jumps to that token."""


def model_choices() -> list[tuple[str, str]]:
    """(label, id) for every known Whisper id; the label says when it is not available here."""
    return common.model_choices(FAMILY, labelled=True)


def _status(trace, done: bool, beam: int = 1) -> str:
    m = trace.meta
    if not done:
        n = len(trace.steps)
        then = f" (then a beam search of size {beam})" if beam > 1 else ""
        return f"**Decoding** … step {n}{then}" if n else f"**Encoder done**, decoding …{then}"
    t = m.get("timings", {})
    words = f", {len(m.get('words') or [])} words" if m.get("words") else ""
    return (f"**Done**: {len(trace.steps)} steps, stop: **{m.get('stop_reason', '?')}**{words} · "
            f"{m.get('content_seconds', 0):.2f} s of audio · model `{trace.model_id}` "
            f"({html.escape(trace.weights_source)}) · encoder {t.get('encoder_s', 0):.2f} s, "
            f"decode {t.get('decode_s', 0):.2f} s"
            + (f"\n\n**Beam search** (size {m['beam'].get('beam_size')}) best: "
               f"{html.escape(m['beam'].get('best_text', '').strip())!r}" if m.get("beam") else ""))


def _shape(trace) -> dict:
    """Layer/head counts of the traced model (meta["model"], else read off the captures)."""
    m = dict(trace.meta.get("model") or {})
    if "encoder_layers" not in m:
        enc = trace.names("encoder.layers.*.attn.pattern")
        m["encoder_layers"] = len(enc)
        m["encoder_heads"] = trace[enc[0]].shape[0] if enc else 1
    if "decoder_layers" not in m and "decoder.step.0.cross_attn.pattern" in trace:
        m["decoder_layers"] = trace["decoder.step.0.cross_attn.pattern"].shape[0]
    return m


def _partial_text(trace) -> str:
    return "".join(s["token"] for s in trace.steps if not s["token"].startswith("<|"))


OUTPUTS = common.Outputs("status", "text", "transcript", "step", "step_plot", "words_plot",
                         "mel_plot", "enc_plot", "map_plot", "beam_plot", "wer", "describe",
                         "heads", "layer", "head", "trace", "seg_plot", "prompt_html", "lang_plot")
LANGUAGE_CONTROLS = common.Outputs("language", "task", "lang_note")


def english_only_id(model_id: str | None) -> bool:
    """Whether a model id names an English-only checkpoint (``*.en``), without loading it; the
    handlers check the loaded model itself."""
    return str(model_id or models.DEFAULTS[FAMILY]).rstrip("/").lower().endswith(".en")


def _language_views(trace) -> dict:
    """The prompt chips and the language-step chart (hidden on English-only traces)."""
    multi = trace.meta.get("language_source") is not None or "decoder.language_probs" in trace
    return dict(prompt_html=lgv.prompt_html(trace),
                lang_plot=gr.update(value=lgv.language_figure(trace), visible=True) if multi
                else gr.update(value=None, visible=False))
STEP_VIEWS = common.Outputs("step_plot", "transcript", "words_plot", "map_plot")


def _views(trace, step: int, heads: str, *, done: bool, step_plot: bool = True,
           beam: int = 1, notes: list[str] = (), inputs: bool = False) -> list:
    """Every output of /transcribe for a growing trace: the input views after the encoder (and
    with ``inputs``: a loaded trace), the step views while decoding, everything once done; the
    rest unchanged."""
    n, encoder_only = len(trace.steps), not trace.steps
    out = dict(status=_status(trace, done, beam) + "".join(f"\n\n*Note: {html.escape(n)}*"
                                                            for n in notes), trace=trace)
    if encoder_only or inputs:
        shape = _shape(trace)
        out.update(mel_plot=wv.log_mel_figure(trace),
                   enc_plot=wv.encoder_attention_figure(trace, 0, 0),
                   layer=gr.update(maximum=max(shape.get("encoder_layers", 1) - 1, 1), value=0),
                   head=gr.update(maximum=max(shape.get("encoder_heads", 1) - 1, 1), value=0),
                   heads=gr.update(choices=["alignment", "all"] + [
                       f"layer:{i}" for i in range(shape.get("decoder_layers", 0))], value=heads))
    if encoder_only:
        return OUTPUTS.values(**out)
    if n == 1 or done or inputs:  # the prompt and the language step are known from step 0 on
        out.update(_language_views(trace))
    out.update(text=trace.meta["text"] if done else _partial_text(trace),
               step=gr.update(maximum=max(n - 1, 1), value=step, interactive=done))
    if not done:
        out["transcript"] = wv.transcript_html(trace, step)
        if step_plot:
            out["step_plot"] = wv.step_figure(trace, step, heads=heads)
        return OUTPUTS.values(**out)
    meta = trace.meta
    out.update(_step_views(trace, step, heads),
               beam_plot=gr.update(value=wv.beam_tree_figure(trace), visible=True)
               if meta.get("beam") else gr.update(value=None, visible=False),
               wer=wv.wer_html(meta["wer"]) if meta.get("wer") else "",
               seg_plot=gr.update(value=sv.segments_figure(trace), visible=True)
               if meta.get("segments") else gr.update(value=None, visible=False),
               describe=trace.describe())
    return OUTPUTS.values(**out)


def _step_views(trace, step: int, heads: str) -> dict:
    """The views linked to one decoder step, by output name (``STEP_VIEWS``)."""
    t, start, end = wv.step_time(trace, step, heads)
    return dict(step_plot=wv.step_figure(trace, step, heads=heads),
                transcript=wv.transcript_html(trace, step),
                words_plot=wv.word_timeline_figure(trace, cursor=t, highlight=(start, end),
                                                   window=WORDS_WINDOW_S),
                map_plot=wv.cross_attention_map_figure(trace, heads=heads, step=step))


@common.guarded(OUTPUTS, box="status")
def transcribe(audio, model_id, reference, beam_size, top_k, heads, timestamps=False,
               language=wl.DETECT, task="transcribe"):
    """Stream a decode: yield after the encoder and after each step (step plot throttled).
    ``language``: ``detect`` (the language step) or a code; ``task``: transcribe | translate
    (both ignored, with a note, on English-only models). Audio over 30 s: only a note here;
    ``/long_form`` (``apps/whisper_long_panel.py``) runs next."""
    common.require_audio(audio)
    from lab.whisper import iter_trace_whisper

    clip = load_audio(audio)
    if clip.seconds > WINDOW_SECONDS:
        yield OUTPUTS.values(status=f"**Whole recording** ({clip.seconds:.1f} s, over one "
                             f"{WINDOW_SECONDS:.0f} s window): decoding window by window, see "
                             "*Whole recording* below; its first window opens here.")
        return
    loaded = factory.get(model_id or models.DEFAULTS[FAMILY], FAMILY)
    language, task, note = wl.choose(loaded.model, language, task)
    notes = list(clip.notes) + ([note] if note else [])
    if task == "translate":
        notes.append("translate: English words over non-English audio -- their times (cross-attention "
                     "+ DTW) are rough")
    trace, last_plot, beam = None, 0.0, int(beam_size)
    for trace in iter_trace_whisper(clip, loaded, top_k=int(top_k), beam_size=beam,
                                    language=language, task=task,
                                    **({"timestamps": True} if timestamps else {}),
                                    reference=(reference or "").strip() or None):
        redraw = time.perf_counter() - last_plot >= PLOT_EVERY_S
        last_plot = time.perf_counter() if redraw else last_plot
        yield _views(trace, len(trace.steps) - 1, heads, done=False, step_plot=redraw,
                     beam=beam, notes=notes)
    yield _views(trace, len(trace.steps) - 1, heads, done=True, notes=notes)


@common.guarded(LANGUAGE_CONTROLS)
def language_controls(model_id):
    """The language picker and task radio for a model id: disabled, with a note, for
    English-only checkpoints."""
    if english_only_id(model_id):
        return LANGUAGE_CONTROLS.values(language=gr.update(value=wl.DETECT, interactive=False),
                                        task=gr.update(value="transcribe", interactive=False),
                                        lang_note=f"*{wl.ENGLISH_ONLY_NOTE}.*")
    return LANGUAGE_CONTROLS.values(language=gr.update(interactive=True),
                                    task=gr.update(interactive=True),
                                    lang_note="*Language: `detect` runs the language step (one "
                                              "decoder step); pick one to force it.*")


def window_views(trace, window: dict | None = None) -> list:
    """Every output for one window of a whole recording (``apps/whisper_long_panel.py``)."""
    w = window or trace.meta.get("window") or {}
    note = (f"window {w.get('index', '?')} of the whole recording, {float(w.get('start', 0)):.1f}"
            f"\u2013{float(w.get('end', 0)):.1f} s (times in the views below start at 0 in this "
            "window)")
    lean = not trace.names("encoder.layers.*.attn.pattern")
    if lean:
        note += ("; encoder self-attention is not kept for long-form windows (lean capture: "
                 "trace a 30 s cut of the clip to see it)")
    out = _views(trace, max(len(trace.steps) - 1, 0), "alignment", done=True, notes=[note],
                 inputs=not lean)
    if lean and "input.log_mel" in trace:
        out[OUTPUTS.index("mel_plot")] = wv.log_mel_figure(trace)
        out[OUTPUTS.index("enc_plot")] = None
    return out


def loaded_views(traces) -> list:
    """Every output for a saved trace (``apps/trace_io.py``): as after a run, plus the input
    views; an archive of several windows shows the first."""
    trace = traces[0]
    notes = [f"loaded a saved trace; the archive holds {len(traces)} windows, showing the first"
             ] if len(traces) > 1 else ["loaded a saved trace (no model ran)"]
    return _views(trace, max(len(trace.steps) - 1, 0), "alignment", done=True, notes=notes,
                  inputs=True)


def _load(model_id):
    return factory.get(model_id or models.DEFAULTS[FAMILY], FAMILY)


def what_if_args(loaded, trace, audio, reference, top_k, language, task, timestamps):
    """(clip, trace kwargs) of a what-if on the tab's inputs: as /transcribe traces (greedy)."""
    common.require_audio(audio)
    if load_audio(audio).seconds > WINDOW_SECONDS:
        raise LabError(f"what-if runs on one {WINDOW_SECONDS:.0f} s window: cut the clip")
    language, task, _ = wl.choose(loaded.model, language, task)
    return audio, dict(top_k=int(top_k), reference=(reference or "").strip() or None,
                       language=language, task=task, **({"timestamps": True} if timestamps else {}))


@common.guarded(STEP_VIEWS)
def show_step(trace, step, heads):
    """The linked views of one decoder step."""
    if trace is None or not trace.steps:
        return STEP_VIEWS.skip()
    return STEP_VIEWS.values(**_step_views(trace, min(int(step), len(trace.steps) - 1), heads))


@common.guarded()
def show_encoder(trace, layer, head, crop):
    if trace is None:
        return gr.skip()
    return wv.encoder_attention_figure(trace, int(layer), int(head), crop=crop)


def build() -> None:
    gr.Markdown(ABOUT)
    trace = common.trace_state()
    with gr.Row():
        with gr.Column(scale=2):
            audio = common.audio_input(f"Audio (≤ {WINDOW_SECONDS:.0f} s: one window; longer: window by window)",
                                       elem_id="whisper-audio", format=None)
            reference = gr.Textbox(label="Reference text (optional, for WER)", lines=1)
        with gr.Column(scale=1):
            model_id = gr.Dropdown(model_choices(), value=models.DEFAULTS[FAMILY], label="Model")
            beam_size = gr.Slider(1, 5, value=1, step=1, label="Beam size (1 = greedy)",
                                  elem_id="whisper-beam")
            top_k = gr.Slider(1, 20, value=10, step=1, label="Top-k shown per step")
            timestamps = gr.Checkbox(False, label="Timestamp tokens (<|0.00|> segments)",
                                     elem_id="whisper-timestamps")
            english = english_only_id(models.DEFAULTS[FAMILY])
            language = gr.Dropdown(wl.language_choices(), value=wl.DETECT, label="Language",
                                   interactive=not english, elem_id="whisper-language")
            task = gr.Radio(["transcribe", "translate"], value="transcribe",
                            label="Task (translate: to English)", interactive=not english,
                            elem_id="whisper-task")
            lang_note = gr.Markdown(f"*{wl.ENGLISH_ONLY_NOTE}.*" if english else "",
                                    elem_id="whisper-lang-note")
            heads = gr.Dropdown(["alignment", "all"], value="alignment", allow_custom_value=False,
                                label="Cross-attention heads")
            run = gr.Button("Run", variant="primary", elem_id="whisper-run")
    common.examples(audio, reference)
    status = common.status_box("Pick a clip and press **Run**.", elem_id="whisper-status")
    prompt_html = gr.HTML(elem_id="whisper-prompt")
    lang_plot = trace_io.Plot(label="Language step: which language the first decoder position "
                                    "predicts", elem_id="whisper-lang-plot", visible=False)
    text = gr.Textbox(label="Transcript", interactive=False, elem_id="whisper-text")
    transcript = gr.HTML(label="Tokens (shade = uncertainty; box = selected step)",
                         elem_id="whisper-tokens")
    step = gr.Slider(0, 1, value=0, step=1, label="Decoder step", interactive=False,
                     elem_id="whisper-step")
    step_plot = trace_io.Plot(label="Where this step listens, and what it considered",
                        elem_id="whisper-step-plot")
    words_plot = trace_io.Plot(label="Words over the waveform", elem_id="whisper-words-plot")
    seg_plot = trace_io.Plot(label="Timestamp segments next to the DTW words",
                             elem_id="whisper-seg-plot", visible=False)
    with gr.Accordion("Input and encoder", open=True):  # closed accordions drop plot updates (gradio 6)
        mel_plot = trace_io.Plot(label="Log-mel", elem_id="whisper-mel-plot")
        with gr.Row():
            layer = gr.Slider(0, 11, value=0, step=1, label="Encoder layer")
            head = gr.Slider(0, 19, value=0, step=1, label="Head")
            crop = gr.Radio(["content", "all"], value="content", label="Time range")
        enc_plot = trace_io.Plot(label="Encoder self-attention", elem_id="whisper-enc-plot")
    with gr.Accordion("Whole decode, beam search, WER", open=True):
        map_plot = trace_io.Plot(label="Cross-attention of every step", elem_id="whisper-map-plot")
        beam_plot = trace_io.Plot(label="Beam tree (beam size > 1)", elem_id="whisper-beam-plot",
                            visible=False)
        wer = gr.HTML(elem_id="whisper-wer")
    with gr.Accordion("Trace contents (describe())", open=False):
        describe = gr.Code(label="trace.describe()", language=None)

    ui = locals()
    ran = run.click(transcribe, [audio, model_id, reference, beam_size, top_k, heads, timestamps,
                                 language, task],
                    OUTPUTS.components(ui), api_name="transcribe")
    model_id.change(language_controls, [model_id], LANGUAGE_CONTROLS.components(ui),
                    api_name="language_controls")
    long_panel.build(audio=audio, model_id=model_id, reference=reference, beam_size=beam_size,
                     top_k=top_k, run_event=ran, tab_outputs=OUTPUTS.components(ui),
                     tab_names=OUTPUTS, views=window_views, language=language, task=task)
    step.release(show_step, [trace, step, heads], STEP_VIEWS.components(ui), api_name="step")
    heads.change(show_step, [trace, step, heads], STEP_VIEWS.components(ui), api_name=False)
    gr.on([layer.release, head.release, crop.change], show_encoder,
          [trace, layer, head, crop], enc_plot, api_name="encoder_attention")
    trace_io.panel(FAMILY, trace, OUTPUTS.components(ui), loaded_views, names=OUTPUTS)
    what_if_panel.build(FAMILY, state=trace, model=model_id, load=_load, args=what_if_args,
                        inputs=[audio, reference, top_k, language, task, timestamps], run_event=ran)
