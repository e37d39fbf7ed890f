"""The CTC tab: from waveform to collapsed text, every stage on one time axis.

Give it audio (and optionally a reference and some text for an n-gram LM), press **Run**; then
pick a character (its frames light up in the collapse stepper and you hear them) or a word (its
span on the waveform, and its audio). Handlers (``api_name`` for gradio_client):
``/transcribe``, ``/character``, ``/word``, ``/attention``, ``/frame_grid``. The Trace stays on
the server in ``gr.State``; only figures go to the browser.
"""
from __future__ import annotations

import html

import gradio as gr

from apps import common, factory, trace_io, what_if_panel
from lab.ctc.constants import TOP_K
from lab.viz import ctc as cv

TITLE = "CTC"
FAMILY = "ctc"
FALLBACK_MODEL = "facebook/wav2vec2-base-960h"

ABOUT = """### CTC: one forward pass, one token per 20 ms frame
A CTC model (wav2vec2, HuBERT, WavLM, Data2VecAudio, Wav2Vec2-BERT, M-CTC-T) reads the
**normalised waveform** (or a mel spectrogram) with a stack of strided convolutions into **frames**
(50 per second for base models: 20 ms hop, 25 ms receptive field), a transformer refines them, and
a linear **CTC head** scores every character -- plus a **blank** `_` -- at every frame. Reading is
then mechanical: **merge repeats**, **drop blanks**, `|` becomes a space. Beam search with an
**n-gram LM** built from your text can spell-check what greedy got wrong."""


def default_model() -> str:
    return common.default_model(FAMILY, FALLBACK_MODEL)


def model_choices() -> list[str]:
    return common.model_choices(FAMILY)


def _status(tr) -> str:
    m = tr.meta
    g = m["geometry"]
    return (f"**{html.escape(tr.model_id)}** ({html.escape(tr.weights_source)}): {m['seconds']:.2f} s of audio "
            f"-> {g['n_samples']:,} samples -> **{m['n_frames']} frames** ({m['frames_per_second']:.4g}/s: hop "
            f"{g['hop_ms']:.1f} ms, receptive field {g['field_ms']:.1f} ms) -> "
            f"{len(m['collapse']['spans']['no_blanks'])} characters. Forward pass "
            f"{m['timings']['forward_s']:.2f} s. {html.escape(m['policy'])}.")


OUTPUTS = common.Outputs("status", "text", "decoders", "wave", "grid", "chain", "logits", "strip",
                         "collapse", "char", "char_audio", "words", "word", "word_audio", "layer",
                         "attention", "describe", "state")
# a picked character / word index past the end, or a head that is not a number: a message
BAD_PICK = (IndexError, ValueError)


def _views(tr) -> list:
    chars = cv.char_choices(tr)
    words = [(f"{k}: {w['word']} ({w['start']:.2f}-{w['end']:.2f} s)", k) for k, w in enumerate(tr.meta["words"])]
    kept = sorted(int(n.split(".")[2]) for n in tr.names("encoder.layers.*.attn.pattern"))
    return OUTPUTS.values(
        status=_status(tr), text=tr.meta["text"], decoders=cv.decoders_html(tr),
        wave=cv.waveform_figure(tr), grid=cv.frame_grid_figure(tr), chain=cv.length_chain_figure(tr),
        logits=cv.logits_figure(tr), strip=cv.token_strip_figure(tr),
        collapse=cv.collapse_figure(tr, highlight=0 if chars else None),
        char=gr.update(choices=chars, value=0 if chars else None),
        char_audio=_char_audio(tr, 0) if chars else None,
        words=cv.words_figure(tr, highlight=0 if words else None),
        word=gr.update(choices=words, value=0 if words else None),
        word_audio=_word_audio(tr, 0) if words else None,
        layer=gr.update(choices=kept, value=kept[-1] if kept else None),
        attention=cv.attention_figure(tr, kept[-1], "mean") if kept else None,
        describe=tr.describe(), state=tr)


CHAR_AUDIO_LABEL = "The frames of this character"
WORD_AUDIO_LABEL = "This word"


def _clip(slice_, label: str):
    """A gr.Audio update: the slice as int16 PCM and its exact length in the label (the player
    rounds its clock to whole seconds, so a 0.11 s character slice reads "0:00" there)."""
    sr, x = slice_[0], common.pcm16(slice_[1])
    return gr.update(value=(sr, x), label=f"{label} ({len(x) / sr:.2f} s, {len(x):,} samples)")


def _char_audio(tr, k: int):
    return _clip(cv.char_slice(tr, k), CHAR_AUDIO_LABEL)


def _word_audio(tr, k: int):
    w = tr.meta["words"][k]
    return _clip(cv.audio_slice(tr, w["start"], w["end"], pad=0.03), WORD_AUDIO_LABEL)


@common.guarded(OUTPUTS, box="status")
def transcribe(audio, model_id, reference, lm_text, beam, top_k):
    """Trace the clip; greedy always, beam search when beam > 1 or LM text is given."""
    common.require_audio(audio)
    from lab.ctc import trace_ctc

    loaded = factory.get(model_id or default_model(), FAMILY)
    beam = int(beam or 0)
    lm_text = (lm_text or "").strip() or None
    tr = trace_ctc(audio, loaded, top_k=int(top_k), reference=(reference or "").strip() or None,
                   lm_text=lm_text, beam_size=beam if beam > 1 or lm_text else None)
    return _views(tr)


def _load(model_id):
    return factory.get(model_id or default_model(), FAMILY)


