"""The TTS tab: SpeechT5 writing a spectrogram step by step, the stop token, the post-net, the
vocoders; its evaluation corner (intelligibility, MOS panel) is ``apps/tts_eval_panel.py``.

Handlers (``api_name`` for gradio_client): ``/tts_speak`` (streams: yields after the encoder and
while the decoder writes), ``/tts_step`` (the spectrogram after one step), ``/tts_alignment``,
``/tts_encoder``, ``/tts_play`` (streams the spectrogram step by step), ``/tts_sentence`` (pick a
sentence of a split text); the panel adds ``/tts_intelligibility``, ``/tts_rate``,
``/tts_ratings_csv``. The traces stay on the server in ``gr.State``; only figures and audio go to
the browser.
"""
from __future__ import annotations

import dataclasses
import time

import gradio as gr

from apps import common, factory, trace_io, what_if_panel
from lab.tts import TINY_ID
from lab.tts.constants import STOP_THRESHOLD
from lab.viz import tts as tv

TITLE = "TTS"
FAMILY = "tts"
PLOT_EVERY_S = 0.4  # while streaming, redraw the growing spectrogram at most this often

ABOUT = """### Text to speech: watch SpeechT5 write a spectrogram
The text is cut into **tokens** -- characters, or for the lab's own model the text's **phones**
(one token per sound, from flite) -- and an **encoder** reads them once. The **decoder** starts from
one all-zero mel frame and, step by step, predicts **2 new mel frames** (the reduction factor) and
a **stop probability**, looking back at the text through **cross-attention**. It stops when the
stop probability reaches the **threshold** (or at the maximum length). A **post-net** then
sharpens the whole spectrogram and a **vocoder** turns it into sound: HiFi-GAN (a neural network)
or Griffin-Lim (an iterative phase estimate that always works offline).

Offline, the default is **`tiny-speecht5-tts-en`**: a small SpeechT5 the lab trained on one
flite voice, `awb`, reading flite's phones of the text (model card:
`lab/zoo/tiny-speecht5-tts-en/README.md`). Its cross-attention draws a real diagonal from phone
to sound, its stop token fires near the end of the text, and Whisper understands most of its
words (Whisper WER 0.28 on unseen Harvard-style sentences, goal 0.30) even through a robotic
Griffin-Lim vocoder. **`speecht5-tiny-random` is untrained**: the same mechanics
with noise for audio and no diagonal -- compare the two. With `microsoft/speecht5_tts` (hub or HF
cache) the same views show a full-size model."""

DEMO_TEXT = "Hello, world! This is a test."


def model_choices() -> list[str]:
    return common.model_choices(FAMILY, extra=[TINY_ID])


def default_model() -> str:
    return common.default_model(FAMILY, TINY_ID)


def _load(model_id: str):
    from lab.tts import model_ref

    loaded = factory.get(model_ref(model_id or None), FAMILY, server_path=model_id == TINY_ID)
    if model_id == TINY_ID and loaded.model_id != TINY_ID:
        loaded = dataclasses.replace(loaded, model_id=TINY_ID,
                                     weights_source="tiny random SpeechT5 (untrained)")
    return loaded


def players(trace):
    """(HiFi-GAN player value, Griffin-Lim player value, note)."""
    rate = int(trace.time_bases["sample"])
    if "tts.waveform" not in trace:
        return None, None, ""
    main = (rate, common.pcm16(trace["tts.waveform"], normalise=True))
    if trace.meta.get("vocoder") == "hifigan":
        gl = (rate, common.pcm16(trace["tts.waveform_griffin_lim"], normalise=True)) \
            if "tts.waveform_griffin_lim" in trace else None
        return main, gl, ""
    return None, main, trace.meta.get("vocoder_note", "")


def current(traces, sentence):
    """The trace of the sentence the slider points at (None before any run)."""
    if not traces:
        return None
    i = int(sentence or 1) - 1
    return traces[min(max(i, 0), len(traces) - 1)]


