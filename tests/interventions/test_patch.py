"""Activation patching (kind "patch"): A patched with itself is bit-identical, B's frames land in A
exactly over the span, shapes that do not match give a LabError that says why, hooks never
survive. Real Whisper tiny.en: B's whole encoder output makes A decode B's text."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lab.audio import load_audio
from lab.capture import count_hooks
from lab.errors import LabError
from lab.interventions import Plan, parse, to_json
from lab.interventions.patch import Patch
from lab.interventions.run import what_if

CLIPS = Path(__file__).resolve().parents[2] / "assets" / "clips"
FOX, DOOR = CLIPS / "quick_brown_fox.wav", CLIPS / "open_the_door.wav"  # 3.44 s, 2.79 s


@pytest.fixture(scope="module")
def whisper():
    from lab.whisper import tiny

    return tiny.loaded()


@pytest.fixture(scope="module")
def ctc():
    from lab.ctc import tiny

    return tiny.loaded("wav2vec2")


def test_spec_checks_and_round_trip():
    p = Patch("encoder.layers.2", "b.wav", 1.2, 1.6)
    assert parse(json.dumps(to_json([p]))) == [p]
    with pytest.raises(LabError, match="encoder.output or encoder.layers.N"):
        Patch("decoder.layers.0", "b.wav")
    with pytest.raises(LabError, match="source must be clip B"):
        Patch("encoder.output", None)
    with pytest.raises(LabError, match="must be after start"):
        Patch("encoder.output", "b.wav", 1.6, 1.2)
    with pytest.raises(LabError, match="seconds >= 0"):
        Patch("encoder.output", "b.wav", -1.0)


def test_bad_targets_and_sources(whisper, ctc):
    with pytest.raises(LabError, match="valid: encoder.output, encoder.layers.0 .. encoder.layers.1"):
        Plan(whisper.model, "whisper", [Patch("encoder.layers.5", FOX)], loaded=whisper)
    with pytest.raises(LabError, match="needs the Loaded model"):
        Plan(ctc.model, "ctc", [Patch("encoder.output", FOX)])
    with pytest.raises(LabError, match="clip B not found"):
        Plan(ctc.model, "ctc", [Patch("encoder.output", "/nonexistent.wav")], loaded=ctc)


@pytest.mark.parametrize("target", ["encoder.output", "encoder.layers.0"])
def test_whisper_self_patch_is_bit_identical(whisper, target):
    from lab.whisper import trace_whisper

    a = trace_whisper(FOX, whisper, max_steps=5)
    for source in (FOX, a):  # a path (B is run) or a Trace that kept the tensor
        r = what_if("whisper", FOX, whisper, [Patch(target, source)], original=a, max_steps=5)
        for name in ("encoder.output", "decoder.logits", "timestamps.cross_attn"):
            assert torch.equal(r.original[name], r.changed[name]), (name, source)
        assert r.diff["changed"] is False
        rec = r.changed.meta["intervention"]["patches"][0]
        assert rec["calls"] == 1 and rec["frames"] == [0, 1500] and rec["frames_per_second"] == 50.0
    assert count_hooks(whisper.model) == 0


def test_whisper_span_patch_puts_b_frames_exactly_there(whisper):
    from lab.whisper import trace_whisper

    b = trace_whisper(DOOR, whisper, max_steps=2)
    r = what_if("whisper", FOX, whisper, [Patch("encoder.output", DOOR, 1.2, 1.6)], max_steps=5)
    ea, eb, ec = r.original["encoder.output"], b["encoder.output"], r.changed["encoder.output"]
    assert torch.equal(ec[60:80], eb[60:80])  # frames [floor(1.2 * 50), ceil(1.6 * 50))
    assert torch.equal(ec[:60], ea[:60]) and torch.equal(ec[80:], ea[80:])
    assert r.changed.meta["intervention"]["patches"][0]["seconds"] == [1.2, 1.6]
    assert r.diff["patched"][0]["frames"] == [60, 80]
    # a layer's hidden state: layer 0 patched -> that layer's output is B's in the span, the next differs
    r = what_if("whisper", FOX, whisper, [Patch("encoder.layers.0", DOOR, 1.2, 1.6)], max_steps=2)
    ha, hc = r.original["encoder.hidden"], r.changed["encoder.hidden"]
    assert torch.equal(hc[1, 60:80], b["encoder.hidden"][1, 60:80]) and torch.equal(hc[1, :60], ha[1, :60])
    assert torch.equal(hc[0], ha[0]) and not torch.equal(hc[2], ha[2])


def test_ctc_self_patch_and_a_span_changes_only_those_frames(ctc):
    for target in ("encoder.output", "encoder.layers.1"):
        r = what_if("ctc", FOX, ctc, [Patch(target, FOX)])
        assert torch.equal(r.original["ctc.logits"], r.changed["ctc.logits"]), target
    # the CTC head is applied frame by frame: patching its input changes exactly the span's frames
    r = what_if("ctc", FOX, ctc, [Patch("encoder.output", DOOR, 0.5, 1.0)])
    rows = torch.nonzero((r.original["ctc.logits"] != r.changed["ctc.logits"]).any(-1)).flatten().tolist()
    assert rows == list(range(25, 50))
    rec = r.changed.meta["intervention"]["patches"][0]
    assert rec["hook"].startswith("forward_pre") and rec["frames"] == [25, 50]
    # a CTC Trace of B as the source: B is re-run from the trace's waveform, same result
    from lab.ctc.capture import trace_ctc

    again = what_if("ctc", FOX, ctc, [Patch("encoder.output", trace_ctc(DOOR, ctc), 0.5, 1.0)])
    assert torch.equal(again.changed["ctc.logits"], r.changed["ctc.logits"])


def test_ctc_shapes_must_match_and_hooks_never_survive(ctc):
    n_fox, n_door = 171, 139  # CTC frames of the two clips on the tiny wav2vec2 (50/s)
    with pytest.raises(LabError, match=f"clip B gives {n_door} CTC frames, clip A {n_fox}: patch a span"):
        what_if("ctc", FOX, ctc, [Patch("encoder.output", DOOR)])
    assert count_hooks(ctc.model) == 0
    with pytest.raises(LabError, match="clip B gives only 139"):
        what_if("ctc", FOX, ctc, [Patch("encoder.output", DOOR, 2.5, 3.0)])
    with pytest.raises(LabError, match="clip A gives only 139"):  # raised inside the hook on A's run
        what_if("ctc", DOOR, ctc, [Patch("encoder.layers.0", FOX, 2.5, 3.0)])
    assert count_hooks(ctc.model) == 0


def test_classify_patches():
    from lab.classify import tiny

    for kind in ("wav2vec2-seq", "wav2vec2-frame", "ast"):
        cl = tiny.loaded(kind)
        r = what_if("classify", FOX, cl, [Patch("encoder.layers.0", FOX)])
        assert torch.equal(r.original["cls.logits"], r.changed["cls.logits"]), kind
        r = what_if("classify", FOX, cl, [Patch("encoder.layers.0", DOOR, 0.3, 1.0)])
        assert r.diff["labels"]["max_prob_change"] > 0, kind
        assert count_hooks(cl.model) == 0
    # wav2vec2-style: the head's input; the frame classifier changes in those frames only
    cl = tiny.loaded("wav2vec2-frame")
    r = what_if("classify", FOX, cl, [Patch("encoder.output", DOOR, 0.5, 1.0)])
    rows = torch.nonzero((r.original["frames.logits"] != r.changed["frames.logits"]).any(-1)).flatten().tolist()
    assert rows == list(range(25, 50))


@pytest.mark.real
def test_whisper_tiny_en_patching_b_makes_a_decode_b():
    from lab.models import load_cached
    from lab.whisper import trace_whisper

    w = load_cached("whisper-tiny.en", family="whisper")
    a, b = trace_whisper(FOX, w), trace_whisper(DOOR, w)  # both padded to 30 s: 1500 frames each
    r = what_if("whisper", FOX, w, [Patch("encoder.output", load_audio(DOOR))], original=a)
    assert r.changed.meta["token_ids"] == b.meta["token_ids"], (r.changed.meta["text"], b.meta["text"])
    assert r.diff["text"]["changed"]
    # the first second of B: A's early words become B's, A's last words stay
    r = what_if("whisper", FOX, w, [Patch("encoder.output", DOOR, 0.0, 1.0)], original=a)
    text = r.changed.meta["text"].split()
    assert text[:2] == ["Please", "open"] and text[-3:] == a.meta["text"].split()[-3:], text


def test_ast_span_replaces_the_patch_columns_in_the_span():
    from lab.classify import tiny
    from lab.classify.ast import patch_grid

    from lab.capture import hooks, module_at
    from lab.classify import trace_classify

    cl = tiny.loaded("ast")
    n_freq, n_time = patch_grid(cl.model.config)
    stride_s = cl.model.config.time_stride / 100.0
    seen = []
    layer1 = module_at(cl.model, "audio_spectrogram_transformer.layers.1")

    def run(clip, ivs=None):  # layer 1's input = layer 0's output after any patch
        with hooks(cl.model, [(layer1, lambda _m, args: seen.append(args[0][0].clone()))], pre=True):
            tr = trace_classify(clip, cl, interventions=ivs)
        return tr, seen[-1]

    _, ha = run(FOX)
    _, hb = run(DOOR)
    tr, hc = run(FOX, [Patch("encoder.layers.0", DOOR, 0.3, 0.7)])
    cols = [t for t in range(n_time) if 0.3 <= t * stride_s < 0.7]
    idx = [2 + f * n_time + t for f in range(n_freq) for t in cols]  # CLS, distillation, then freq x time
    rest = [i for i in range(ha.shape[0]) if i not in idx]
    assert torch.equal(hc[idx], hb[idx]) and torch.equal(hc[rest], ha[rest])
    rec = tr.meta["intervention"]["patches"][0]
    assert rec["tokens_replaced"] == len(idx) and rec["frames"] is None
