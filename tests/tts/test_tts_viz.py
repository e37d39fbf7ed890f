"""TTS figures read the right tensors, stay small, and render."""
import io

import numpy as np
import pytest
import torch

from lab.trace import Trace
from lab.tts import trace_tts
from lab.viz import tts as tv
from lab.viz.common import figure_bytes


@pytest.fixture(scope="module")
def tr(tts_long):
    return trace_tts("A short test sentence.", tts_long, maxlenratio=2.0, vocoder="griffin-lim")


def test_growth_figure_curtain_and_slider(tr):
    fig = tv.growth_figure(tr, max_frames=10)
    n = tr.meta["n_steps"]
    heat, curtain = fig.data[0], fig.data[1]
    assert np.allclose(np.asarray(heat.z), tr["tts.mel_pre_postnet"].numpy().T)
    assert curtain.x[0] == pytest.approx(n * 2 / 62.5)  # the complete spectrogram is uncovered
    steps = fig.layout.sliders[0].steps
    assert len(steps) == len(fig.frames) == 10 and steps[-1].label == str(n - 1)
    s = int(steps[3].label)
    assert steps[3].args[0]["x"][0][0] == pytest.approx((s + 1) * 2 / 62.5)  # curtain at step s
    assert steps[3].args[0]["y"][2] == [pytest.approx(float(tr["tts.stop_prob"][s]))]
    assert not tv.growth_figure(tr, animate=False).frames


def test_step_figure_hides_the_future(tr):
    fig = tv.step_figure(tr, 3)
    z = np.asarray(fig.data[0].z, dtype=float)  # (mel_bin, mel_frame)
    assert np.isfinite(z[:, :8]).all() and np.isnan(z[:, 8:]).all()
    bars = np.asarray(fig.data[1].x)
    assert np.allclose(bars, tr["tts.cross_attn"][3].float().mean(dim=(0, 1)).numpy(), atol=1e-3)


def test_stop_figure_marks_threshold_and_stop(tr):
    fig = tv.stop_figure(tr)
    stop = [d for d in fig.data if (d.name or "").startswith("stopped")][0]
    assert stop.x[0] == tr.meta["stop_step"] and stop.name == "stopped: max_length"
    assert any(s.y0 == s.y1 == 0.5 for s in fig.layout.shapes)  # threshold line


def test_postnet_and_alignment(tr):
    fig = tv.postnet_figure(tr)
    delta = (tr["tts.mel_postnet"] - tr["tts.mel_pre_postnet"]).numpy().T
    assert np.allclose(np.asarray(fig.data[2].z), delta, atol=1e-6)
    al = tv.alignment_figure(tr, layer=1, head=0)
    want = tr["tts.cross_attn"][:, 1, 0].float().numpy().T
    assert np.allclose(np.asarray(al.data[0].z), want, atol=1e-3)
    assert "layer 1, head 0" in al.layout.title.text
    assert tv.diagonality_figure(tr).data[0].z.shape == (2, 2)


def test_token_labels_are_safe(tr):
    h = tv.tokens_html(tr)
    assert "\u2423" in h and "&lt;" not in h and "\u27e8/s\u27e9" in h
    assert tv.token_label("<unk>") == "\u27e8unk\u27e9"
    assert len(tv.steps_rows(tr)) == tr.meta["n_steps"]


def test_big_spectrogram_is_pooled():
    t = Trace(family="tts")
    t.time_bases = {"sample": 16000.0, "mel_frame": 62.5, "step": 31.25}
    t.meta = {"reduction_factor": 2, "threshold": 0.5, "stop_step": 4999, "stop_reason": "max_length",
              "num_mel_bins": 80}
    t.add("tts.mel_pre_postnet", torch.randn(10000, 80), ("mel_frame", "mel_bin"))
    t.add("tts.mel_postnet", torch.randn(10000, 80), ("mel_frame", "mel_bin"))
    t.add("tts.stop_prob", torch.rand(5000), ("step",))
    for fig in (tv.growth_figure(t), tv.postnet_figure(t), tv.step_figure(t, 100)):
        assert all(np.asarray(d.z).size <= 200_000 for d in fig.data if d.type == "heatmap")
        assert figure_bytes(fig) < 5_000_000


def test_overview_leaves_the_backend_and_pyplot_alone(tr, monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt

    backend, open_figures = matplotlib.get_backend(), plt.get_fignums()
    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: pytest.fail("overview_figure switched the backend"))
    fig = tv.overview_figure(tr)
    assert matplotlib.get_backend() == backend and plt.get_fignums() == open_figures
    assert len(fig.axes) >= 5


def test_overview_png(tr):
    fig = tv.overview_figure(tr, step=5)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    assert buf.getvalue()[:4] == b"\x89PNG"
    assert "max_length" in fig.axes[3].get_legend().get_texts()[-1].get_text()