OUTPUTS = common.Outputs("status", "tokens", "live_plot", "growth_plot", "stop_plot",
                         "postnet_plot", "align_plot", "diag_plot", "enc_plot", "hifigan_audio",
                         "gl_audio", "step", "steps_table", "sentence", "align_layer",
                         "align_head", "enc_layer", "describe", "traces")


def _views(traces: list, idx: int, *, done: bool, live: bool = True) -> list:
    """Every output of /tts_speak for the trace ``traces[idx]``."""
    tr = traces[idx]
    out = dict(traces=traces, tokens=tv.tokens_html(tr))
    n = tr.meta.get("n_steps", 0)
    if not done:
        out["status"] = (f"**Decoding** ... step {n} ({n * tr.meta['reduction_factor']} mel frames)"
                         if n else "**Encoder done**, decoding ...")
        if n and live:
            out["live_plot"] = tv.step_figure(tr)
        if not n:
            out["enc_plot"] = tv.encoder_attention_figure(tr, 0)
        return OUTPUTS.values(**out)
    t = tr.meta.get("timings", {})
    hifi, gl, note = players(tr)
    layers = len(tr.meta.get("diagonality", {}).get("per_head", [])) or 1
    heads = len(tr.meta.get("diagonality", {}).get("per_head", [[0]])[0])
    n_enc = len(tr.names("encoder.layers.*.attn.pattern")) or 1
    out.update(
        status=(tv.summary_markdown(tr) + f"\n\nencoder {t.get('encoder_s', 0):.2f} s, decoder "
                f"{t.get('decoder_s', 0):.2f} s, vocoder {t.get('vocoder_s', 0):.2f} s"
                + (f"\n\n**{len(traces)} sentences**, showing sentence {idx + 1}" if len(traces) > 1 else "")),
        live_plot=tv.step_figure(tr), growth_plot=tv.growth_figure(tr, animate=False),
        stop_plot=tv.stop_figure(tr),
        postnet_plot=tv.postnet_figure(tr),
        align_plot=tv.alignment_figure(tr) if "tts.cross_attn" in tr else None,
        diag_plot=tv.diagonality_figure(tr) if tr.meta.get("diagonality") else None,
        enc_plot=tv.encoder_attention_figure(tr, 0) if "encoder.layers.0.attn.pattern" in tr else None,
        hifigan_audio=gr.update(value=hifi, label="HiFi-GAN" + (" (not available here: see the note "
                                                              "above)" if note else "")),
        gl_audio=gl, step=gr.update(maximum=max(n - 1, 1), value=n - 1, interactive=True),
        steps_table=tv.steps_rows(tr),
        sentence=gr.update(maximum=max(len(traces), 2), value=idx + 1, visible=len(traces) > 1),
        align_layer=gr.update(choices=["all"] + [str(i) for i in range(layers)], value="all"),
        align_head=gr.update(choices=["all"] + [str(i) for i in range(heads)], value="all"),
        enc_layer=gr.update(maximum=max(n_enc - 1, 1), value=0),
        describe=tr.describe())
    return OUTPUTS.values(**out)


def _settings(threshold, minlenratio, maxlenratio, seed, vocoder, speaker_file, drop_unknown):
    return dict(threshold=float(threshold), minlenratio=float(minlenratio),
                maxlenratio=float(maxlenratio), seed=int(seed) if seed is not None else 0,
                vocoder=vocoder or "auto", speaker=speaker_file or None,
                drop_unknown=bool(drop_unknown))


def what_if_args(loaded, trace, text, threshold, minlenratio, maxlenratio, seed, vocoder, speaker_file,
                 drop_unknown, sentence):
    """(text, trace kwargs) of a what-if: the sentence the tab shows, with the tab's settings."""
    kw = _settings(threshold, minlenratio, maxlenratio, seed, vocoder, speaker_file, drop_unknown)
    return trace.meta.get("text", text or ""), kw


def what_if_current(traces, *values):
    """The trace of the sentence the tab shows (``values[-1]``: the sentence slider)."""
    return current(traces, values[-1] if values else 1)


