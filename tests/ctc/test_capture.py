"""trace_ctc on tiny random models of every supported architecture: names, exactness, hooks."""
import numpy as np
import pytest
import torch

from lab.ctc import capture as C
from lab.ctc import tiny
from lab.ctc.capture import trace_ctc
from lab.errors import LabError
from lab.trace import CapturePolicy, Trace, count_hooks


WAVE_NAMES = (["input.waveform", "input.waveform_normalized", "input.attention_mask"]
              + [f"feature_encoder.conv.{i}" for i in range(7)]
              + ["feature_projection.output", "encoder.layers.0.attn.pattern",
                 "encoder.layers.1.attn.pattern", "encoder.hidden", "ctc.logits", "ctc.probs",
                 "ctc.topk_ids", "ctc.topk_probs", "ctc.frame_ids"])
MEL_NAMES = (["input.waveform", "input.features", "input.attention_mask", "feature_projection.output",
              "encoder.layers.0.attn.pattern", "encoder.layers.1.attn.pattern", "encoder.hidden",
              "ctc.logits", "ctc.probs", "ctc.topk_ids", "ctc.topk_probs", "ctc.frame_ids"])


def _inputs(L, audio):
    fe = L.processor.feature_extractor
    return fe(audio[1], sampling_rate=16000, return_tensors="pt")


def test_golden_names_and_axes(any_loaded, short_audio):
    tr = trace_ctc(short_audio, any_loaded, policy=CapturePolicy.full())
    mel = any_loaded.model.config.model_type == "wav2vec2-bert"
    assert list(tr.tensors) == (MEL_NAMES if mel else WAVE_NAMES)
    assert tr.axes["encoder.layers.0.attn.pattern"] == ("head", "query_frame", "key_frame")
    assert tr.axes["encoder.hidden"] == ("layer", "frame", "hidden")
    assert tr.axes["ctc.logits"] == ("frame", "vocab")
    for name, t in tr.tensors.items():  # every frame-like axis has a time base
        for ax in tr.axes[name]:
            if ax.endswith("frame") or ax == "sample" or ax.startswith("conv_frame"):
                assert ax in tr.time_bases, (name, ax)
    assert count_hooks(any_loaded.model) == 0


def test_captured_logits_hidden_and_attention_equal_the_model(any_loaded, short_audio):
    tr = trace_ctc(short_audio, any_loaded, policy=CapturePolicy.full())
    inp = _inputs(any_loaded, short_audio)
    with torch.inference_mode():
        out = any_loaded.model(**inp, output_hidden_states=True, output_attentions=True)
    assert torch.allclose(tr["ctc.logits"], out.logits[0], atol=1e-6)
    assert torch.allclose(tr["encoder.hidden"], torch.stack([h[0] for h in out.hidden_states]), atol=1e-6)
    for i, a in enumerate(out.attentions):
        assert torch.allclose(tr[f"encoder.layers.{i}.attn.pattern"], a[0], atol=1e-6)
        assert torch.allclose(tr[f"encoder.layers.{i}.attn.pattern"].sum(-1), torch.ones(()), atol=1e-4)
    assert torch.allclose(tr["ctc.probs"].sum(-1), torch.ones(()), atol=1e-5)
    assert (tr["ctc.topk_probs"][:, :-1] >= tr["ctc.topk_probs"][:, 1:]).all()


def test_waveform_normalized_is_what_the_model_gets(w2v, clip):
    tr = trace_ctc(clip, w2v)
    raw, norm = tr["input.waveform"].double(), tr["input.waveform_normalized"].double()
    expect = (raw - raw.mean()) / torch.sqrt(raw.var(unbiased=False) + 1e-7)
    assert torch.allclose(norm, expect, atol=1e-5)
    assert abs(float(norm.mean())) < 1e-5 and abs(float(norm.std(unbiased=False)) - 1) < 1e-3
    assert tr["input.attention_mask"].shape == raw.shape and int(tr["input.attention_mask"].min()) == 1
    assert tr.meta["do_normalize"] is True and tr.meta["processor_returns_attention_mask"] is False


def test_no_hooks_left_after_an_exception(w2v, short_audio):
    def boom(*_):
        raise RuntimeError("boom")

    h = w2v.model.lm_head.register_forward_hook(boom)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            trace_ctc(short_audio, w2v, policy=CapturePolicy.full())
    finally:
        h.remove()
    assert count_hooks(w2v.model) == 0


