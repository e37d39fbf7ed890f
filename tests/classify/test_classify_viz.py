"""Classification figures build from traces (never from models), stay small, and refuse the
wrong trace kind with a LabError."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lab.classify import three_heads, trace_classify  # noqa: E402
from lab.errors import LabError  # noqa: E402
from lab.viz import classify as V  # noqa: E402
from lab.viz.common import figure_bytes  # noqa: E402


@pytest.fixture(scope="module")
def traces(loaded, clip):
    return {k: trace_classify(clip, loaded[k], **({"pad_seconds": 0.3} if k == "wav2vec2-seq" else {}))
            for k in ("ast", "wav2vec2-seq", "wav2vec2-frame")}


@pytest.fixture(scope="module")
def padded_ast(loaded):
    sr = 16000
    t = np.arange(int(0.5 * sr)) / sr
    return trace_classify((sr, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)), loaded["ast"])


def test_ast_figures(traces, padded_ast):
    t = padded_ast
    fig = V.spectrogram_figure(t, patch=(2, 3))
    assert len(fig.layout.shapes) == 4  # the patch, its right / upper neighbours, the padding
    # content frames one column each, the padding in blocks
    z, edges = V.fbank_cells(t)
    n = t.meta["padded_from_frame"]
    assert z.shape[1] == len(edges) - 1 and z.shape[1] < t.meta["max_length"]
    assert edges[n] == pytest.approx(n / 100) and edges[-1] == pytest.approx(1.28)
    over = V.spectrogram_figure(t, overlay="cls", layer=0, head=1)
    assert over.data[1].z.shape == tuple(t.meta["patch_grid"])
    px = V.patch_figure(t, 2, 3)
    assert px.data[0].z.shape == (16, 16)
    assert list(px.data[0].y) == list(range(20, 36)) and list(px.data[0].x) == list(range(30, 46))
    pa = V.patch_attention_figure(t, 2, 3, layer=0)
    assert pa.data[1].z.shape == (2, 2)  # (layer, head)
    for f in (fig, over, px, pa, V.cls_attention_layers_figure(t), V.top_k_figure(t, 3)):
        assert figure_bytes(f) < 400_000


def test_patch_outside_the_grid_is_a_lab_error(padded_ast):
    with pytest.raises(LabError, match="outside"):
        V.patch_figure(padded_ast, 12, 0)
    with pytest.raises(LabError, match="layer"):
        V.patch_attention_figure(padded_ast, 0, 0, layer=5)
    with pytest.raises(LabError, match="overlay"):
        V.spectrogram_figure(padded_ast, overlay="saliency")


def test_top_k_bars_are_sorted(traces):
    fig = V.top_k_figure(traces["ast"], 4)
    xs = list(fig.data[0].x)
    assert len(xs) == 4 and xs == sorted(xs)  # drawn bottom-up: best on top
    assert fig.data[0].y[-1] == traces["ast"].meta["top_k"][0]["label"]


def test_sequence_and_frame_figures(traces):
    s, f = traces["wav2vec2-seq"], traces["wav2vec2-frame"]
    c = V.contribution_figure(s, label="yes")
    bars = c.data[2]
    assert len(bars.y) == s.meta["n_frames"]
    assert "yes" in c.layout.annotations[1].text
    assert len(c.layout.shapes) == 2  # the padding shaded in two rows
    assert V.pooling_figure(s).data[1].z.shape == (24, 1)
    tl = V.frame_timeline_figure(f)
    assert {d.name for d in tl.data if d.type == "bar"} <= set(f.meta["labels"])
    with pytest.raises(LabError):
        V.contribution_figure(f)
    with pytest.raises(LabError):
        V.frame_timeline_figure(s)
    with pytest.raises(LabError, match="unknown label"):
        V.contribution_figure(s, label="maybe")


def test_main_figures_and_static(traces, tmp_path):
    assert set(V.main_figures(traces["ast"])) == {"top_k", "spectrogram", "rollout"}
    assert set(V.main_figures(traces["wav2vec2-seq"])) == {"top_k", "contributions", "pooling"}
    assert set(V.main_figures(traces["wav2vec2-frame"])) == {"top_k", "timeline"}
    V.ast_overview(traces["ast"]).savefig(tmp_path / "a.png")
    V.frame_timeline_static(traces["wav2vec2-frame"]).savefig(tmp_path / "b.png")
    assert (tmp_path / "a.png").stat().st_size > 10_000


def test_heads_views(loaded):
    rows = three_heads(loaded["wav2vec2-seq"].model.config)
    md = V.heads_markdown(rows)
    assert md.count("\n| ") == 3 and "Wav2Vec2ForAudioFrameClassification" in md
    assert V.heads_table_figure(rows).data[0].type == "table"
    assert len(V.heads_diagram(rows).axes) == 1


def test_top_k_with_few_labels_has_readable_bars(traces):
    """k = 3 in a Gradio tab: the old 80 + 32 k px gave ~12 px bars and plotly thinned the y labels.
    Now: a minimum height, every label as an explicit tick, y margin sized to the labels."""
    fig = V.top_k_figure(traces["ast"], 3)
    lay = fig.layout
    plot_h = lay.height - lay.margin.t - lay.margin.b
    assert lay.height >= 220
    assert plot_h * (1 - lay.bargap) / 3 >= 25  # px per bar
    assert lay.yaxis.automargin and list(lay.yaxis.tickvals) == list(fig.data[0].y)
