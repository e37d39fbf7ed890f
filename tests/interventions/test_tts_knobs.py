"""TTS knobs (lab.interventions.tts_knobs): a no-op value is bit-identical, each knob changes what
it should -- the stop step, the mel (speaker), the cross-attention span -- on the tiny random model
(plumbing) and on the zoo's trained tiny-speecht5-tts-en (real)."""
from __future__ import annotations

import math

import pytest
import torch

from lab import tables
from lab.errors import LabError
from lab.interventions import Plan, parse, to_json
from lab.interventions.run import what_if
from lab.interventions.tts_knobs import (ClampCrossAttn, SpeakerEdit, StopScale, resolve,
                                         speaker_directions, word_span)

TEXT = "The birch canoe slid on the smooth planks."
SAME = ("tts.mel_pre_postnet", "tts.mel_postnet", "tts.stop_prob_frames", "tts.cross_attn",
        "tts.decoder_hidden", "encoder.output", "tts.speaker_embedding")


def _identical(a, b):
    for name in SAME:
        assert torch.equal(a[name], b[name]), name
    assert a.meta["stop_step"] == b.meta["stop_step"]


@pytest.fixture(scope="module")
def tiny():
    from lab.tts import tiny

    return tiny.loaded()


@pytest.fixture(scope="module")
def tiny_base(tiny):
    from lab.tts import trace_tts

    return trace_tts("hello world", tiny, vocoder=None, maxlenratio=2.0)


def test_spec_round_trip_and_bad_values():
    ivs = [StopScale(0.5, offset=-1), SpeakerEdit("sv1", 0.5), ClampCrossAttn(2, 5)]
    assert parse(to_json(ivs)) == ivs
    assert parse('[{"kind": "stop_scale", "scale": 2}]') == [StopScale(2.0)]
    for bad in (lambda: StopScale(-1), lambda: StopScale(float("nan")), lambda: SpeakerEdit("", 1),
                lambda: SpeakerEdit("sv1", float("inf")), lambda: ClampCrossAttn(3, 3),
                lambda: ClampCrossAttn(-1, 2), lambda: ClampCrossAttn(0.5, 2)):
        with pytest.raises(LabError):
            bad()


def test_knobs_refuse_other_families_and_bad_runs(tiny, tiny_base):
    from lab.tts import trace_tts
    from lab.whisper import tiny as wtiny

    with pytest.raises(LabError, match="applies to tts"):
        Plan(wtiny.loaded().model, "whisper", [StopScale(0.5)])
    n = len(tiny_base.tokens)
    kw = dict(vocoder=None, maxlenratio=2.0)
    with pytest.raises(LabError, match=f"the text has {n} tokens"):
        trace_tts("hello world", tiny, interventions=[ClampCrossAttn(0, n + 1)], **kw)
    with pytest.raises(LabError, match="unknown direction 'pc7'"):
        trace_tts("hello world", tiny, interventions=[SpeakerEdit("pc7", 1.0)], **kw)
    with pytest.raises(LabError, match="given 2 times"):
        trace_tts("hello world", tiny, interventions=[StopScale(0.5), StopScale(2.0)], **kw)


@pytest.mark.parametrize("make", [lambda n: StopScale(1.0, 0.0), lambda n: SpeakerEdit("sv1", 0.0),
                                  lambda n: SpeakerEdit("random", 0.0), lambda n: ClampCrossAttn(0, n)],
                         ids=["stop", "speaker-sv1", "speaker-random", "clamp-all"])
def test_noop_is_bit_identical_tiny(tiny, tiny_base, make):
    from lab.tts import trace_tts

    b = trace_tts("hello world", tiny, vocoder=None, maxlenratio=2.0,
                  interventions=[make(len(tiny_base.tokens))])
    _identical(tiny_base, b)
    assert b.meta["intervention"]["tts_knobs"]


def test_directions_are_unit_and_orthogonal_to_the_speaker(tiny):
    from lab.tts.speaker import load_speaker

    x = load_speaker(None, tiny.model.config.speaker_embedding_dim)[0][0]
    dirs = speaker_directions(tiny)
    assert {"sv1", "sv2", "sv3", "random", "self"} <= set(dirs)
    for name, d in dirs.items():
        assert d.shape == x.shape and abs(float(d.norm()) - 1) < 1e-5, name
        cos = float(d @ x / x.norm())
        assert abs(cos - (1.0 if name == "self" else 0.0)) < 1e-5, name
    # sv1 is the direction the prenet's speaker weights amplify most (among these)
    w = tiny.model.speecht5.decoder.prenet.speaker_embeds_layer.weight.detach()[:, -x.shape[0]:]
    gains = {k: float((w @ d).norm()) for k, d in dirs.items() if k != "self"}
    assert max(gains, key=gains.get) == "sv1"


def test_speaker_edit_turns_by_atan_amount(tiny):
    from lab.tts import trace_tts

    b = trace_tts("hello world", tiny, vocoder=None, maxlenratio=2.0,
                  interventions=[SpeakerEdit("sv2", 1.0)])
    rec = b.meta["intervention"]["tts_knobs"]["speaker"]
    assert rec["turned_degrees"] == pytest.approx(45.0, abs=1e-3)
    assert rec["cosine_to_original"] == pytest.approx(math.cos(math.pi / 4), abs=1e-5)


# -- the trained zoo model ----------------------------------------------------------------
@pytest.fixture(scope="module")
def zoo():
    from lab.tts import load_tts

    return load_tts("tiny-speecht5-tts-en")