def test_sdpa_model_cannot_give_attention(w2v_sdpa, short_audio):
    with pytest.raises(LabError, match="eager"):
        trace_ctc(short_audio, w2v_sdpa, policy=CapturePolicy.full())
    tr = trace_ctc(short_audio, w2v_sdpa, policy=CapturePolicy(names=["input.*", "ctc.*"]))
    assert not tr.names("encoder.*") and "ctc.logits" in tr
    assert count_hooks(w2v_sdpa.model) == 0


def test_default_policy_budgets(w2v, clip, monkeypatch):
    tr = trace_ctc(clip, w2v)  # tiny model, 3.4 s: everything fits
    assert len(tr.names("encoder.layers.*.attn.pattern")) == 2 and len(tr.names("feature_encoder.*")) == 7
    assert tr["encoder.layers.0.attn.pattern"].dtype == torch.float16
    T = tr.meta["n_frames"]
    monkeypatch.setattr(C, "ATTN_BUDGET_BYTES", 2 * T * T * 2)  # one layer of 2 heads
    monkeypatch.setattr(C, "CONV_BUDGET_BYTES", 16 * 4 * (171 + 343))  # the last two conv maps
    tr = trace_ctc(clip, w2v)
    assert tr.names("encoder.layers.*.attn.pattern") == ["encoder.layers.1.attn.pattern"]
    assert tr.names("feature_encoder.*") == ["feature_encoder.conv.5", "feature_encoder.conv.6"]
    assert "layers [1] of 2" in tr.meta["policy"]
    assert tr.meta["geometry"]["layers"][0]["captured_length"] == 11002  # lengths always known


def test_meta_strings_words_and_time(w2v, clip):
    tr = trace_ctc(clip, w2v, reference="The quick brown fox jumps over the lazy dog.")
    m = tr.meta
    assert len(m["frame_tokens"]) >= m["n_frames"] and set(m["frame_tokens"]) - set("_|") 
    assert m["words_from"].startswith("forced") and [w["word"] for w in m["words"]][:3] == ["THE", "QUICK", "BROWN"]
    assert 0 <= m["wer"]["wer"] and m["wer"]["reference"].startswith("the quick")
    assert tr.seconds("frame", m["n_frames"]) == pytest.approx(m["n_frames"] / 50)
    assert m["seconds"] == pytest.approx(55015 / 16000)


def test_trace_save_load_roundtrip(w2v, short_audio, tmp_path):
    tr = trace_ctc(short_audio, w2v)
    back = Trace.load(tr.save(tmp_path / "t"))
    assert back.meta["text"] == tr.meta["text"] and torch.equal(back["ctc.logits"], tr["ctc.logits"])


@pytest.mark.parametrize("bad", [(16000, np.zeros(8000, np.float32)), (16000, np.array([], np.float32)),
                                 (16000, np.full(800, np.nan, np.float32))])
def test_bad_audio_is_a_lab_error(w2v, bad):
    with pytest.raises(LabError):
        trace_ctc(bad, w2v)


def test_unknown_architecture_is_a_lab_error(w2v, short_audio):
    from lab.ctc.names import spec_for

    class Cfg:
        model_type = "parakeet_ctc"
    with pytest.raises(LabError, match="module table"):
        spec_for(Cfg())


