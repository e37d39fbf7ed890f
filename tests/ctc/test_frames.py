"""Frame geometry from the config: hop, receptive field, lengths (vs HF and vs the captures)."""
import pytest
import torch

from lab.ctc import tiny
from lab.ctc.capture import trace_ctc
from lab.ctc.frames import chain, conv_out_length, geometry
from lab.trace import CapturePolicy


def test_base_config_is_20ms_hop_25ms_field_49_frames_per_second():
    g = geometry(tiny.config("wav2vec2"), n_samples=16000)
    assert g.hop == 320 and g.field == 400
    assert g.hop_ms == pytest.approx(20.0) and g.field_ms == pytest.approx(25.0)
    assert g.frames_per_second == pytest.approx(50.0)
    assert g.n_frames == 49
    assert [layer.length for layer in g.layers] == [3199, 1599, 799, 399, 199, 99, 49]
    assert g.frame_span(0) == (0.0, 0.025) and g.frame_span(1) == pytest.approx((0.02, 0.045))


@pytest.mark.parametrize("n", [400, 401, 719, 720, 16000, 55015, 160000])
def test_lengths_equal_hf_formula(n, w2v):
    expect = int(w2v.model._get_feat_extract_output_lengths(torch.tensor(n)))
    assert geometry(w2v.model.config, n_samples=n).n_frames == expect


def test_short_input_gives_zero_frames():
    assert conv_out_length(5, 10, 5) == 0
    assert chain([10, 3], [5, 2], input_length=9)[-1].length == 0


def test_captured_conv_lengths_and_time_bases_match_geometry(any_loaded, short_audio):
    tr = trace_ctc(short_audio, any_loaded, policy=CapturePolicy.full())
    g = tr.meta["geometry"]
    for d in g["layers"]:
        assert d["captured_length"] == d["length"]
        assert tr[f"feature_encoder.conv.{d['index']}"].shape[-1] == d["length"]
        assert tr.time_bases[f"conv_frame_{d['index']}"] == pytest.approx(d["frames_per_second"])
    assert tr["ctc.logits"].shape[0] == g["n_frames"] == tr.meta["n_frames"]
    assert tr.time_bases["frame"] == pytest.approx(50.0)


def test_mel_input_geometry_wav2vec2_bert(short_audio):
    from tests.ctc.conftest import _loaded

    L = _loaded("wav2vec2-bert")
    g = geometry(L.model.config, L.processor.feature_extractor)
    assert g.input == "features" and g.hop == 320 and g.field == 560  # 2 x 10 ms frames stacked
    assert g.frames_per_second == pytest.approx(50.0)


def test_mctct_geometry_agrees_with_the_mctct_module():
    from lab.ctc.mctct import MCTCTConfig, MCTCTFeatureExtractor, frame_geometry

    cfg, fe = MCTCTConfig(), MCTCTFeatureExtractor()
    ours, theirs = geometry(cfg, fe), frame_geometry(cfg, fe)
    assert ours.frames_per_second == pytest.approx(theirs.encoder_frames_per_second)
    assert ours.hop_ms == pytest.approx(theirs.encoder_hop_ms)
    assert ours.field_ms == pytest.approx(theirs.encoder_receptive_field_ms)
