"""Audio edits (kind "edit"): the samples change only in the span, noise hits its SNR, swaps take
the other clip's samples, bad edits name the problem; the tracers run on the edited clip and a
no-op edit is bit-identical. Real models: silencing "fox" in quick_brown_fox.wav."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.audio import Audio, load_audio
from lab.capture import count_hooks
from lab.errors import LabError
from lab.interventions import Plan, parse, to_json
from lab.interventions.edit import EditAudio, apply_edits, parse_edit, span_samples, word_edit, word_spans
from lab.interventions.run import what_if

CLIPS = Path(__file__).resolve().parents[2] / "assets" / "clips"
FOX, DOOR = CLIPS / "quick_brown_fox.wav", CLIPS / "open_the_door.wav"
FOX_TEXT = json.loads((CLIPS / "clips.json").read_text())["quick_brown_fox.wav"]["text"]


@pytest.fixture(scope="module")
def fox() -> Audio:
    return load_audio(FOX)


def _rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64)))))


# -- apply_edits --------------------------------------------------------------------------------
def test_silence_changes_only_the_span_and_never_the_input(fox):
    before = fox.samples.copy()
    out = apply_edits(fox, [EditAudio("silence", 1.2, 1.6)])
    assert out is not fox and out.samples is not fox.samples
    assert np.array_equal(fox.samples, before)  # never in place
    assert len(out.samples) == len(fox.samples) and out.sample_rate == fox.sample_rate
    changed = np.flatnonzero(out.samples != fox.samples)
    assert changed.min() >= 19200 and changed.max() <= 25599  # [round(1.2 * 16k), round(1.6 * 16k))
    assert np.all(out.samples[19200:25600] == 0.0)
    assert "silenced" in out.notes[-1]


def test_span_rounds_to_the_nearest_sample():
    e = EditAudio("silence", 0.00003, 0.00009)  # 0.48 -> 0, 1.44 -> 1 sample at 16 kHz
    assert span_samples(e, 1000, 16000) == (0, 1)
    assert span_samples(EditAudio("silence", 0.5, 1.0), 16000, 16000) == (8000, 16000)
    with pytest.raises(LabError, match="shorter than one sample"):
        span_samples(EditAudio("silence", 0.00001, 0.00002), 1000, 16000)


def test_noise_hits_the_snr_and_is_reproducible(fox):
    e = EditAudio("noise", 1.0, 1.5, snr_db=5.0, seed=3)
    a, b = apply_edits(fox, [e]), apply_edits(fox, [e])
    assert np.array_equal(a.samples, b.samples)
    s0, s1 = 16000, 24000
    added = a.samples[s0:s1].astype(np.float64) - fox.samples[s0:s1]
    snr = 20 * math.log10(_rms(fox.samples[s0:s1]) / _rms(added))
    assert abs(snr - 5.0) < 1e-3, snr
    assert np.array_equal(a.samples[:s0], fox.samples[:s0]) and np.array_equal(a.samples[s1:], fox.samples[s1:])
    other = apply_edits(fox, [EditAudio("noise", 1.0, 1.5, snr_db=5.0, seed=4)])
    assert not np.array_equal(other.samples, a.samples)
    # +inf dB: nothing added, bit-identical
    assert np.array_equal(apply_edits(fox, [EditAudio("noise", 1.0, 1.5, snr_db=math.inf)]).samples, fox.samples)


def test_noise_over_a_silent_span_uses_the_clip_level():
    x = np.concatenate([np.zeros(8000), 0.1 * np.sin(np.arange(8000) / 5.0)]).astype(np.float32)
    out = apply_edits(Audio(x, 16000), [EditAudio("noise", 0.0, 0.5, snr_db=0.0)])
    assert abs(_rms(out.samples[:8000]) - _rms(x)) < 1e-6
    assert "whole clip" in out.notes[-1]


def test_swap_takes_the_other_clips_samples(fox):
    door = load_audio(DOOR)
    out = apply_edits(fox, [EditAudio("swap", 1.0, 1.25, source=str(DOOR), source_start=0.5)])
    assert np.array_equal(out.samples[16000:20000], door.samples[8000:12000])
    assert np.array_equal(out.samples[:16000], fox.samples[:16000])
    # default source_start = start; an Audio source at another rate is resampled by lab.audio
    out = apply_edits(fox, [EditAudio("swap", 1.0, 1.25, source=door)])
    assert np.array_equal(out.samples[16000:20000], door.samples[16000:20000])
    door8k = Audio(door.samples[::2].copy(), 8000, source="door8k")
    out = apply_edits(fox, [EditAudio("swap", 1.0, 1.25, source=door8k)])
    assert len(out.samples) == len(fox.samples)
    assert not np.array_equal(out.samples[16000:20000], fox.samples[16000:20000])


def test_bad_edits_name_the_problem(fox):
    with pytest.raises(LabError, match="outside the clip"):
        apply_edits(fox, [EditAudio("silence", 3.0, 9.0)])
    with pytest.raises(LabError, match="must be after start"):
        EditAudio("silence", 1.6, 1.2)
    with pytest.raises(LabError, match="must be after start"):
        EditAudio("silence", 1.2, 1.2)
    with pytest.raises(LabError, match="before the clip"):
        EditAudio("silence", -0.1, 0.2)
    with pytest.raises(LabError, match="needs a source"):
        EditAudio("swap", 1.0, 1.2)
    with pytest.raises(LabError, match="unknown op"):
        EditAudio("reverse", 1.0, 1.2)
    with pytest.raises(LabError, match="NaN"):
        EditAudio("noise", 1.0, 1.2, snr_db=float("nan"))
    with pytest.raises(LabError, match="swapped-in span needs"):
        apply_edits(fox, [EditAudio("swap", 1.0, 2.0, source=str(DOOR), source_start=2.5)])
    with pytest.raises(LabError, match="audio file not found"):
        apply_edits(fox, [EditAudio("swap", 1.0, 2.0, source="/nonexistent.wav")])
    for bad in ["silence", "silence:1.2", "noise:1-2@loud", "swap:1-2", "silence:1-2@3", "mute:1-2"]:
        with pytest.raises(LabError):
            parse_edit(bad)


def test_cli_form_and_json_round_trip():
    assert parse_edit("silence:1.2-1.6") == EditAudio("silence", 1.2, 1.6)
    assert parse_edit("noise:1.2-1.6@5") == EditAudio("noise", 1.2, 1.6, snr_db=5.0)
    assert parse_edit("noise:1.2-1.6").snr_db == 10.0
    assert parse_edit("swap:1.2-1.6=other@take.wav@0.3") == EditAudio("swap", 1.2, 1.6, source="other@take.wav",
                                                                      source_start=0.3)
    ivs = [EditAudio("silence", 1.0, 1.5), EditAudio("noise", 0.5, 0.7, snr_db=-3.0, seed=2),
           EditAudio("swap", 0.1, 0.2, source="b.wav", source_start=0.4)]
    assert parse(json.dumps(to_json(ivs))) == ivs


def test_edit_is_for_audio_families():
    with pytest.raises(LabError, match="edit applies to whisper / ctc / classify"):
        Plan(torch.nn.Linear(1, 1), "tts", [EditAudio("silence", 0.0, 0.1)])


# -- tracers on tiny models -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def whisper():
    from lab.whisper import tiny

    return tiny.loaded()


def test_whisper_noop_edit_is_bit_identical(whisper, fox):
    from lab.whisper import trace_whisper

    padded = Audio(np.concatenate([fox.samples, np.zeros(8000, np.float32)]), 16000, source="fox+0.5s")
    a = trace_whisper(padded, whisper, max_steps=4)
    r = what_if("whisper", padded, whisper, [EditAudio("silence", 3.5, 3.9)], original=a, max_steps=4)
    for name in ("input.waveform", "encoder.output", "decoder.logits", "timestamps.cross_attn"):
        assert torch.equal(r.original[name], r.changed[name]), name
    assert r.diff["changed"] is False and r.diff["same_input"] is True
    assert r.diff["edited_seconds"] == [[3.5, 3.9]]


def test_whisper_trace_keeps_the_edited_clip(whisper, fox):
    r = what_if("whisper", FOX, whisper, [EditAudio("silence", 1.0, 1.5)], max_steps=4)
    wa, wb = r.original["input.waveform"], r.changed["input.waveform"]
    idx = torch.nonzero(wa != wb).flatten()
    assert len(wa) == len(wb) and idx.min() >= 16000 and idx.max() < 24000
    assert torch.all(wb[16000:24000] == 0)
    assert r.diff["same_input"] is False and r.diff["edited_seconds"] == [[1.0, 1.5]]
    assert r.changed.meta["intervention"]["interventions"] == [EditAudio("silence", 1.0, 1.5).as_dict()]
    assert any("silenced" in n for n in r.changed.meta["audio_notes"])
    assert not torch.equal(r.original["encoder.output"], r.changed["encoder.output"])
    assert r.diff["changed"] is True  # logits moved (max_logit_change), even if the random model's tokens did not
    assert count_hooks(whisper.model) == 0


def test_ctc_and_classify_run_on_the_edited_clip():
    from lab.classify import tiny as ctiny
    from lab.ctc import tiny as ttiny

    ctc = ttiny.loaded("wav2vec2")
    r = what_if("ctc", FOX, ctc, [EditAudio("noise", 1.0, 1.5, snr_db=math.inf)])
    assert r.diff["changed"] is False and torch.equal(r.original["ctc.logits"], r.changed["ctc.logits"])
    r = what_if("ctc", FOX, ctc, [EditAudio("silence", 1.0, 1.5)])
    assert torch.all(r.changed["input.waveform"][16000:24000] == 0) and r.diff["frames"]["n_changed"] > 0
    assert r.diff["edited_seconds"] == [[1.0, 1.5]]
    for kind in ("ast", "wav2vec2-seq"):
        cl = ctiny.loaded(kind)
        r = what_if("classify", FOX, cl, [EditAudio("silence", 0.2, 1.0)])
        assert torch.all(r.changed["input.waveform"][3200:16000] == 0)
        assert r.diff["labels"]["max_prob_change"] > 0 and r.diff["edited_seconds"] == [[0.2, 1.0]]
        assert count_hooks(cl.model) == 0


def test_word_spans_and_word_edit():
    from lab.ctc import tiny as ttiny
    from lab.ctc.capture import trace_ctc

    tr = trace_ctc(FOX, ttiny.loaded("wav2vec2"), reference=FOX_TEXT)  # forced alignment: every word
    spans = word_spans(tr)
    assert [w["word"].lower() for w in spans] == FOX_TEXT.lower().strip(".").split()
    e = word_edit(tr, 3, "noise", snr_db=0.0)
    assert (e.op, e.start, e.end, e.snr_db) == ("noise", spans[3]["start"], spans[3]["end"], 0.0)
    with pytest.raises(LabError, match="out of range: the trace has 9 words"):
        word_edit(tr, 9, "silence")
    tr.meta["words"] = []
    with pytest.raises(LabError, match="no word times"):
        word_spans(tr)


# -- real models -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fox_alignment():
    """The CTC forced alignment of the reference on the zoo's wav2vec2: where "fox" is."""
    from lab.ctc.capture import trace_ctc
    from lab.models import load_cached

    ctc = load_cached("tiny-wav2vec2-ctc-en", family="ctc")
    return ctc, trace_ctc(FOX, ctc, reference=FOX_TEXT)


