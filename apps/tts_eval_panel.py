"""The TTS tab's evaluation panel: automatic intelligibility (the lab's Whisper transcribes the
generated audio; WER against the text) and a MOS listening panel whose ratings go to a CSV the
teacher collects.

Handlers (``api_name`` for gradio_client): ``/tts_intelligibility``, ``/tts_rate`` (append MOS
ratings), ``/tts_ratings_csv`` (download the CSV). They read the TTS tab's traces (``gr.State``)
and its sentence slider, handed to :func:`build`.
"""
from __future__ import annotations

import html
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from apps import common, factory
from apps.tts_tab import current, players
from lab.errors import LabError

RATE_OUTPUTS = common.Outputs("rate_status", "summary")
SCORES = [1, 2, 3, 4, 5]


@common.guarded(box=0)
def intelligibility(traces, sentence):
    """The lab's Whisper transcribes the generated audio (the main vocoder's); WER vs the text."""
    from lab.tts.intelligibility import check
    from lab.viz.wer import wer_html

    tr = current(traces, sentence)
    if tr is None or "tts.waveform" not in tr:
        raise LabError("generate speech first (press Speak)")
    whisper = factory.get(None, "whisper")
    r = check(tr["tts.waveform"].numpy(), int(tr.time_bases["sample"]), tr.meta["spoken_text"],
              whisper)
    head = (f"<p><b>Whisper heard:</b> {html.escape(r['hypothesis'] or '(nothing)')}<br>"
            f"<b>WER {r['wer']:.0%}</b>, CER {r['cer']:.0%} ({html.escape(r['whisper_model'])}, "
            f"{tr.meta.get('vocoder')} audio, {r['transcribe_s']:.1f} s)</p>")
    return head + wer_html(r)


def summary_rows() -> list[list]:
    """The MOS table: one row per (model, vocoder) with its mean score and 95% interval."""
    from lab.tts import mos

    return [[r["model"], r["vocoder"], r["n"], round(r["mos"], 2), round(r["ci95"], 2), r["raters"]]
            for r in mos.summary()]


@common.guarded(RATE_OUTPUTS, box="rate_status")
def rate(traces, sentence, rater, score_hifigan, score_gl, comment):
    """Append the given scores (1-5) for the clips on screen to the ratings CSV."""
    from lab.tts import mos

    tr = current(traces, sentence)
    if tr is None or "tts.waveform" not in tr:
        raise LabError("nothing to rate yet: press Speak first")
    rate_hz = int(tr.time_bases["sample"])
    hifi, gl, _ = players(tr)
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
    saved = f"saved {len(given)} rating(s) to `{path}` ({len(mos.read_ratings(path))} in total)"
    return RATE_OUTPUTS.values(rate_status=saved, summary=summary_rows())


@common.guarded()
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


def build(traces: gr.State, sentence: gr.Slider) -> None:
    """The panel (a closed accordion) under the TTS tab, reading its ``traces`` and ``sentence``."""
    from lab.tts import mos

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
            score_hifigan = gr.Radio(SCORES, label="HiFi-GAN clip", elem_id="tts-score-hifigan")
            score_gl = gr.Radio(SCORES, label="Griffin-Lim clip", elem_id="tts-score-gl")
        comment = gr.Textbox(label="Comment (optional)", max_length=500)
        with gr.Row():
            rate_btn = gr.Button("Save rating", variant="primary")
            csv_btn = gr.Button("Download ratings CSV")
        rate_status = gr.Markdown()
        summary = gr.Dataframe(headers=["model", "vocoder", "ratings", "MOS", "+/- 95%", "raters"],
                               value=summary_rows, interactive=False)
        csv_file = gr.File(label="mos_ratings.csv", interactive=False)

    intel_btn.click(intelligibility, [traces, sentence], intel_out, api_name="tts_intelligibility")
    rate_btn.click(rate, [traces, sentence, rater, score_hifigan, score_gl, comment],
                   RATE_OUTPUTS.components(locals()), api_name="tts_rate")
    csv_btn.click(ratings_csv, None, csv_file, api_name="tts_ratings_csv")
