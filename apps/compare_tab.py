"""The Compare tab: the same clip through a CTC model and through Whisper, side by side.

Texts, WER/CER against a reference, wall time, and the sequence length at every stage (samples,
feature or mel frames, encoder frames, output tokens). Handler: ``/compare``.
"""
from __future__ import annotations

import html

import gradio as gr

from apps import common, factory, trace_io
from apps.ctc_tab import default_model as default_ctc
from lab import models

TITLE = "Compare"

ABOUT = """### CTC vs Whisper on the same clip
CTC: **one forward pass**, one token per 20 ms frame, collapsed afterwards. Whisper: the clip is
padded to **30 s** (3000 mel frames), encoded to 1500 frames, then the decoder runs **once per
output token**. Same audio, very different amounts of work -- and different mistakes."""

OUTPUTS = common.Outputs("table", "lengths", "ctc_wer", "whisper_wer")


def whisper_choices() -> list[tuple[str, str]]:
    return common.model_choices("whisper", labelled=True)


@common.guarded(OUTPUTS, box="table")
def run_compare(audio, ctc_model, whisper_model, reference):
    """(summary table HTML, lengths figure, CTC WER HTML, Whisper WER HTML)."""
    common.require_audio(audio)
    from lab.ctc.compare import compare
    from lab.viz.ctc_compare import compare_html, lengths_figure
    from lab.viz.wer import wer_html

    ctc = factory.get(ctc_model or default_ctc(), "ctc")
    whisper = factory.get(whisper_model or models.DEFAULTS["whisper"], "whisper")
    rows = compare(audio, ctc, whisper, reference)
    ctc_wer, whisper_wer = (f"<b>{html.escape(r['family'])}</b>" + wer_html(r["wer"])
                            if r["wer"] and r["wer"]["wer"] is not None else "" for r in rows)
    return OUTPUTS.values(table=compare_html(rows), lengths=lengths_figure(rows),
                          ctc_wer=ctc_wer, whisper_wer=whisper_wer)


def build() -> None:
    gr.Markdown(ABOUT)
    with gr.Row():
        with gr.Column(scale=2):
            audio = common.audio_input("Audio (<= 30 s)", elem_id="compare-audio")
            reference = gr.Textbox(label="Reference text (for WER / CER)", lines=1)
        with gr.Column(scale=1):
            ctc_model = gr.Dropdown(common.model_choices("ctc"), value=default_ctc(),
                                    allow_custom_value=True, label="CTC model")
            whisper_model = gr.Dropdown(whisper_choices(), value=models.DEFAULTS["whisper"],
                                        allow_custom_value=True, label="Whisper model")
            run = gr.Button("Compare", variant="primary", elem_id="compare-run")
    common.examples(audio, reference)
    table = gr.HTML(elem_id="compare-table")
    lengths = trace_io.Plot(label="Sequence length at every stage", elem_id="compare-lengths")
    with gr.Row():
        ctc_wer = gr.HTML(elem_id="compare-ctc-wer")
        whisper_wer = gr.HTML(elem_id="compare-whisper-wer")
    run.click(run_compare, [audio, ctc_model, whisper_model, reference],
              OUTPUTS.components(locals()), api_name="compare")