def test_mctct_model_traces(short_audio, tmp_path):
    """The lab's own M-CTC-T (lab/ctc/mctct): a tiny random one goes through the same capture."""
    from lab.ctc.mctct import MCTCTConfig, MCTCTFeatureExtractor, MCTCTForCTC, MCTCTProcessor
    from lab.models import Loaded

    cfg = MCTCTConfig(vocab_size=len(tiny.VOCAB), hidden_size=32, num_hidden_layers=2, intermediate_size=64,
                      num_attention_heads=2, attention_head_dim=16, max_position_embeddings=64,
                      pad_token_id=0, layerdrop=0.0, hidden_dropout_prob=0.0,
                      attention_probs_dropout_prob=0.0, conv_dropout=0.0)
    torch.manual_seed(0)
    model = MCTCTForCTC(cfg).eval()
    L = Loaded(model, MCTCTProcessor(MCTCTFeatureExtractor(), tiny.tokenizer(tmp_path)), "tiny-mctct",
               "ctc", "random", "", torch.device("cpu"))
    tr = trace_ctc(short_audio, L, policy=CapturePolicy.full())
    assert tr.time_bases["frame"] == pytest.approx(100 / 3)
    assert tr["feature_encoder.conv.0"].shape[-1] == tr["ctc.logits"].shape[0] == tr.meta["n_frames"]
    assert torch.allclose(tr["encoder.layers.1.attn.pattern"].sum(-1), torch.ones(()), atol=1e-4)
    inp = L.processor.feature_extractor(short_audio[1], sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        assert torch.allclose(model(**inp).logits[0], tr["ctc.logits"], atol=1e-6)
    assert count_hooks(model) == 0


def test_zoo_whisper_ctc_model_traces(short_audio, tmp_path):
    """The zoo's mel-input Whisper-CTC (two conv stages, encoder + head layer stacks of different
    widths): a tiny random one goes through the same capture."""
    from types import SimpleNamespace

    from lab.models import Loaded
    from lab.ctc.whisper_ctc import WhisperCTCConfig, WhisperCTCFeatureExtractor, WhisperCTCForCTC

    cfg = WhisperCTCConfig(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                           num_mel_bins=80, max_source_positions=1500, head_layers=1, head_dim=16,
                           head_heads=2, head_ffn_dim=32, vocab_size=len(tiny.VOCAB))
    torch.manual_seed(0)
    model = WhisperCTCForCTC._from_config(cfg, attn_implementation="eager").eval()
    proc = SimpleNamespace(feature_extractor=WhisperCTCFeatureExtractor(), tokenizer=tiny.tokenizer(tmp_path))
    L = Loaded(model, proc, "tiny-whisper-ctc", "ctc", "random", "", torch.device("cpu"))
    tr = trace_ctc(short_audio, L, policy=CapturePolicy.full())
    assert tr.time_bases["frame"] == pytest.approx(50.0) and tr.time_bases["feature_frame"] == pytest.approx(100.0)
    assert tr["feature_encoder.conv.1"].shape[-1] == tr["ctc.logits"].shape[0] == 25  # 0.5 s
    assert len(tr.names("encoder.layers.*.attn.pattern")) == 3  # 2 encoder + 1 head layers
    assert tr.names("encoder.hidden.*")  # widths differ: one tensor per layer
    inp = proc.feature_extractor(short_audio[1], sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        assert torch.allclose(model(inp["input_features"]).logits[0], tr["ctc.logits"], atol=1e-5)
    assert count_hooks(model) == 0


def test_whisper_ctc_bins_first_features_give_the_right_geometry(tmp_path):
    """Whisper's extractor gives (batch, 80 bins, mel_frame): the geometry must count mel frames
    (not the 80 bins), its computed conv lengths must equal the captured ones and the CTC frames,
    and ``input.features`` is stored (feature_frame, feature_bin) like every other mel model."""
    import numpy as np
    from types import SimpleNamespace

    from lab.models import Loaded
    from lab.ctc.whisper_ctc import WhisperCTCConfig, WhisperCTCFeatureExtractor, WhisperCTCForCTC

    cfg = WhisperCTCConfig(d_model=32, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64,
                           num_mel_bins=80, max_source_positions=1500, head_layers=1, head_dim=16,
                           head_heads=2, head_ffn_dim=32, vocab_size=len(tiny.VOCAB))
    torch.manual_seed(0)
    model = WhisperCTCForCTC._from_config(cfg, attn_implementation="eager").eval()
    fe = WhisperCTCFeatureExtractor()
    proc = SimpleNamespace(feature_extractor=fe, tokenizer=tiny.tokenizer(tmp_path))
    L = Loaded(model, proc, "tiny-whisper-ctc", "ctc", "random", "", torch.device("cpu"))
    t = np.arange(20000) / 16000  # 1.25 s: 125 mel frames, far from the 80 bins
    audio = (16000, (0.3 * np.sin(2 * np.pi * 300 * t)).astype("float32"))
    tr = trace_ctc(audio, L, policy=CapturePolicy.full())
    raw = fe(audio[1], sampling_rate=16000, return_tensors="pt")["input_features"][0]  # (80, mel_frame)
    n_mel = raw.shape[1]
    assert n_mel != 80
    g = tr.meta["geometry"]
    assert g["n_feature_frames"] == n_mel
    assert tr["input.features"].shape == (n_mel, 80)
    assert torch.equal(tr["input.features"], raw.T)
    assert tr["input.attention_mask"].shape == (n_mel,)
    for layer in g["layers"]:
        assert layer["length"] == layer["captured_length"]
    assert g["layers"][-1]["length"] == g["n_frames"] == tr["ctc.logits"].shape[0]
