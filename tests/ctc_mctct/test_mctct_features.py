"""MCTCTFeatureExtractor against transformers 4.46's output on a known signal (fixture)."""
from __future__ import annotations

import numpy as np
import pytest

from lab.ctc.mctct import MCTCTFeatureExtractor
from lab.errors import LabError

from mctct_helpers import tone


def test_single_clip_matches_446(reference):
    out = MCTCTFeatureExtractor()(reference["wave"], sampling_rate=16000)
    feats = out["input_features"][0]
    assert feats.dtype == np.float32 and feats.shape == reference["features_single"].shape == (28, 80)
    np.testing.assert_allclose(feats, reference["features_single"], atol=1e-5, rtol=0)


def test_padded_batch_matches_446(reference):
    out = MCTCTFeatureExtractor()([reference["wave"], reference["wave2"]], sampling_rate=16000,
                                  padding=True, return_tensors="np")
    np.testing.assert_array_equal(out["attention_mask"], reference["mask_batch"])
    assert out["attention_mask"].sum(1).tolist() == [28, 17]  # 1 + (N - 400) // 160
    np.testing.assert_allclose(out["input_features"], reference["features_batch"], atol=1e-5, rtol=0)


def test_normalised_per_bin_and_padding_zero():
    fe = MCTCTFeatureExtractor()
    out = fe([tone(0.5), tone(0.3, 880)], sampling_rate=16000, padding=True, return_tensors="np")
    short = out["input_features"][1]
    n = int(out["attention_mask"][1].sum())
    assert n == fe.num_frames(4800) == 28
    np.testing.assert_allclose(short[:n].mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(short[:n].std(0), 1, atol=1e-3)
    assert (short[n:] == 0).all()


def test_pieces_are_the_documented_recipe():
    fe = MCTCTFeatureExtractor()
    assert (fe.sample_size, fe.sample_stride, fe.n_fft) == (400, 160, 512)
    fb = fe.mel_filters()
    assert fb.shape == (257, 80) and (fb >= 0).all() and (fb.max(0) > 0).all()
    w = fe.window()
    np.testing.assert_allclose(w, w[::-1])  # symmetric Hamming
    frames = fe.frames(tone(0.1))
    assert frames.shape == (fe.num_frames(1600), 400) == (8, 400)


@pytest.mark.parametrize("bad, match", [
    (np.zeros(300, np.float32), "too short"),
    (np.zeros((1, 2, 1600), np.float32), "mono"),
])
def test_bad_audio_is_a_lab_error(bad, match):
    with pytest.raises(LabError, match=match):
        MCTCTFeatureExtractor()(bad, sampling_rate=16000)


def test_wrong_rate_is_a_lab_error():
    with pytest.raises(LabError, match="16000 Hz"):
        MCTCTFeatureExtractor()(tone(0.5), sampling_rate=8000)


def test_preprocessor_config_round_trip(tmp_path):
    fe = MCTCTFeatureExtractor(mel_floor=2.0)
    fe.save_pretrained(tmp_path)
    again = MCTCTFeatureExtractor.from_pretrained(tmp_path)
    assert again.mel_floor == 2.0 and again.win_function == "hamming_window"
    x = tone(0.4)
    np.testing.assert_array_equal(fe(x)["input_features"][0], again(x)["input_features"][0])
