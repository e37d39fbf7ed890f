"""Whisper figures on hand-built traces: shapes, seconds axes, padding shading, pooling, sizes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lab.errors import LabError
from lab.viz import whisper as wv
from lab.viz.common import figure_bytes
from lab.viz.whisper_common import mel_grid, step_cross_attention, waveform_envelope

from fake_whisper_trace import make_fake_trace


def _z(trace_obj):
    return np.asarray(trace_obj.z)


def _padding_rects(fig):
    return [s for s in fig.layout.shapes if s.type == "rect" and s.fillcolor
            and "255,255,255" in s.fillcolor]


def test_mel_grid_keeps_content_and_pools_padding():
    mel = np.zeros((80, 3000), np.float32)
    mel[:, :300] = np.arange(300)
    edges, z = mel_grid(mel, 300, max_cells=120_000, pad_block=50)
    assert z.shape == (80, 300 + 54)  # 300 content frames kept, 2700 padding frames in 54 blocks
    assert edges.shape == (z.shape[1] + 1,)
    assert edges[0] == 0 and edges[300] == pytest.approx(3.0) and edges[-1] == pytest.approx(30.0)
    np.testing.assert_array_equal(z[0, :300], np.arange(300))
    assert np.all(np.diff(edges) > 0)


def test_mel_grid_pools_long_content_under_budget():
    mel = np.random.default_rng(0).normal(size=(80, 3000)).astype(np.float32)
    edges, z = mel_grid(mel, 3000, max_cells=120_000)
    assert z.size <= 120_000 and z.shape[1] == 1500
    assert edges[-1] == pytest.approx(30.0)
    np.testing.assert_allclose(z[:, 0], mel[:, :2].mean(axis=1), rtol=1e-5)


def test_log_mel_figure_seconds_axis_and_padding(fake_trace):
    fig = wv.log_mel_figure(fake_trace, cursor=1.0)
    hm = fig.data[0]
    assert hm.type == "heatmap"
    x = np.asarray(hm.x)
    assert x[0] == 0 and x[-1] == pytest.approx(30.0)  # seconds, the whole window
    assert _z(hm).shape[0] == 80 and _z(hm).shape[1] == len(x) - 1
    pads = _padding_rects(fig)
    assert len(pads) == 1 and pads[0].x0 == pytest.approx(3.0) and pads[0].x1 == pytest.approx(30.0)
    assert any(a.text and "padding" in a.text for a in fig.layout.annotations)
    assert any(s.type == "line" and s.x0 == 1.0 for s in fig.layout.shapes)  # the cursor
    assert list(fig.layout.xaxis.range) == [0, 30.0]


def test_log_mel_figure_from_array_no_padding():
    mel = np.random.default_rng(1).normal(size=(80, 500)).astype(np.float32)
    fig = wv.log_mel_figure(mel)
    assert not _padding_rects(fig)
    assert np.asarray(fig.data[0].x)[-1] == pytest.approx(5.0)
    with pytest.raises(LabError):
        wv.log_mel_figure(np.zeros(10))


def test_encoder_attention_crops_to_content_in_seconds(fake_trace):
    fig = wv.encoder_attention_figure(fake_trace, layer=1, head=2)
    hm = fig.data[0]
    z = _z(hm)
    # 3 s + 0.5 s margin at 50 frames/s = 175 frames, small enough to stay unpooled
    assert z.shape == (175, 175)
    expected = fake_trace["encoder.layers.1.attn.pattern"][2, :175, :175].float().numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-6)
    assert hm.dx == pytest.approx(0.02) and hm.x0 == pytest.approx(0.01)
    assert list(fig.layout.xaxis.range) == [0, 3.5]
    assert len(_padding_rects(fig)) == 2  # key and query padding


def test_encoder_attention_all_is_pooled(fake_trace):
    fig = wv.encoder_attention_figure(fake_trace, layer=0, head=0, crop="all", max_cells=90_000)
    z = _z(fig.data[0])
    assert z.size <= 90_000
    assert z.shape[0] * fig.data[0].dy == pytest.approx(30.0)
    full = fake_trace["encoder.layers.0.attn.pattern"][0].float().numpy()
    assert z.max() == pytest.approx(full.max())  # max-pooling keeps the sharpest peak
    with pytest.raises(LabError, match="head 7 out of range"):
        wv.encoder_attention_figure(fake_trace, 0, 7)
    with pytest.raises(LabError, match="no encoder attention for layer 5"):
        wv.encoder_attention_figure(fake_trace, 5, 0)


def test_step_cross_attention_head_choices(fake_trace):
    p = fake_trace["decoder.step.2.cross_attn.pattern"].float().numpy()
    w, label = step_cross_attention(fake_trace, 2)  # alignment heads (1,0) and (1,2)
    np.testing.assert_allclose(w, (p[1, 0] + p[1, 2]) / 2, rtol=1e-6)
    assert "alignment" in label and w.sum() == pytest.approx(1.0, abs=1e-5)
    w, _ = step_cross_attention(fake_trace, 2, (0, 1))
    np.testing.assert_allclose(w, p[0, 1])
    w, _ = step_cross_attention(fake_trace, 2, "layer:0")
    np.testing.assert_allclose(w, p[0].mean(axis=0), rtol=1e-6)
    w, _ = step_cross_attention(fake_trace, 2, "all")
    np.testing.assert_allclose(w, p.mean(axis=(0, 1)), rtol=1e-6)
    with pytest.raises(LabError, match="out of range"):
        step_cross_attention(fake_trace, 99)
    with pytest.raises(LabError, match="out of range"):
        step_cross_attention(fake_trace, 0, (5, 0))


def test_step_figure_links_attention_mel_and_top_k(fake_trace):
    fig = wv.step_figure(fake_trace, 2)
    kinds = [d.type for d in fig.data]
    assert kinds == ["heatmap", "scatter", "bar"]
    backdrop = _z(fig.data[0])  # the log-mel backdrop goes as 8-bit levels (no hover on it)
    assert backdrop.dtype == np.uint8 and backdrop.min() == 0 and backdrop.max() == 255
    curve = fig.data[1]
    assert len(curve.y) == 1500 and curve.x0 == pytest.approx(0.01) and curve.dx == pytest.approx(0.02)
    assert curve.yaxis != fig.data[0].yaxis and curve.xaxis == fig.data[0].xaxis  # overlaid
    assert list(fig.layout.xaxis.range) == [0.0, 4.0]  # content 3 s + 1 s
    bar = fig.data[2]
    step = fake_trace.steps[2]
    assert len(bar.x) == len(step["top_k"])
    chosen = [c for c, cid in zip(bar.marker.color, bar.customdata) if cid == step["token_id"]]
    assert chosen == ["#ff7f0e"]
    assert sorted(bar.x, reverse=True) == [t["prob"] for t in step["top_k"]]
    assert "again" in fig.layout.title.text
    assert _padding_rects(fig)


def test_top_k_adds_chosen_token_when_outside_k(fake_trace):
    fake_trace.steps[1]["token_id"] = 12345
    fig = wv.top_k_figure(fake_trace, 1, k=3)
    assert len(fig.data[0].x) == 4 and fig.data[0].marker.color[0] == "#ff7f0e"


def test_cross_attention_map_rows_are_steps(fake_trace):
    fig = wv.cross_attention_map_figure(fake_trace, step=3)
    z = _z(fig.data[0])
    assert z.shape[0] == len(fake_trace.steps)
    assert np.allclose(z.max(axis=1), 1.0)
    peaks = z.argmax(axis=1)
    assert np.all(np.diff(peaks[:-1]) >= 0)  # the fake decode reads left to right
    assert any(s.type == "rect" and s.y0 == 2.5 for s in fig.layout.shapes)


def test_decoder_self_attention_labels_prefix(fake_trace):
    fig = wv.decoder_self_attention_figure(fake_trace, 3)
    z = _z(fig.data[0])
    assert z.shape == (2 * 3, 2 + 3)
    assert list(fig.data[0].x)[0].startswith("0:<|startoftranscript")
    np.testing.assert_allclose(z.sum(axis=1), 1.0, rtol=1e-5)


def test_transcript_html_marks_step_and_escapes(fake_trace):
    fake_trace.steps[0]["token"] = " <b>"
    h = wv.transcript_html(fake_trace, step=1)
    assert "&lt;b&gt;" in h and "<b>" not in h
    assert h.count("outline") == 1 and 'data-step="1" style="background' in h
    assert "color:#888" in h  # the special end-of-text token


def test_beam_tree_nodes_edges_and_best_path(fake_trace):
    beam = fake_trace.meta["beam"]
    fig = wv.beam_tree_figure(fake_trace)
    marker_traces = [d for d in fig.data if d.mode == "markers+text"]
    assert sum(len(d.x) for d in marker_traces) == len(beam["nodes"])
    assert {d.name for d in marker_traces} == {"alive", "finished", "pruned"}
    edges, best = fig.data[0], fig.data[1]
    n_edges = len(beam["nodes"]) - 1
    assert (len(edges.x) + len(best.x)) // 3 == n_edges
    assert len(best.x) // 3 == 3  # root -> 3 steps of the best finished hypothesis
    assert all(d.customdata is not None for d in marker_traces)
    with pytest.raises(LabError, match="no beam"):
        wv.beam_tree_figure({"nodes": []})


def test_word_timeline_spans_and_cursor(fake_trace):
    fig = wv.word_timeline_figure(fake_trace, cursor=1.3, highlight=(1.2, 1.8))
    words = fake_trace.meta["words"]
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == len(words) + 1
    assert [(r.x0, r.x1) for r in rects[:len(words)]] == [(w["start"], w["end"]) for w in words]
    labels = [a.text for a in fig.layout.annotations]
    assert labels == [w["word"].strip() for w in words]
    assert list(fig.layout.xaxis.range) == [0, 3.0]
    assert any(s.type == "line" and s.x0 == 1.3 for s in fig.layout.shapes)
    assert len(fig.data[0].x) <= 2000


def test_word_timeline_window_follows_cursor():
    t = make_fake_trace(20.0, n_steps=6, enc_layers=1, beam=False)
    assert list(wv.word_timeline_figure(t, cursor=12.0, window=8).layout.xaxis.range) == [8.0, 16.0]
    assert list(wv.word_timeline_figure(t, cursor=19.5, window=8).layout.xaxis.range) == [12.0, 20.0]
    assert list(wv.word_timeline_figure(t, cursor=1.0, window=30).layout.xaxis.range) == [0, 20.0]


def test_waveform_envelope_bounds():
    x = np.sin(np.linspace(0, 100, 48_000)).astype(np.float32)
    t, lo, hi = waveform_envelope(x, 16000, max_points=500)
    assert len(t) <= 500 and np.all(lo <= hi) and hi.max() == pytest.approx(x.max())
    assert t[-1] < 3.0


def test_figures_reject_empty_captures():
    t = make_fake_trace(2.0, n_steps=3, beam=False)
    for name in list(t.tensors):
        if name.endswith("attn.pattern"):
            del t.tensors[name]
    with pytest.raises(LabError, match="came back empty"):
        wv.encoder_attention_figure(t, 0, 0)
    with pytest.raises(LabError, match="came back empty"):
        wv.step_figure(t, 0)


def test_30s_figure_payloads_stay_small(fake_trace_30s):
    t = fake_trace_30s
    sizes = {
        "log_mel": figure_bytes(wv.log_mel_figure(t)),
        "encoder_attention": figure_bytes(wv.encoder_attention_figure(t, 0, 0)),
        "step": figure_bytes(wv.step_figure(t, 5)),
        "cross_map": figure_bytes(wv.cross_attention_map_figure(t)),
        "beam": figure_bytes(wv.beam_tree_figure(t)),
        "words": figure_bytes(wv.word_timeline_figure(t)),
        "wer": figure_bytes(wv.wer_figure(t.meta["wer"])),
    }
    assert all(v < 1_200_000 for v in sizes.values()), sizes
    json.dumps(sizes)


def test_static_overview_has_three_time_aligned_panels(fake_trace):
    import matplotlib

    matplotlib.use("Agg")
    from lab.viz.whisper_static import overview_figure

    fig = overview_figure(fake_trace)
    axes = fig.get_axes()
    assert len(axes) == 3
    assert axes[2].get_xlim() == pytest.approx((0, 3.5))  # the clip + 0.5 s of padding
    assert len(axes[1].get_yticklabels()) == len(fake_trace.steps)
    assert [t.get_text() for t in axes[2].texts] == [w["word"].strip() for w in fake_trace.meta["words"]]
