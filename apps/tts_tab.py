"""The TTS tab: SpeechT5 writing a spectrogram step by step, the stop token, the post-net, the
vocoders, and an evaluation corner (automatic intelligibility with the lab's Whisper; a MOS
listening panel whose ratings go to a CSV the teacher collects).

Handlers (``api_name`` for gradio_client): ``/tts_speak`` (streams: yields after the encoder and
while the decoder writes), ``/tts_step`` (the spectrogram after one step), ``/tts_alignment``,
``/tts_encoder``, ``/tts_play`` (streams the spectrogram step by step), ``/tts_sentence`` (pick a sentence of a split text), ``/tts_intelligibility``,
``/tts_rate`` (append MOS ratings), ``/tts_ratings_csv`` (download the CSV). The traces stay on
the server in ``gr.State``; only figures and audio go to the browser.
"""
from __future__ import annotations

import html
import logging
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr

from apps import factory
from lab import models
from lab.errors import LabError
from lab.viz import tts as tv

TITLE = "TTS"
FAMILY = "tts"
PLOT_EVERY_S = 0.4  # while streaming, redraw the growing spectrogram at most this often
log = logging.getLogger(__name__)

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
    from lab.tts import TINY_ID

    ids = [m.id for m in models.KNOWN if m.family == FAMILY]
    zoo = [i for i in models.offline_ids() if i not in models.BUNDLES and _family(i) == FAMILY]
    default = models.DEFAULTS.get(FAMILY)
    return list(dict.fromkeys(([default] if default else []) + zoo + [TINY_ID] + ids))


def default_model() -> str:
    from lab.tts import TINY_ID

    return models.DEFAULTS.get(FAMILY) or TINY_ID


def _family(model_id: str) -> str:
    try:
        return models.family_of_dir(models.ZOO_DIR / model_id)
    except Exception:
        return ""


def _load(model_id: str):
    from lab.tts import TINY_ID, model_ref

    loaded = factory.get(model_ref(model_id or None), FAMILY)
    if model_id == TINY_ID and loaded.model_id != TINY_ID:
        import dataclasses

        loaded = dataclasses.replace(loaded, model_id=TINY_ID,
                                     weights_source="tiny random SpeechT5 (untrained)")
    return loaded


def _box(msg: str, color: str = "#d62728", title: str = "Error") -> str:
    return (f'<div style="border:2px solid {color};border-radius:6px;padding:8px">'
            f"<b>{title}:</b> {html.escape(msg)}</div>")


def _pcm16(w):
    """int16 samples for a player (peak-normalised only when the float audio clips)."""
    import numpy as np

    w = w.numpy() if hasattr(w, "numpy") else np.asarray(w)
    peak = float(np.abs(w).max()) if w.size else 0.0
    return (np.clip(w / peak if peak > 1.0 else w, -1, 1) * 32767).astype(np.int16)


def _audio(trace):
    """(HiFi-GAN player value, Griffin-Lim player value, note)."""
    rate = int(trace.time_bases["sample"])
    if "tts.waveform" not in trace:
        return None, None, ""
    main = (rate, _pcm16(trace["tts.waveform"]))
    if trace.meta.get("vocoder") == "hifigan":
        gl = (rate, _pcm16(trace["tts.waveform_griffin_lim"])) if "tts.waveform_griffin_lim" in trace else None
        return main, gl, ""
    return None, main, trace.meta.get("vocoder_note", "")


OUTPUTS = ["status", "tokens", "live_plot", "growth_plot", "stop_plot", "postnet_plot",
           "align_plot", "diag_plot", "enc_plot", "hifigan_audio", "gl_audio", "step", "steps_table",
           "sentence", "align_layer", "align_head", "enc_layer", "describe", "traces"]


def _views(traces: list, idx: int, *, done: bool, live: bool = True) -> list:
    """Every output of /tts_speak (``OUTPUTS`` order) for the trace ``traces[idx]``."""
    tr = traces[idx]
    out = dict.fromkeys(OUTPUTS, gr.skip())
    out["traces"] = traces
    out["tokens"] = tv.tokens_html(tr)
    n = tr.meta.get("n_steps", 0)
    if not done:
        out["status"] = (f"**Decoding** ... step {n} ({n * tr.meta['reduction_factor']} mel frames)"
                         if n else "**Encoder done**, decoding ...")
        if n and live:
            out["live_plot"] = tv.step_figure(tr)
        if not n:
            out["enc_plot"] = tv.encoder_attention_figure(tr, 0)
        return [out[k] for k in OUTPUTS]
    t = tr.meta.get("timings", {})
    hifi, gl, note = _audio(tr)
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
    return [out[k] for k in OUTPUTS]


