"""Frame classifiers: per-frame logits, labels and segments."""
import pytest
import torch

from lab.classify import trace_classify, trace_frames
from lab.classify.frames import segments
from lab.errors import LabError
from lab.trace import CapturePolicy


def test_frame_logits_equal_the_models_own(loaded, clip, lab_hooks):
    ld = loaded["wav2vec2-frame"]
    t = trace_frames(clip, ld, policy=CapturePolicy.full())
    x = ld.processor(clip.samples, sampling_rate=16000, return_tensors="pt")["input_values"]
    with torch.no_grad():
        ref = ld.model(x).logits[0]
    torch.testing.assert_close(t["frames.logits"], ref)
    probs = t["frames.probs"]
    torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[0]))
    assert torch.equal(t["frames.label_ids"], ref.argmax(-1))
    torch.testing.assert_close(t["cls.probs"], probs.mean(0))
    assert lab_hooks(ld.model) == 0
    assert t.axes["frames.logits"] == ("encoder_frame", "label")


def test_softmax_segments_tile_the_clip(loaded, clip):
    t = trace_classify(clip, loaded["wav2vec2-frame"])
    segs = t.meta["frame_labels"]
    n = t.meta["n_frames"]
    assert sum(s["end"] - s["start"] for s in segs) == pytest.approx(n / 50)
    ends = [s["end"] for s in segs][:-1]
    assert [s["start"] for s in segs][1:] == pytest.approx(ends)
    ids = t["frames.label_ids"]
    for s in segs:
        a, b = round(s["start"] * 50), round(s["end"] * 50)
        assert (ids[a:b] == s["id"]).all()


def test_segments_by_hand():
    p = torch.tensor([[0.9, 0.1], [0.8, 0.7], [0.2, 0.9], [0.1, 0.2]])
    names = ["a", "b"]
    soft = segments(p, names, 50.0, "softmax")
    assert [(s["label"], s["start"], s["end"]) for s in soft] == [
        ("a", 0.0, 0.04), ("b", 0.04, 0.08)]
    assert soft[0]["score"] == pytest.approx(0.85)
    sig = segments(p, names, 50.0, "sigmoid", threshold=0.5)
    assert [(s["label"], s["start"], s["end"]) for s in sig] == [("a", 0.0, 0.04), ("b", 0.02, 0.06)]
    assert segments(p, names, 50.0, "sigmoid", n_content=1) == [
        {"label": "a", "id": 0, "start": 0.0, "end": 0.02, "score": pytest.approx(0.9)}]
    with pytest.raises(LabError):
        segments(p, names, 50.0, "softmax", n_content=0)


def test_sigmoid_override_gives_independent_labels(loaded, clip):
    t = trace_frames(clip, loaded["wav2vec2-frame"], activation="sigmoid", threshold=0.5)
    torch.testing.assert_close(t["frames.probs"], torch.sigmoid(t["frames.logits"]))
    for s in t.meta["frame_labels"]:
        a, b = round(s["start"] * 50), round(s["end"] * 50)
        assert (t["frames.probs"][a:b, s["id"]] > 0.5).all()


def test_wrong_kind_is_a_lab_error(loaded, clip):
    with pytest.raises(LabError, match="not a frame classifier"):
        trace_frames(clip, loaded["wav2vec2-seq"])
    with pytest.raises(LabError, match="activation"):
        trace_frames(clip, loaded["wav2vec2-frame"], activation="relu")
