"""The language-step figure, the prompt chips and the probability-coloured word timeline, on
synthetic traces (no model)."""
from __future__ import annotations

import numpy as np
import torch
from transformers.models.whisper.tokenization_whisper import LANGUAGES

from lab.trace import Trace
from lab.viz.whisper_language import CHOSEN, DETECTED, ENGLISH_ONLY, language_figure, prompt_html
from lab.viz.whisper_words import word_timeline_figure

CODES = list(LANGUAGES)[:99]


def _trace(language="de", source="detected", probs=None):
    tr = Trace(family="whisper")
    if probs is None:
        probs = torch.full((99,), 0.2 / 98)
        probs[CODES.index("de")] = 0.8
    tr.add("decoder.language_probs", probs, ("language",))
    top = torch.argsort(probs, descending=True)
    tr.meta.update(language=language, language_source=source, language_codes=CODES,
                   detected_language=CODES[int(top[0])],
                   language_probs=[{"language": CODES[int(j)], "prob": float(probs[j])} for j in top[:10]],
                   prompt=[{"token_id": 50258, "token": "<|startoftranscript|>", "role": "sot"},
                           {"token_id": 50261, "token": f"<|{language}|>", "role": "language"},
                           {"token_id": 50359, "token": "<|transcribe|>", "role": "task"},
                           {"token_id": 50363, "token": "<|notimestamps|>", "role": "no_timestamps"}])
    return tr


def test_language_figure_top10_chosen_red():
    fig = language_figure(_trace())
    bar = fig.data[0]
    assert len(bar.y) == 10 and bar.y[0] == "German (de)" and list(bar.marker.color).count(CHOSEN) == 1
    assert bar.marker.color[0] == CHOSEN and list(bar.x) == sorted(bar.x, reverse=True)
    assert fig.layout.title.text == "Language step: German (de), p = 80.0%"


def test_forced_language_outside_the_top10_is_added():
    probs = torch.softmax(torch.linspace(5, 0, 99), 0)  # en most likely, ..., last code least
    last = CODES[-1]
    fig = language_figure(_trace(language=last, source="forced", probs=probs))
    bar = fig.data[0]
    assert len(bar.y) == 11 and bar.y[-1].endswith("#99") and bar.marker.color[-1] == CHOSEN
    assert bar.marker.color[0] == DETECTED and "Language forced" in fig.layout.title.text


def test_english_only_figure_and_prompt():
    tr = Trace(family="whisper")
    tr.meta.update(language=None, language_source=None,
                   prompt=[{"token_id": 50257, "token": "<|startoftranscript|>", "role": "sot"},
                           {"token_id": 50362, "token": "<|notimestamps|>", "role": "no_timestamps"}])
    fig = language_figure(tr)
    assert not fig.data and fig.layout.annotations[0].text == ENGLISH_ONLY
    assert ENGLISH_ONLY in prompt_html(tr)


def test_prompt_chips():
    tr = _trace()
    html = prompt_html(tr)
    assert html.count('class="wl-chip"') == 4 and "&lt;|de|&gt;" in html and "detected 80%" in html
    tr.meta["prompt"] = tr.meta["prompt"][:3]  # timestamp-token mode: no <|notimestamps|>
    tr.meta["language_source"] = "forced"
    html = prompt_html(tr)
    assert "forced" in html and "timestamp tokens are on" in html and ENGLISH_ONLY not in html
    tr.meta["prompt"][0]["token"] = "<script>"
    assert "<script>" not in prompt_html(tr)


def test_word_spans_coloured_by_probability():
    samples = np.zeros(16000 * 2, dtype=np.float32)
    words = [{"word": " sure", "start": 0.1, "end": 0.5, "probability": 0.99},
             {"word": " unsure", "start": 0.6, "end": 1.2, "probability": 0.05}]
    fig = word_timeline_figure(samples, words)
    fills = [s.fillcolor for s in fig.layout.shapes]
    rgb = [tuple(int(v) for v in f[5:-1].split(",")[:3]) for f in fills]
    assert rgb[0][1] > rgb[0][0] and rgb[1][0] > rgb[1][1]  # green when sure, red when not
    marker = fig.data[-1].marker
    assert marker.showscale is True and list(marker.color) == [0.99, 0.05]
    assert "word probability" in fig.data[-1].hovertemplate
    plain = word_timeline_figure(samples, [dict(w, probability=None) for w in words])
    assert not plain.data[-1].marker.showscale
