"""The Compare tab: the same clip through a CTC model and through Whisper, side by side.

Texts, WER/CER against a reference, wall time, and the sequence length at every stage (samples,
feature or mel frames, encoder frames, output tokens). Handler: ``/compare``.
"""
from __future__ import annotations

import html
import logging

import gradio as gr

from apps import factory
from apps.ctc_tab import default_model as default_ctc
from apps.ctc_tab import model_choices as ctc_choices
from lab import models
from lab.errors import LabError

TITLE = "Compare"
log = logging.getLogger(__name__)

ABOUT = """### CTC vs Whisper on the same clip
CTC: **one forward pass**, one token per 20 ms frame, collapsed afterwards. Whisper: the clip is
padded to **30 s** (3000 mel frames), encoded to 1500 frames, then the decoder runs **once per
output token**. Same audio, very different amounts of work -- and different mistakes."""


def whisper_choices() -> list[str]:
    from apps.whisper_tab import model_choices

    return model_choices()


def _error_box(msg: str) -> str:
    return f'<div style="border:2px solid #d62728;border-radius:6px;padding:8px"><b>Error:</b> {html.escape(msg)}</div>'


def run_compare(audio, ctc_model, whisper_model, reference):
    """(summary table HTML, lengths figure, CTC WER HTML, Whisper WER HTML)."""
    try:
        if not audio:
            raise LabError("no audio: upload a file, record with the microphone or pick an example")
        from lab.ctc.compare import compare
        from lab.viz.ctc_compare import compare_html, lengths_figure

        ctc = factory.get(ctc_model or default_ctc(), "ctc")
        whisper = factory.get(whisper_model or models.DEFAULTS["whisper"], "whisper")
        rows = compare(audio, ctc, whisper, reference)
        wers = []
        for r in rows:
            if r["wer"] and r["wer"]["wer"] is not None:
                from lab.viz.wer import wer_html

                wers.append(f"<b>{html.escape(r['family'])}</b>" + wer_html(r["wer"]))
            else:
                wers.append("")
        return compare_html(rows), lengths_figure(rows), wers[0], wers[1]
    except LabError as exc:
        gr.Warning(str(exc))
        return _error_box(str(exc)), gr.skip(), gr.skip(), gr.skip()
    except Exception as exc:
        log.exception("compare failed")
        msg = f"internal error ({type(exc).__name__}): {exc}"
        gr.Warning(msg)
        return _error_box(msg), gr.skip(), gr.skip(), gr.skip()


def build() -> None:
    from apps.whisper_tab import example_rows

    gr.Markdown(ABOUT)
    with gr.Row():
        with gr.Column(scale=2):
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Audio (<= 30 s)",
                             elem_id="compare-audio")
            reference = gr.Textbox(label="Reference text (for WER / CER)", lines=1)
        with gr.Column(scale=1):
            ctc_model = gr.Dropdown(ctc_choices(), value=default_ctc(), allow_custom_value=True,
                                    label="CTC model")
            whisper_model = gr.Dropdown(whisper_choices(), value=models.DEFAULTS["whisper"],
                                        allow_custom_value=True, label="Whisper model")
            run = gr.Button("Compare", variant="primary", elem_id="compare-run")
    rows = example_rows()
    if rows:
        gr.Examples(rows, inputs=[audio, reference], label="Example clips (espeak-ng voices)")
    table = gr.HTML(elem_id="compare-table")
    lengths = gr.Plot(label="Sequence length at every stage", elem_id="compare-lengths")
    with gr.Row():
        ctc_wer = gr.HTML(elem_id="compare-ctc-wer")
        whisper_wer = gr.HTML(elem_id="compare-whisper-wer")
    run.click(run_compare, [audio, ctc_model, whisper_model, reference],
              [table, lengths, ctc_wer, whisper_wer], api_name="compare")