@pytest.mark.real
def test_ctc_silencing_fox_changes_that_word_near_its_frames(fox_alignment):
    ctc, a = fox_alignment
    e = word_edit(a, 3, "silence")  # "fox", about 0.94-1.2 s
    r = what_if("ctc", FOX, ctc, [e], original=a)
    ops = [o for o in r.diff["text"]["ops"] if o["type"] != "equal"]
    assert ops, r.diff["text"]
    words_a = r.diff["text"]["a"].split()
    fox_word = next(w for w in words_a if w.startswith("f"))  # the model's spelling of "fox"
    assert any(fox_word in o["ref"] for o in ops)  # that word was deleted or changed ...
    changed_words = [w for o in ops for w in o["ref"]]
    assert len(changed_words) <= 2  # ... and at most its neighbour with it
    fps = r.changed.meta["frames_per_second"]
    times = [f / fps for f in r.diff["frames"]["changed"]]
    near = [t for t in times if e.start - 0.2 <= t <= e.end + 0.1]
    assert len(near) >= 0.75 * len(times), (times, e)  # global attention moves a few far frames too


@pytest.mark.real
def test_whisper_silencing_fox_changes_that_word_and_reports_attention(fox_alignment):
    from lab.models import load_cached

    _, ctc_trace = fox_alignment
    w = load_cached("whisper-tiny.en", family="whisper")
    e = word_edit(ctc_trace, 3, "silence")  # tiny.en hears "roundfire" for "brown fox": edit by time
    r = what_if("whisper", FOX, w, [e])
    d = r.diff
    assert d["text"]["changed"] and d["edited_seconds"] == [[e.start, e.end]]
    words_a = r.original.meta["words"]
    hit = {w_["word"].strip() for w_ in words_a if w_["start"] < e.end and w_["end"] > e.start}
    changed = {x for o in d["text"]["ops"] if o["type"] != "equal" for x in o["ref"]}
    assert hit & changed, (hit, d["text"]["ops"])  # the word over the span changed
    kept = r.changed.meta["text"].split()
    assert kept[:2] == ["The", "quick"] and kept[-3:] == ["the", "lazy", "dog."]
    moved = d["cross_attention"]
    assert moved["words"] and all(set(x) >= {"word", "a", "b", "shift"} for x in moved["words"])
    assert moved["shift"]["max_abs"] > 0
