"""lab.viz.common: the one waveform envelope, token label and palette every family draws with."""
import numpy as np
import pytest

from lab.viz import common


@pytest.mark.parametrize("n, points", [(48_000, 500), (1001, 1000), (10, 2000), (7, 3)])
def test_envelope_bins_cover_every_sample(n, points):
    x = np.random.default_rng(0).normal(size=n).astype(np.float32)
    t, lo, hi = common.envelope(x, 16000, points)
    assert len(t) == len(lo) == len(hi) <= points and t[0] == 0
    assert lo.min() == x.min() and hi.max() == x.max()  # the tail bin is kept
    assert np.all(lo <= hi) and np.all(np.diff(t) > 0) and t[-1] < n / 16000


def test_envelope_of_nothing_and_of_a_tensor():
    t, lo, hi = common.envelope(np.zeros(0), 16000)
    assert t.size == lo.size == hi.size == 0
    torch = pytest.importorskip("torch")
    t, lo, hi = common.envelope(torch.ones(100), 100.0, 10)
    assert len(t) == 10 and float(hi.max()) == 1.0


def test_envelope_traces_fill_between_upper_and_lower():
    up, down = common.envelope_traces(np.sin(np.arange(4000)), 16000, color="#555", name="wave",
                                      showlegend=True, fillcolor="rgba(0,0,0,0.5)")
    assert down.fill == "tonexty" and up.line.color == down.line.color == "#555"
    assert up.showlegend and not down.showlegend and up.legendgroup == down.legendgroup == "wave"
    assert down.fillcolor == "rgba(0,0,0,0.5)" and up.fillcolor is None


@pytest.mark.parametrize("token, label", [
    (" Hello", "\u2423Hello"), ("\n", "\u23ce"), ("", "\u2205"), (None, "?"),  # Whisper pieces
    ("\u2581", "\u2423"), ("</s>", "\u27e8/s\u27e9"), ("<unk>", "\u27e8unk\u27e9"), ("a", "a"),  # TTS
    ("<|endoftext|>", "<|endoftext|>"),
])
def test_token_label_reads_every_family(token, label):
    assert common.token_label(token) == label


def test_one_palette():
    from lab.viz import classify_frames, ctc

    assert ctc.PALETTE is classify_frames.PALETTE is common.PALETTE and len(set(common.PALETTE)) == 10
