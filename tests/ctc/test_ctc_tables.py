"""Every tensor name, axes and meta key of real CTC traces (each tiny architecture, with a
reference, beams and an LM) is in ``lab.ctc.names``' tables -- what ``describe()`` lists."""
import pytest

from lab import tables
from lab.ctc import describe, names, trace_ctc
from lab.trace import CapturePolicy


def test_traces_match_the_tables(any_loaded, short_audio):
    full = trace_ctc(short_audio, any_loaded, policy=CapturePolicy.full(), reference="a b",
                     lm_text="a b a b c", beam_size=4, hotwords=["a"])
    assert tables.check_trace(full, names.AXES, names.META) == []
    lean = trace_ctc(short_audio, any_loaded)  # default policy
    assert tables.check_trace(lean, names.AXES, names.META) == []


def test_describe_lists_the_collapse_meta():
    rows = {r["name"]: r for r in describe()}
    assert "meta['collapse']" in rows and rows["meta['collapse']"]["kind"] == "meta"
    assert rows["feature_encoder.conv.{i}"]["axes"] == [("channel", "conv_frame_{i}")]


@pytest.mark.parametrize("name, axes", [("feature_encoder.conv.3", ("channel", "conv_frame_3")),
                                        ("input.attention_mask", ("feature_frame",))])
def test_patterns_fill_indices_into_axes(name, axes):
    assert axes in tables.match(names.AXES, name)[1]
