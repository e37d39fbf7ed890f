"""Every tensor name, axes and meta key of real classifier traces (AST, sequence, frames) is in
``lab.classify.names``' tables -- what ``describe()`` lists."""
import pytest

from lab import tables
from lab.classify import describe, names, trace_classify
from lab.trace import CapturePolicy


@pytest.mark.parametrize("kind", ["ast", "wav2vec2-seq", "hubert-seq", "wav2vec2-frame"])
def test_traces_match_the_tables(loaded, clip, kind):
    tr = trace_classify(clip, loaded[kind], policy=CapturePolicy.full())
    assert tables.check_trace(tr, names.AXES, names.META) == []


def test_weighted_layer_sum_is_in_the_tables(in_memory, clip):
    tr = trace_classify(clip, in_memory("wav2vec2-seq", use_weighted_layer_sum=True), pad_seconds=0.2)
    assert "cls.layer_weights" in tr
    assert tables.check_trace(tr, names.AXES, names.META) == []
    assert any(r["name"] == "meta['frame_labels']" for r in describe())
