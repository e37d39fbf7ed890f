"""Every tensor name, axes and meta key of real TTS traces is in ``lab.tts.names``' tables --
what ``describe()`` lists."""
from lab import tables
from lab.trace import CapturePolicy
from lab.tts import describe, names, trace_tts


def test_traces_match_the_tables(tts, tts_long):
    for tr in (trace_tts("hello world", tts, policy=CapturePolicy.full(), vocoder="griffin-lim"),
               trace_tts("hi", tts_long, maxlenratio=2.0, vocoder=None)):
        assert tables.check_trace(tr, names.AXES, names.META) == []
    assert any(r["name"] == "tts.stop_prob" for r in describe())
