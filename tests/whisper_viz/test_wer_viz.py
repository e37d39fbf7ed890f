"""WER alignment figure and HTML."""
import pytest

from lab.errors import LabError
from lab.viz.wer import OP_COLORS, alignment_columns, wer_figure, wer_html

ALIGN = {"wer": 0.6, "cer": 0.2, "hits": 2, "substitutions": 1, "deletions": 1, "insertions": 1,
         "ops": [{"type": "equal", "ref": ["the", "cat"], "hyp": ["the", "cat"]},
                 {"type": "substitute", "ref": ["sat"], "hyp": ["sad"]},
                 {"type": "delete", "ref": ["on"], "hyp": []},
                 {"type": "insert", "ref": [], "hyp": ["<x>"]}]}


def test_columns_expand_ops():
    cols = alignment_columns(ALIGN)
    assert cols == [("equal", "the", "the"), ("equal", "cat", "cat"), ("substitute", "sat", "sad"),
                    ("delete", "on", None), ("insert", None, "<x>")]
    with pytest.raises(LabError):
        alignment_columns({"wer": 0})


def test_wer_figure_colours_each_edit():
    fig = wer_figure(ALIGN)
    bars = fig.data[0]
    assert len(bars.x) == 2 * 5  # a ref box and a hyp box per column
    colors = list(bars.marker.color)
    assert colors[4] == colors[5] == OP_COLORS["substitute"]
    assert colors[6] == OP_COLORS["delete"] and colors[8] == OP_COLORS["insert"]
    assert list(bars.text)[7] == "—" and list(bars.text)[9] == "&lt;x&gt;"
    assert "WER 60.0%" in fig.layout.title.text
    assert set(bars.y) == {"ref 1", "hyp 1"}


def test_wer_figure_wraps_long_alignments():
    ops = [{"type": "equal", "ref": ["word"] * 60, "hyp": ["word"] * 60}]
    fig = wer_figure({"wer": 0, "ops": ops}, line_chars=40)
    rows = set(fig.data[0].y)
    assert len(rows) == 2 * 8  # 60 columns of 5 chars, 8 per 40-char line
    assert max(b + w for b, w in zip(fig.data[0].base, fig.data[0].x)) <= 40


def test_wer_html_escapes_and_colours():
    h = wer_html(ALIGN)
    assert "&lt;x&gt;" in h and "<x>" not in h
    assert OP_COLORS["delete"] in h and "WER 60.0%" in h
