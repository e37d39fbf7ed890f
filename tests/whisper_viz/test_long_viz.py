"""The whole-recording figures (lab/viz/whisper_long.py, whisper_segments.py) on a hand-made
LongResult-shaped input: every window drawn, fallback and skip marked, spans within duration.
The real trace_long output is drawn in tests/app/test_whisper_long_tab.py."""
from __future__ import annotations

import numpy as np
import pytest

from lab.errors import LabError
from lab.viz import whisper_long as lv
from lab.viz import whisper_segments as sv

SR = 16000
DUR = 70.0


@pytest.fixture(scope="module")
def samples():
    return (0.1 * np.sin(np.arange(int(DUR * SR)) / 40.0)).astype(np.float32)


def _windows():
    return [
        dict(index=0, start=0.0, end=27.4, decoded_end=30.0, end_reason="last_timestamp",
             temperature=0.0, fallbacks=[], no_speech_prob=0.01, skipped=False, text="hello there"),
        dict(index=1, start=27.4, end=57.4, decoded_end=57.4, end_reason="single_timestamp",
             temperature=0.4, no_speech_prob=0.05, skipped=False, text="again <b>x</b>",
             fallbacks=[dict(temperature=0.0, reasons=["compression_ratio"], compression_ratio=3.1,
                             avg_logprob=-0.2),
                        dict(temperature=0.2, reason="avg_logprob", compression_ratio=1.2,
                             avg_logprob=-1.4)]),
        dict(index=2, start=57.4, end=DUR, decoded_end=DUR, end_reason="no_speech",
             temperature=0.0, fallbacks=[], no_speech_prob=0.93, skipped=True, text=""),
    ]


SEGMENTS = [dict(start=0.0, end=12.0, text="hello"), dict(start=12.0, end=27.4, text=" there"),
            dict(start=27.4, end=57.4, text="again")]
WORDS = [dict(word="hello", start=0.5, end=1.0, probability=0.9),
         dict(word="there", start=12.2, end=12.8), dict(word="again", start=30.0, end=30.6)]


def test_every_window_is_drawn_and_marked(samples):
    fig = lv.long_form_figure(samples, _windows(), SEGMENTS, WORDS, selected=1)
    hover = next(d for d in fig.data if d.name == "windows")
    assert list(hover.customdata) == [0, 1, 2]
    texts = [a.text for a in fig.layout.annotations]
    assert texts == ["W0", "W1 T=0.4", "W2 skip"]
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    fills = [s for s in rects if s.fillcolor and s.fillcolor != "rgba(0,0,0,0)"
             and s.line.dash != "dot"]
    assert len(fills) == 3
    assert fills[1].line.color == lv.FALLBACK and fills[1].line.width == 3
    assert fills[2].fillcolor == lv.SKIPPED
    # window 0 decoded 27.4..30 s without consuming it: a dotted outline there
    assert any(s.line.dash == "dot" and s.x0 == 27.4 and s.x1 == 30.0 for s in rects)
    assert sum(s.line.color == lv.SELECTED for s in rects) == 1
    assert "compression_ratio" in hover.text[1] and "avg_logprob" in hover.text[1]
    assert "&lt;b&gt;" in hover.text[1]  # window text escaped
    assert fig.layout.xaxis2.title.text == "time (s)" and tuple(fig.layout.xaxis.range) == (0, DUR)
    for bar in (d for d in fig.data if d.type == "bar"):
        ends = np.asarray(bar.base) + np.asarray(bar.x)
        assert (np.asarray(bar.base) >= 0).all() and (ends <= DUR + 1e-6).all()
    assert {d.name for d in fig.data if d.type == "bar"} == {"segment", "word"}
    assert "1 fell back, 1 skipped" in fig.layout.title.text


def test_window_table_and_labels():
    rows = lv.window_rows(_windows())
    assert lv.window_label(rows[1]).endswith("fell back to T=0.4")
    assert "skipped" in lv.window_label(rows[2])
    table = lv.windows_html(_windows(), selected=2)
    assert table.count("<tr") == 4 and "T=0.0: compression_ratio" in table
    assert "<b>x</b>" not in table and "outline:2px" in table


def test_old_pairs_and_missing_keys_still_draw(samples):
    fig = lv.long_form_figure(samples, [(0.0, 30.0), (30.0, DUR)])
    assert [a.text for a in fig.layout.annotations] == ["W0", "W1"]
    with pytest.raises(LabError):
        lv.long_form_figure(samples, [])


def test_segments_figure_within_duration(samples):
    fig = sv.segments_figure(samples[: 30 * SR], SEGMENTS[:2], WORDS[:2])
    bars = [d for d in fig.data if d.type == "bar"]
    assert [b.name for b in bars] == ["segment", "word"] and len(bars[0].base) == 2
    for b in bars:
        assert (np.asarray(b.base) + np.asarray(b.x) <= 30.0 + 1e-6).all()
    assert "p=0.90" in bars[1].customdata[0][3]
    with pytest.raises(LabError, match="timestamp"):
        sv.segments_figure(samples, [])
