"""lab.trace: naming/axes bookkeeping, policy, save/load, hooks removed even on error."""
import pytest
import torch

from lab.errors import LabError
from lab.trace import CapturePolicy, Trace, count_hooks, hooks, module_at


def test_add_checks_axes_and_moves_to_cpu_detached():
    tr = Trace(family="t")
    x = torch.randn(3, 4, requires_grad=True)
    tr.add("a.b", x * 2, ("row", "col"))
    assert not tr["a.b"].requires_grad and tr["a.b"].device.type == "cpu"
    with pytest.raises(ValueError, match="2 axes"):
        tr.add("bad", torch.zeros(3), ("a", "b"))


def test_policy_filters_and_attention_dtype():
    tr = Trace(family="t", policy=CapturePolicy(names=["keep.*"]))
    tr.add("keep.x", torch.ones(2), ("i",), attention=True)
    tr.add("drop.x", torch.ones(2), ("i",))
    tr.add("drop.forced", torch.ones(2), ("i",), force=True)
    assert tr.names() == ["keep.x", "drop.forced"]
    assert tr["keep.x"].dtype == torch.float16 and tr["drop.forced"].dtype == torch.float32
    pol = CapturePolicy(heads=[1])
    assert pol.select_heads(torch.arange(6.).reshape(3, 2), 0).tolist() == [[2., 3.]]


def test_require_raises_when_capture_empty():
    with pytest.raises(LabError, match="came back empty"):
        Trace(family="t").require("encoder.layers.*.attn.pattern")


def test_save_load_roundtrip(tmp_path):
    tr = Trace(family="t", model_id="m", weights_source="here",
               time_bases={"sample": 16000.0, "frame": 50.0}, tokens=["a"],
               steps=[{"index": 0, "prob": 0.5}], meta={"text": "hi"})
    tr.add("x.y", torch.randn(2, 3), ("frame", "hidden"))
    tr.add("x.p", torch.rand(2, 2), ("q", "k"), attention=True)
    back = Trace.load(tr.save(tmp_path / "tr"))
    assert back.describe() == tr.describe()
    assert torch.equal(back["x.y"], tr["x.y"]) and back["x.p"].dtype == torch.float16
    assert back.meta == tr.meta and back.steps == tr.steps
    assert back.seconds("frame", 25) == 0.5 and back.index_at("sample", 1.0) == 16000


def test_describe_lists_every_name_with_axes():
    tr = Trace(family="t")
    tr.add("input.waveform", torch.zeros(10), ("sample",))
    d = tr.describe()
    assert "input.waveform" in d and "sample=10" in d


def test_hooks_removed_even_when_the_block_raises():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    seen = []
    with pytest.raises(RuntimeError):
        with hooks(model, [(module_at(model, "0"), lambda m, i, o: seen.append(o))]):
            assert count_hooks(model) == 1
            model(torch.zeros(1, 2))
            raise RuntimeError("boom")
    assert seen and count_hooks(model) == 0
    with pytest.raises(LabError, match="no module 'nope'"):
        module_at(model, "nope")