def _settings(threshold, minlenratio, maxlenratio, seed, vocoder, speaker_file, drop_unknown):
    return dict(threshold=float(threshold), minlenratio=float(minlenratio),
                maxlenratio=float(maxlenratio), seed=int(seed) if seed is not None else 0,
                vocoder=vocoder or "auto", speaker=speaker_file or None,
                drop_unknown=bool(drop_unknown))


def speak(text, model_id, threshold, minlenratio, maxlenratio, seed, vocoder, speaker_file,
          drop_unknown, split):
    """Stream one text: yield after the encoder and while the decoder writes (plot throttled);
    a long text with ``split`` is traced sentence by sentence (no streaming)."""
    try:
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
    except LabError as exc:
        gr.Warning(str(exc))
        yield [_box(str(exc))] + [gr.skip()] * (len(OUTPUTS) - 1)
    except Exception as exc:  # a bug, not the user's fault: log it, keep serving
        log.exception("tts speak failed")
        msg = f"internal error ({type(exc).__name__}): {exc}"
        gr.Warning(msg)
        yield [_box(msg)] + [gr.skip()] * (len(OUTPUTS) - 1)


def _current(traces, sentence):
    if not traces:
        return None
    i = int(sentence or 1) - 1
    return traces[min(max(i, 0), len(traces) - 1)]


def show_step(traces, sentence, step):
    tr = _current(traces, sentence)
    if tr is None or not tr.meta.get("complete"):
        return gr.skip()
    return tv.step_figure(tr, int(step))


PLAY_FRAMES = 40
PLAY_DELAY_S = 0.12