@pytest.fixture(scope="module")
def zoo_base(zoo):
    from lab.tts import trace_tts

    return trace_tts(TEXT, zoo, vocoder=None, maxlenratio=5.0)


def _predicted_stop(base, scale: float, offset: float, threshold: float = 0.5) -> int | None:
    """The stop step the transformed *unchanged* stop logits give (the loop never feeds them back)."""
    p = base["tts.stop_prob_frames"].double()
    z = torch.log(p) - torch.log1p(-p)
    hit = (torch.sigmoid(scale * z + offset).sum(1) >= threshold).nonzero().flatten()
    return int(hit[0]) if len(hit) else None


@pytest.mark.real
def test_zoo_noop_is_bit_identical(zoo, zoo_base):
    w = what_if("tts", TEXT, zoo, [StopScale(1.0), SpeakerEdit("sv1", 0.0),
                                   ClampCrossAttn(0, len(zoo_base.tokens))],
                original=zoo_base, vocoder=None, maxlenratio=5.0)
    _identical(zoo_base, w.changed)
    assert w.diff["changed"] is False


@pytest.mark.real
@pytest.mark.parametrize("scale,offset,direction", [(0.1, 0.0, "earlier"), (2.0, 0.0, "not earlier"),
                                                    (1.0, 6.0, "earlier"), (1.0, -20.0, "never")])
def test_zoo_stop_knob_moves_the_stop_step(zoo, zoo_base, scale, offset, direction):
    from lab.tts import trace_tts

    b = trace_tts(TEXT, zoo, vocoder=None, maxlenratio=5.0, interventions=[StopScale(scale, offset)])
    a_stop, b_stop = zoo_base.meta["stop_step"], b.meta["stop_step"]
    if direction == "earlier":
        assert b_stop < a_stop and b.meta["stop_reason"] == "threshold"
    elif direction == "not earlier":
        assert b_stop >= a_stop
    else:
        assert b.meta["stop_reason"] == "max_length" and b_stop == b.meta["maxlen"] - 1 > a_stop
    if b_stop <= a_stop:  # within the unchanged run: the stop step follows from its own logits
        assert b_stop == _predicted_stop(zoo_base, scale, offset)
    # the stop logit is read, never fed back: the frames both runs made are bit-identical
    n = min(a_stop, b_stop) + 1
    assert torch.equal(zoo_base["tts.mel_pre_postnet"][:2 * n], b["tts.mel_pre_postnet"][:2 * n])


@pytest.mark.real
def test_zoo_speaker_edit_changes_the_voice_not_the_text_reading(zoo, zoo_base):
    from lab.tts import trace_tts

    kw = dict(vocoder=None, maxlenratio=5.0)
    b = trace_tts(TEXT, zoo, interventions=[SpeakerEdit("sv2", 1.0)], **kw)
    n = min(zoo_base["tts.mel_pre_postnet"].shape[0], b["tts.mel_pre_postnet"].shape[0])
    change = float((zoo_base["tts.mel_pre_postnet"][:n] - b["tts.mel_pre_postnet"][:n]).abs().mean())
    assert change > 0.05  # log10-mel units: a clearly different spectrogram
    assert torch.equal(zoo_base["encoder.output"], b["encoder.output"])  # the text side is untouched
    assert b.meta["stop_reason"] == "threshold"  # it still stops by itself ...
    assert abs(b.meta["stop_step"] - zoo_base.meta["stop_step"]) <= 8  # ... near the same place
    assert b.meta["diagonality"]["best"] > 0.9  # and still reads the text left to right
    # the length of the x-vector is thrown away: along 'self' only float rounding changes
    s = trace_tts(TEXT, zoo, interventions=[SpeakerEdit("self", 1.0)], **kw)
    assert s.meta["stop_step"] == zoo_base.meta["stop_step"]
    assert torch.allclose(zoo_base["tts.mel_pre_postnet"], s["tts.mel_pre_postnet"], atol=1e-4)


@pytest.mark.real
def test_zoo_clamp_zeroes_cross_attention_outside_the_span(zoo, zoo_base):
    from lab.tts import names as N
    from lab.tts import trace_tts

    start, end = word_span(zoo_base, "canoe")
    assert zoo_base.tokens[start:end] == ["k", "ax", "n", "uw"]
    n = len(zoo_base.tokens)
    b = trace_tts(TEXT, zoo, vocoder=None, maxlenratio=5.0, interventions=[ClampCrossAttn(start, n)])
    x = b["tts.cross_attn"].float()  # (step, layer, head, text_token)
    assert float(x[..., :start].abs().max()) == 0.0
    assert torch.allclose(x.sum(-1), torch.ones_like(x.sum(-1)), atol=2e-2)  # fp16 capture
    assert torch.equal(zoo_base["encoder.output"], b["encoder.output"])  # the encoder read it all
    n_common = min(zoo_base["tts.mel_pre_postnet"].shape[0], b["tts.mel_pre_postnet"].shape[0])
    assert float((zoo_base["tts.mel_pre_postnet"][:n_common] - b["tts.mel_pre_postnet"][:n_common])
                 .abs().mean()) > 0.1
    assert b.meta["intervention"]["tts_knobs"]["clamp"]["tokens"][:4] == ["k", "ax", "n", "uw"]
    assert tables.check_trace(b, N.AXES, N.META) == []
    # the knobs resolve against this text: an explicit Plan gives the same span
    plan = Plan(zoo.model, "tts", [ClampCrossAttn(start, end)])
    mask = resolve(plan, zoo.model, n, zoo_base.tokens).encoder_mask(torch.ones(1, n, dtype=torch.int32))
    assert mask[0].tolist() == [int(start <= i < end) for i in range(n)]
