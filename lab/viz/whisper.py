"""Whisper figures (plotly, for notebooks and the app). Each takes a Whisper ``Trace`` (names
and axes: ``lab/whisper/names.py``) or plain arrays plus options and returns a figure;
nothing here loads a model. Time axes are in seconds.

=================================  ==========================================================
``log_mel_figure``                 the 80 x 3000 log-mel input, padding shaded
``encoder_attention_figure``       encoder self-attention of one layer/head (query x key time)
``cross_attention_figure``         one decoder step: where it listens, over the log-mel, with
                                   its top-k bars (``step_figure`` is the same function)
``top_k_figure``                   one step's top-k candidates, the chosen one highlighted
``cross_attention_map_figure``     every step's cross-attention against time (the diagonal)
``decoder_self_attention_figure``  one step's self-attention over the prefix tokens
``beam_tree_figure``               the beam-search tree, scores on hover
``word_timeline_figure``           word spans over the waveform, with a time cursor
``transcript_html``                the tokens, shaded by confidence, one step boxed
``lab.viz.wer.wer_figure``         WER alignment (also ``wer_html``)
``segments_figure``                timestamp-token segments next to the DTW words
``long_form_figure``               a whole recording: the long-form windows over the waveform,
                                   fallbacks, skips, segments, words (``windows_html``: table)
=================================  ==========================================================
"""
from __future__ import annotations

from .wer import wer_figure, wer_html
from .whisper_beam import beam_tree_figure
from .whisper_common import (content_seconds, cross_attention_matrix, step_cross_attention,
                             step_time, word_of_step)
from .whisper_mel import encoder_attention_figure, log_mel_figure
from .whisper_step import (cross_attention_figure, cross_attention_map_figure,
                           decoder_self_attention_figure, step_figure, top_k_figure,
                           transcript_html)
from .whisper_words import word_timeline_figure
from .whisper_long import long_form_figure, long_result_figure, windows_html
from .whisper_segments import segments_figure

__all__ = [
    "log_mel_figure", "encoder_attention_figure", "cross_attention_figure", "step_figure",
    "top_k_figure", "cross_attention_map_figure", "decoder_self_attention_figure",
    "beam_tree_figure", "word_timeline_figure", "transcript_html", "wer_figure", "wer_html",
    "step_cross_attention", "cross_attention_matrix", "step_time", "word_of_step",
    "content_seconds", "figure_sizes", "segments_figure", "long_form_figure",
    "long_result_figure", "windows_html",
]


def figure_sizes(trace, step: int | None = None) -> dict[str, int]:
    """Bytes of JSON each Whisper figure sends to the browser for ``trace`` (for benchmarks):
    ``step`` defaults to the middle step. Figures the trace lacks data for are left out."""
    from ..errors import LabError
    from .common import figure_bytes

    s = len(trace.steps) // 2 if step is None else step
    makers = {
        "log_mel": lambda: log_mel_figure(trace),
        "encoder_attention": lambda: encoder_attention_figure(trace, 0, 0),
        "encoder_attention_all": lambda: encoder_attention_figure(trace, 0, 0, crop="all"),
        "step": lambda: step_figure(trace, s),
        "cross_attention_map": lambda: cross_attention_map_figure(trace, step=s),
        "decoder_self_attention": lambda: decoder_self_attention_figure(trace, s),
        "word_timeline": lambda: word_timeline_figure(trace, cursor=step_time(trace, s)[0]),
        "beam_tree": lambda: beam_tree_figure(trace),
        "wer": lambda: wer_figure(trace.meta["wer"]),
    }
    sizes = {}
    for name, make in makers.items():
        try:
            sizes[name] = figure_bytes(make())
        except (LabError, KeyError):
            continue
    return sizes
