"""Sequence classifiers (wav2vec2, HuBERT): hidden states, projector, masked mean, exact
per-frame decomposition of the logits."""
import pytest
import torch

from lab.classify import trace_classify, trace_sequence
from lab.classify.sequence import frame_decomposition
from lab.trace import CapturePolicy

FULL = CapturePolicy.full()
KINDS = ["wav2vec2-seq", "hubert-seq"]


def model_logits(ld, samples, pad_to=None):
    fe = ld.processor
    if pad_to:
        f = fe(samples, sampling_rate=16000, padding="max_length", max_length=pad_to,
               return_attention_mask=True, return_tensors="pt")
        with torch.no_grad():
            return ld.model(f["input_values"], attention_mask=f["attention_mask"]).logits[0]
    with torch.no_grad():
        return ld.model(fe(samples, sampling_rate=16000, return_tensors="pt")["input_values"]).logits[0]


@pytest.mark.parametrize("kind", KINDS)
def test_logits_equal_the_models_own_and_decompose_exactly(kind, loaded, clip):
    t = trace_sequence(clip, loaded[kind], policy=FULL)
    ref = model_logits(loaded[kind], clip.samples)
    torch.testing.assert_close(t["cls.logits"], ref)
    torch.testing.assert_close(t["cls.probs"], torch.softmax(ref, -1))
    recon = t["cls.frame_contributions"].double().sum(0) + t["cls.bias"].double()
    torch.testing.assert_close(recon.float(), ref, rtol=0, atol=1e-5)
    assert float(t["cls.frame_share"].sum()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_hidden_states_projector_and_mean(kind, loaded, clip):
    t = trace_sequence(clip, loaded[kind], policy=FULL)
    h = t["encoder.hidden"]
    n = t.meta["n_frames"]
    assert h.shape == (3, n, 32) and n == 84  # 1.7 s at 50 frames/s
    torch.testing.assert_close(t["cls.head_input"], h[-1])
    proj = loaded[kind].model.projector
    with torch.no_grad():
        torch.testing.assert_close(t["cls.projected"], proj(h[-1]))
    torch.testing.assert_close(t["cls.pooled"], t["cls.projected"].mean(0))
    for i in range(2):
        p = t[f"encoder.layers.{i}.attn.pattern"]
        assert p.shape == (2, n, n)
        torch.testing.assert_close(p.sum(-1), torch.ones(2, n))
    assert t.time_bases["encoder_frame"] == 50.0


@pytest.mark.parametrize("kind", KINDS)
def test_padding_is_masked_out_of_the_mean(kind, loaded, clip):
    t = trace_sequence(clip, loaded[kind], policy=FULL, pad_seconds=0.4)
    mask = t["cls.frame_mask"]
    n_real = int(mask.sum())
    assert mask.numel() > n_real == t.meta["n_content_frames"] == t.meta["padded_from_frame"]
    assert (mask[:n_real] == 1).all() and (mask[n_real:] == 0).all()
    ref = model_logits(loaded[kind], clip.samples, pad_to=len(clip.samples) + 6400)
    torch.testing.assert_close(t["cls.logits"], ref)
    torch.testing.assert_close(t["cls.pooled"], t["cls.projected"][:n_real].mean(0))
    assert (t["cls.frame_contributions"][n_real:] == 0).all()
    recon = t["cls.frame_contributions"].double().sum(0) + t["cls.bias"].double()
    torch.testing.assert_close(recon.float(), ref, rtol=0, atol=1e-5)


def test_weighted_layer_sum_variant(in_memory, clip):
    ld = in_memory("wav2vec2-seq", use_weighted_layer_sum=True)
    t = trace_sequence(clip, ld, policy=FULL)
    w = t["cls.layer_weights"]
    assert w.shape == (3,) and float(w.sum()) == pytest.approx(1.0)
    mixed = (t["encoder.hidden"] * w[:, None, None]).sum(0)
    torch.testing.assert_close(t["cls.head_input"], mixed, rtol=1e-4, atol=1e-5)
    ref = model_logits(ld, clip.samples)
    recon = t["cls.frame_contributions"].double().sum(0) + t["cls.bias"].double()
    torch.testing.assert_close(recon.float(), ref, rtol=0, atol=1e-5)


def test_decomposition_by_hand():
    proj = torch.tensor([[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    mask = torch.tensor([1, 1, 0])
    pooled = proj[:2].mean(0)
    w = torch.tensor([[1.0, 1.0], [2.0, -1.0]])
    contrib, share = frame_decomposition(proj, mask, pooled, w)
    torch.testing.assert_close(contrib, torch.tensor([[0.5, 1.0], [1.0, -1.0], [0.0, 0.0]]))
    torch.testing.assert_close(contrib.sum(0), w @ pooled)
    torch.testing.assert_close(share, torch.tensor([0.2, 0.8, 0.0]))


def test_no_hooks_left_even_after_an_exception(loaded, clip, lab_hooks, monkeypatch):
    ld = loaded["wav2vec2-seq"]
    trace_classify(clip, ld)
    assert lab_hooks(ld.model) == 0

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(ld.model.classifier, "forward", boom)
    with pytest.raises(RuntimeError, match="boom"):
        trace_sequence(clip, ld)
    assert lab_hooks(ld.model) == 0


def test_describe_names(loaded, clip):
    t = trace_sequence(clip, loaded["hubert-seq"])
    assert list(t.tensors) == [
        "input.waveform", "input.waveform_normalized", "encoder.hidden",
        "encoder.layers.0.attn.pattern", "encoder.layers.1.attn.pattern", "cls.frame_mask",
        "cls.head_input", "cls.projected", "cls.pooled", "cls.logits", "cls.probs", "cls.bias",
        "cls.frame_contributions", "cls.frame_share"]
    assert t.meta["top_k"][0]["label"] in loaded["hubert-seq"].model.config.id2label.values()
