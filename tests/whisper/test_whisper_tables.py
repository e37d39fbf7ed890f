"""Every tensor name, axes and meta key of real Whisper traces is in ``lab.whisper.names``'
tables (``AXES``, ``META``) -- what ``describe()`` lists."""
from lab import tables
from lab.trace import CapturePolicy
from lab.whisper import describe, names, trace_whisper


def test_traces_match_the_tables(tiny, tiny_multi, fox):
    runs = [trace_whisper(fox, tiny, policy=CapturePolicy.full(), max_steps=3, beam_size=2,
                          reference="the quick brown fox"),
            trace_whisper(fox, tiny_multi, max_steps=2, word_timestamps=False),
            trace_whisper(fox, tiny, max_steps=4, timestamps=True)]
    from lab.whisper import trace_long

    runs += trace_long(fox, tiny, max_steps=4).traces
    for tr in runs:
        assert tables.check_trace(tr, names.AXES, names.META) == []
    assert {r["name"] for r in describe() if r["kind"] == "meta"} >= {"meta['words']", "meta['beam']"}