def play(traces, sentence):
    """Play the decoding back: stream the spectrogram as it was after each step (about
    ``PLAY_FRAMES`` frames) into the live view, moving the step slider along."""
    tr = _current(traces, sentence)
    if tr is None or not tr.meta.get("complete"):
        gr.Warning("press Speak first")
        return
    n = tr.meta["n_steps"]
    stride = max(1, n // PLAY_FRAMES)
    for s in sorted(set(range(0, n, stride)) | {n - 1}):
        yield tv.step_figure(tr, s), s
        time.sleep(PLAY_DELAY_S)


def show_alignment(traces, sentence, layer, head):
    tr = _current(traces, sentence)
    if tr is None or "tts.cross_attn" not in tr:
        return gr.skip()
    to_int = lambda v: None if v in (None, "all") else int(v)  # noqa: E731
    return tv.alignment_figure(tr, to_int(layer), to_int(head))


def show_encoder(traces, sentence, layer):
    tr = _current(traces, sentence)
    if tr is None:
        return gr.skip()
    try:
        return tv.encoder_attention_figure(tr, int(layer))
    except KeyError:
        return gr.skip()


def show_sentence(traces, sentence):
    if not traces:
        return [gr.skip()] * len(OUTPUTS)
    i = min(max(int(sentence or 1) - 1, 0), len(traces) - 1)
    return _views(traces, i, done=True)


def intelligibility(traces, sentence):
    """The lab's Whisper transcribes the generated audio (the main vocoder's); WER vs the text."""
    try:
        from lab.tts.intelligibility import check
        from lab.viz.wer import wer_html

        tr = _current(traces, sentence)
        if tr is None or "tts.waveform" not in tr:
            raise LabError("generate speech first (press Speak)")
        whisper = factory.get(None, "whisper")
        r = check(tr["tts.waveform"].numpy(), int(tr.time_bases["sample"]), tr.meta["spoken_text"],
                  whisper)
        head = (f"<p><b>Whisper heard:</b> {html.escape(r['hypothesis'] or '(nothing)')}<br>"
                f"<b>WER {r['wer']:.0%}</b>, CER {r['cer']:.0%} ({html.escape(r['whisper_model'])}, "
                f"{tr.meta.get('vocoder')} audio, {r['transcribe_s']:.1f} s)</p>")
        return head + wer_html(r)
    except LabError as exc:
        gr.Warning(str(exc))
        return _box(str(exc))
    except Exception as exc:
        log.exception("tts intelligibility failed")
        return _box(f"internal error ({type(exc).__name__}): {exc}")


def _summary_rows() -> list[list]:
    from lab.tts import mos

    return [[r["model"], r["vocoder"], r["n"], round(r["mos"], 2), round(r["ci95"], 2), r["raters"]]
            for r in mos.summary()]


def rate(traces, sentence, rater, score_hifigan, score_gl, comment):
    """Append the given scores (1-5) for the clips on screen to the ratings CSV."""
    from lab.tts import mos

    try:
        tr = _current(traces, sentence)
        if tr is None or "tts.waveform" not in tr:
            raise LabError("nothing to rate yet: press Speak first")
        rate_hz = int(tr.time_bases["sample"])
        hifi, gl, _ = _audio(tr)
        clips = [("hifigan", hifi, score_hifigan), ("griffin-lim", gl, score_gl)]
        given = [(name, clip, score) for name, clip, score in clips if score not in (None, "")]
        if not given:
            raise LabError("pick a score (1 = bad ... 5 = excellent) for at least one clip")
        path = mos.mos_csv_path()
        for name, clip, score in given:
            if clip is None:
                raise LabError(f"there is no {name} clip to rate on screen")
            cid = mos.clip_id(clip[1], tr.model_id, name, tr.meta["spoken_text"])  # int16 samples
            mos.save_clip(clip[1], rate_hz, cid, path)
            mos.append_rating(clip_id=cid, text=tr.meta["spoken_text"], model=tr.model_id,
                              vocoder=name, score=int(score), rater=rater, comment=comment,
                              path=path)
        msg = f"saved {len(given)} rating(s) to `{path}` ({len(mos.read_ratings(path))} in total)"
        return msg, _summary_rows()
    except LabError as exc:
        gr.Warning(str(exc))
        return _box(str(exc)), gr.skip()


def ratings_csv():
    """A copy of the ratings CSV for download (the file itself stays where it is)."""
    from lab.tts import mos

    p = mos.mos_csv_path()
    if not p.is_file():
        gr.Warning("no ratings saved yet")
        return None
    out = Path(tempfile.mkdtemp(prefix="audiolab-mos-")) / "mos_ratings.csv"
    shutil.copyfile(p, out)
    return str(out)


def build() -> None:
    from lab.tts import mos

    gr.Markdown(ABOUT)
    traces = gr.State([], time_to_live=3600)
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
            threshold = gr.Slider(0.01, 2.0, value=0.5, step=0.01,
                                  label="Stop threshold (on the summed stop probability)")
            maxlenratio = gr.Slider(0.5, 20, value=20, step=0.5, label="Max length ratio")
            minlenratio = gr.Slider(0, 10, value=0, step=0.5, label="Min length ratio")
            with gr.Row():
                seed = gr.Number(0, precision=0, label="Prenet dropout seed")
                vocoder = gr.Radio(["auto", "hifigan", "griffin-lim"], value="auto", label="Vocoder")
            run = gr.Button("Speak", variant="primary", elem_id="tts-run")
    status = gr.Markdown("Type a text and press **Speak**.", elem_id="tts-status")
    tokens = gr.HTML(label="Tokens (characters or phones)", elem_id="tts-tokens")
    sentence = gr.Slider(1, 2, value=1, step=1, label="Sentence", visible=False)
    live_plot = gr.Plot(label="The spectrogram as it is written (newest frames outlined)",
                        elem_id="tts-live-plot")
    with gr.Row():
        step = gr.Slider(0, 1, value=0, step=1, label="Decoder step", interactive=False,
                         elem_id="tts-step", scale=5)
        play_btn = gr.Button("\u25b6 Play the decoding", scale=1, elem_id="tts-play")
    with gr.Row():
        hifigan_audio = gr.Audio(label="HiFi-GAN", type="numpy", interactive=False)
        gl_audio = gr.Audio(label="Griffin-Lim", type="numpy", interactive=False)
    growth_plot = gr.Plot(label="The spectrogram growing step by step (drag the slider)",
                          elem_id="tts-growth-plot")
    stop_plot = gr.Plot(label="Stop probability, threshold and stopping step", elem_id="tts-stop-plot")
    with gr.Accordion("Alignment: which token (character or phone) is being spoken", open=True):
        with gr.Row():
            align_layer = gr.Dropdown(["all"], value="all", label="Decoder layer")
            align_head = gr.Dropdown(["all"], value="all", label="Head")
        align_plot = gr.Plot(label="Cross-attention over the text (a trained model draws a diagonal)",
                             elem_id="tts-align-plot")
        diag_plot = gr.Plot(label="Diagonality per head")
    with gr.Accordion("Post-net: before, after, difference", open=False):
        postnet_plot = gr.Plot(elem_id="tts-postnet-plot")
    with gr.Accordion("Text encoder", open=False):
        enc_layer = gr.Slider(0, 1, value=0, step=1, label="Encoder layer")
        enc_plot = gr.Plot(label="Encoder self-attention over the tokens")
    with gr.Accordion("Every decoder step", open=False):
        steps_table = gr.Dataframe(headers=["step", "seconds", "stop prob", "decision", "reads"],
                                   interactive=False)
        describe = gr.Code(label="trace.describe()", language=None)
    with gr.Accordion("Evaluation: intelligibility (Whisper) and a MOS listening panel", open=False):
        gr.Markdown("**Intelligibility**: the lab's Whisper transcribes the generated audio; the "
                    "word error rate against the text says how understandable it is.")
        intel_btn = gr.Button("Transcribe with Whisper")
        intel_out = gr.HTML(elem_id="tts-intelligibility")
        gr.Markdown("**MOS panel**: listen to the clips above and rate each from 1 (bad) to 5 "
                    f"(excellent). Ratings are appended to `{mos.mos_csv_path()}` on the server "
                    "(set `AUDIOLAB_MOS_CSV` to change it); the teacher downloads it below.")
        with gr.Row():
            rater = gr.Textbox(label="Your name or id", max_length=100)
            score_hifigan = gr.Radio([1, 2, 3, 4, 5], label="HiFi-GAN clip", elem_id="tts-score-hifigan")
            score_gl = gr.Radio([1, 2, 3, 4, 5], label="Griffin-Lim clip", elem_id="tts-score-gl")
        comment = gr.Textbox(label="Comment (optional)", max_length=500)
        with gr.Row():
            rate_btn = gr.Button("Save rating", variant="primary")
            csv_btn = gr.Button("Download ratings CSV")
        rate_status = gr.Markdown()
        summary = gr.Dataframe(headers=["model", "vocoder", "ratings", "MOS", "+/- 95%", "raters"],
                               value=_summary_rows, interactive=False)
        csv_file = gr.File(label="mos_ratings.csv", interactive=False)

    outputs = [status, tokens, live_plot, growth_plot, stop_plot, postnet_plot, align_plot,
               diag_plot, enc_plot, hifigan_audio, gl_audio, step, steps_table, sentence,
               align_layer, align_head, enc_layer, describe, traces]  # OUTPUTS
    run.click(speak, [text, model_id, threshold, minlenratio, maxlenratio, seed, vocoder,
                      speaker_file, drop_unknown, split], outputs, api_name="tts_speak")
    step.release(show_step, [traces, sentence, step], live_plot, api_name="tts_step")
    play_btn.click(play, [traces, sentence], [live_plot, step], api_name="tts_play")
    gr.on([align_layer.change, align_head.change], show_alignment,
          [traces, sentence, align_layer, align_head], align_plot, api_name="tts_alignment")
    enc_layer.release(show_encoder, [traces, sentence, enc_layer], enc_plot, api_name="tts_encoder")
    sentence.release(show_sentence, [traces, sentence], outputs, api_name="tts_sentence")
    intel_btn.click(intelligibility, [traces, sentence], intel_out, api_name="tts_intelligibility")
    rate_btn.click(rate, [traces, sentence, rater, score_hifigan, score_gl, comment],
                   [rate_status, summary], api_name="tts_rate")
    csv_btn.click(ratings_csv, None, csv_file, api_name="tts_ratings_csv")


__all__ = ["TITLE", "build", "speak", "rate", "intelligibility", "ratings_csv"]