@common.guarded(OUTPUTS, box="status")
def speak(text, model_id, threshold, minlenratio, maxlenratio, seed, vocoder, speaker_file,
          drop_unknown, split):
    """Stream one text: yield after the encoder and while the decoder writes (plot throttled);
    a long text with ``split`` is traced sentence by sentence (no streaming)."""
    from lab.tts import check_text, iter_trace_tts, trace_sentences

    loaded = _load(model_id)
    kw = _settings(threshold, minlenratio, maxlenratio, seed, vocoder, speaker_file, drop_unknown)
    check = check_text(text or "", loaded.processor, loaded.model.config.max_text_positions)
    if split and check.too_long:
        res = trace_sentences(text, loaded, **kw)
        yield _views(res.traces, 0, done=True)
        return
    trace, last = None, 0.0
    for trace in iter_trace_tts(text or "", loaded, every=5, **kw):
        if trace.meta["complete"]:
            break
        redraw = time.perf_counter() - last >= PLOT_EVERY_S
        last = time.perf_counter() if redraw else last
        yield _views([trace], 0, done=False, live=redraw)
    yield _views([trace], 0, done=True)


def loaded_views(traces) -> list:
    """Every output for saved traces (``apps/trace_io.py``: one per sentence), as after a run."""
    return _views(list(traces), 0, done=True)


@common.guarded()
def show_step(traces, sentence, step):
    tr = current(traces, sentence)
    if tr is None or not tr.meta.get("complete"):
        return gr.skip()
    return tv.step_figure(tr, int(step))


PLAY_FRAMES = 40
PLAY_DELAY_S = 0.12