def what_if_args(loaded, trace, audio, reference, lm_text, beam, top_k):
    """(clip, trace kwargs) of a what-if on the tab's inputs, as /transcribe traces."""
    common.require_audio(audio)
    beam, lm_text = int(beam or 0), (lm_text or "").strip() or None
    return audio, dict(top_k=int(top_k), reference=(reference or "").strip() or None, lm_text=lm_text,
                       beam_size=beam if beam > 1 or lm_text else None)


def loaded_views(traces) -> list:
    """Every output for a saved trace (``apps/trace_io.py``), as after a run."""
    return _views(traces[0])


def _pick(tr, index, figure, audio):
    """(``figure`` with item ``index`` highlighted, the ``audio`` under it); before a run: unchanged."""
    if tr is None or index is None:
        return common.skip(2)
    k = int(index)
    return figure(tr, highlight=k), audio(tr, k)


@common.guarded(2, expected=BAD_PICK)
def show_character(tr, index):
    """The collapse stepper with character ``index`` highlighted, and the audio under it."""
    return _pick(tr, index, cv.collapse_figure, _char_audio)


@common.guarded(2, expected=BAD_PICK)
def show_word(tr, index):
    """The word spans with word ``index`` highlighted, and its audio."""
    return _pick(tr, index, cv.words_figure, _word_audio)


@common.guarded(expected=BAD_PICK)
def show_attention(tr, layer, head):
    if tr is None or layer is None:
        return gr.skip()
    return cv.attention_figure(tr, int(layer), head if head == "mean" else int(head))


@common.guarded(expected=BAD_PICK)
def show_grid(tr, start, layer):
    if tr is None:
        return gr.skip()
    layer = None if layer in (None, "", "last") else int(layer)
    return cv.frame_grid_figure(tr, start=float(start), layer=layer)


def build() -> None:
    gr.Markdown(ABOUT)
    state = common.trace_state()
    with gr.Row():
        with gr.Column(scale=2):
            audio = common.audio_input("Audio", elem_id="ctc-audio")
            reference = gr.Textbox(label="Reference text (optional: forced alignment, WER/CER)", lines=1)
            lm_text = gr.Textbox(label="Text for an n-gram LM (optional: beam + LM spell-checks)", lines=3)
        with gr.Column(scale=1):
            model_id = gr.Dropdown(model_choices(), value=default_model(), allow_custom_value=True,
                                   label="Model (id or local directory)")
            beam = gr.Slider(1, 64, value=16, step=1, label="Beam width (1 = greedy only)")
            top_k = gr.Slider(1, 10, value=TOP_K, step=1, label="Top-k kept per frame")
            run = gr.Button("Run", variant="primary", elem_id="ctc-run")
    common.examples(audio, reference)
    status = common.status_box("Pick a clip and press **Run**.", elem_id="ctc-status")
    text = gr.Textbox(label="Greedy transcript", interactive=False)
    decoders = gr.HTML(elem_id="ctc-decoders")
    with gr.Accordion("1. The input: raw vs normalised waveform, frames", open=True):
        wave = trace_io.Plot(label="Raw and normalised waveform", elem_id="ctc-wave")
        with gr.Row():
            grid_start = gr.Slider(0, 30, value=0.5, step=0.01, label="Frame grid: start (s)")
            grid_layer = gr.Dropdown(["last"] + [str(i) for i in range(7)], value="last",
                                     label="Conv layer")
        grid = trace_io.Plot(label="Frame grid: hop and overlap", elem_id="ctc-grid")
        chain = trace_io.Plot(label="Length at every layer", elem_id="ctc-chain")
    with gr.Accordion("2. The CTC head: logits and frame tokens", open=True):
        logits = trace_io.Plot(label="Log-probabilities with the argmax path", elem_id="ctc-logits")
        strip = trace_io.Plot(label="Frame tokens", elem_id="ctc-strip")
    with gr.Accordion("3. The collapse, character by character", open=True):
        with gr.Row():
            char = gr.Dropdown([], label="Character (its frames light up; hear them)", elem_id="ctc-char")
            char_audio = gr.Audio(label=CHAR_AUDIO_LABEL, type="numpy", interactive=False)
        collapse = trace_io.Plot(label="Collapse stepper", elem_id="ctc-collapse")
    with gr.Accordion("4. Words over the waveform", open=True):
        with gr.Row():
            word = gr.Dropdown([], label="Word", elem_id="ctc-word")
            word_audio = gr.Audio(label=WORD_AUDIO_LABEL, type="numpy", interactive=False)
        words = trace_io.Plot(label="Word spans", elem_id="ctc-words")
    with gr.Accordion("5. Encoder attention", open=True):
        with gr.Row():
            layer = gr.Dropdown([], label="Layer (captured ones)")
            head = gr.Dropdown(["mean"] + [str(i) for i in range(16)], value="mean", label="Head")
        attention = trace_io.Plot(label="Self-attention", elem_id="ctc-attention")
    with gr.Accordion("Trace contents (describe())", open=False):
        describe = gr.Code(label="trace.describe()", language=None)

    ran = run.click(transcribe, [audio, model_id, reference, lm_text, beam, top_k],
              OUTPUTS.components(locals()), api_name="transcribe")
    char.change(show_character, [state, char], [collapse, char_audio], api_name="character")
    word.change(show_word, [state, word], [words, word_audio], api_name="word")
    gr.on([layer.change, head.change], show_attention, [state, layer, head], attention,
          api_name="attention")
    gr.on([grid_start.release, grid_layer.change], show_grid, [state, grid_start, grid_layer], grid,
          api_name="frame_grid")
    trace_io.panel(FAMILY, state, OUTPUTS.components(locals()), loaded_views, names=OUTPUTS)
    what_if_panel.build(FAMILY, state=state, model=model_id, load=_load, args=what_if_args,
                        inputs=[audio, reference, lm_text, beam, top_k], run_event=ran)