@common.guarded(2)
def play(traces, sentence):
    """Play the decoding back: stream the spectrogram as it was after each step (about
    ``PLAY_FRAMES`` frames) into the live view, moving the step slider along."""
    tr = current(traces, sentence)
    if tr is None or not tr.meta.get("complete"):
        gr.Warning("press Speak first")
        return
    n = tr.meta["n_steps"]
    stride = max(1, n // PLAY_FRAMES)
    for s in sorted(set(range(0, n, stride)) | {n - 1}):
        yield tv.step_figure(tr, s), s
        time.sleep(PLAY_DELAY_S)


@common.guarded()
def show_alignment(traces, sentence, layer, head):
    tr = current(traces, sentence)
    if tr is None or "tts.cross_attn" not in tr:
        return gr.skip()
    to_int = lambda v: None if v in (None, "all") else int(v)  # noqa: E731
    return tv.alignment_figure(tr, to_int(layer), to_int(head))


@common.guarded()
def show_encoder(traces, sentence, layer):
    tr = current(traces, sentence)
    if tr is None:
        return gr.skip()
    try:
        return tv.encoder_attention_figure(tr, int(layer))
    except KeyError:  # a layer that was not captured: nothing to show
        return gr.skip()


@common.guarded(OUTPUTS, box="status")
def show_sentence(traces, sentence):
    if not traces:
        return OUTPUTS.skip()
    i = min(max(int(sentence or 1) - 1, 0), len(traces) - 1)
    return _views(traces, i, done=True)


def build() -> None:
    from apps import tts_eval_panel  # imports this module: loaded here, not at the top

    gr.Markdown(ABOUT)
    traces = common.trace_state([])
    with gr.Row():
        with gr.Column(scale=2):
            text = gr.Textbox(DEMO_TEXT, label="Text to speak", lines=3, max_length=5000,
                              elem_id="tts-text")
            with gr.Row():
                drop_unknown = gr.Checkbox(False, label="Drop characters the model cannot say")
                split = gr.Checkbox(True, label="Split a long text into sentences")
            speaker_file = gr.File(label="Speaker x-vector (.npy, 512 values; empty = lab default)",
                                   file_types=[".npy"], type="filepath")
        with gr.Column(scale=1):
            model_id = gr.Dropdown(model_choices(), value=default_model(), label="Model",
                                   allow_custom_value=False)
            threshold = gr.Slider(0.01, 2.0, value=STOP_THRESHOLD, step=0.01,
                                  label="Stop threshold (on the summed stop probability)")
            maxlenratio = gr.Slider(0.5, 20, value=20, step=0.5, label="Max length ratio")
            minlenratio = gr.Slider(0, 10, value=0, step=0.5, label="Min length ratio")
            with gr.Row():
                seed = gr.Number(0, precision=0, label="Prenet dropout seed")
                vocoder = gr.Radio(["auto", "hifigan", "griffin-lim"], value="auto", label="Vocoder")
            run = gr.Button("Speak", variant="primary", elem_id="tts-run")
    status = common.status_box("Type a text and press **Speak**.", elem_id="tts-status")
    tokens = gr.HTML(label="Tokens (characters or phones)", elem_id="tts-tokens")
    sentence = gr.Slider(1, 2, value=1, step=1, label="Sentence", visible=False)
    live_plot = trace_io.Plot(label="The spectrogram as it is written (newest frames outlined)",
                        elem_id="tts-live-plot")
    with gr.Row():
        step = gr.Slider(0, 1, value=0, step=1, label="Decoder step", interactive=False,
                         elem_id="tts-step", scale=5)
        play_btn = gr.Button("\u25b6 Play the decoding", scale=1, elem_id="tts-play")
    with gr.Row():
        hifigan_audio = gr.Audio(label="HiFi-GAN", type="numpy", interactive=False)
        gl_audio = gr.Audio(label="Griffin-Lim", type="numpy", interactive=False)
    growth_plot = trace_io.Plot(label="The spectrogram growing step by step (drag the slider)",
                          elem_id="tts-growth-plot")
    stop_plot = trace_io.Plot(label="Stop probability, threshold and stopping step", elem_id="tts-stop-plot")
    with gr.Accordion("Alignment: which token (character or phone) is being spoken", open=True):
        with gr.Row():
            align_layer = gr.Dropdown(["all"], value="all", label="Decoder layer")
            align_head = gr.Dropdown(["all"], value="all", label="Head")
        align_plot = trace_io.Plot(label="Cross-attention over the text (a trained model draws a diagonal)",
                             elem_id="tts-align-plot")
        diag_plot = trace_io.Plot(label="Diagonality per head")
    with gr.Accordion("Post-net: before, after, difference", open=False):
        postnet_plot = trace_io.Plot(elem_id="tts-postnet-plot")
    with gr.Accordion("Text encoder", open=False):
        enc_layer = gr.Slider(0, 1, value=0, step=1, label="Encoder layer")
        enc_plot = trace_io.Plot(label="Encoder self-attention over the tokens")
    with gr.Accordion("Every decoder step", open=False):
        steps_table = gr.Dataframe(headers=["step", "seconds", "stop prob", "decision", "reads"],
                                   interactive=False)
        describe = gr.Code(label="trace.describe()", language=None)

    outputs = OUTPUTS.components(locals())
    ran = run.click(speak, [text, model_id, threshold, minlenratio, maxlenratio, seed, vocoder,
                      speaker_file, drop_unknown, split], outputs, api_name="tts_speak")
    step.release(show_step, [traces, sentence, step], live_plot, api_name="tts_step")
    play_btn.click(play, [traces, sentence], [live_plot, step], api_name="tts_play")
    gr.on([align_layer.change, align_head.change], show_alignment,
          [traces, sentence, align_layer, align_head], align_plot, api_name="tts_alignment")
    enc_layer.release(show_encoder, [traces, sentence, enc_layer], enc_plot, api_name="tts_encoder")
    sentence.release(show_sentence, [traces, sentence], outputs, api_name="tts_sentence")
    trace_io.panel(FAMILY, traces, outputs, loaded_views, names=OUTPUTS)
    what_if_panel.build(FAMILY, state=traces, model=model_id, load=_load, args=what_if_args,
                        current=what_if_current, run_event=ran,
                        inputs=[text, threshold, minlenratio, maxlenratio, seed, vocoder, speaker_file,
                                drop_unknown, sentence])
    tts_eval_panel.build(traces, sentence)  # the evaluation accordion, last on the tab


__all__ = ["TITLE", "build", "speak", "model_choices", "default_model", "current", "players"]
