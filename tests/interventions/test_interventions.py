"""Interventions on tiny random models: the spec round-trips, a no-op is bit-identical, an ablation
changes what it should and nothing upstream, hooks never survive (also when a run raises)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lab import tables
from lab.capture import count_hooks
from lab.errors import LabError
from lab.interventions import Ablate, ForceToken, Plan, parse, parse_ablate, parse_force, to_json
from lab.interventions.diff import diff
from lab.interventions.run import what_if

FOX = Path(__file__).resolve().parents[2] / "assets" / "clips" / "quick_brown_fox.wav"


@pytest.fixture(scope="module")
def whisper():
    from lab.whisper import tiny

    return tiny.loaded()


@pytest.fixture(scope="module")
def w_base(whisper):
    from lab.whisper import trace_whisper

    return trace_whisper(FOX, whisper, max_steps=6)


def test_spec_json_round_trip_and_cli_forms():
    ivs = [Ablate("encoder.layers.1.attn", heads=(0, 1)), Ablate("decoder.layers.0.ffn", mode="mean"),
           ForceToken(step=2, token_id=7)]
    assert parse(json.dumps({"interventions": to_json(ivs)})) == ivs
    assert parse_ablate("encoder.layers.2.attn.heads=0,3") == Ablate("encoder.layers.2.attn", heads=(0, 3))
    assert parse_ablate("decoder.layers.1.cross_attn:mean") == Ablate("decoder.layers.1.cross_attn", mode="mean")
    assert parse_ablate("encoder.layers.0.attn.heads=").heads == ()
    assert parse_force("3=7586") == ForceToken(3, 7586)
    for bad in ['[{"kind": "melt"}]', '[{"kind": "ablate", "target": "x.y", "mode": "half"}]',
                '[{"kind": "ablate", "target": "x.y", "colour": 1}]', '{"kind": "force_token", "step": -1, "token_id": 1}']:
        with pytest.raises(LabError):
            parse(bad)
    with pytest.raises(LabError):
        parse_force("three=4")


def test_bad_targets_name_the_problem(whisper):
    with pytest.raises(LabError, match="has no intervention target"):
        Plan(whisper.model, "whisper", [Ablate("encoder.layers.9.attn")])
    with pytest.raises(LabError, match="heads 0..1"):
        Plan(whisper.model, "whisper", [Ablate("encoder.layers.0.attn", heads=(5,))])
    with pytest.raises(LabError, match="heads cannot be ablated"):
        Plan(whisper.model, "whisper", [Ablate("encoder.layers.0.ffn", heads=(0,))])
    with pytest.raises(LabError, match="outside the vocabulary"):
        Plan(whisper.model, "whisper", [ForceToken(1, 10**6)])


def test_whisper_noop_is_bit_identical(whisper, w_base):
    from lab.whisper import trace_whisper

    t = trace_whisper(FOX, whisper, max_steps=6,
                      interventions=[Ablate("encoder.layers.0.attn", heads=()),
                                     Ablate("decoder.layers.1.cross_attn", heads=())])
    for name in ("encoder.output", "decoder.logits", "timestamps.cross_attn"):
        assert torch.equal(t[name], w_base[name]), name
    assert t.meta["token_ids"] == w_base.meta["token_ids"]
    assert [a["calls"] for a in t.meta["intervention"]["ablations"]] == [1, 6]
    assert diff(w_base, t)["changed"] is False
    assert count_hooks(whisper.model) == 0


@pytest.mark.parametrize("target", ["decoder.layers.1.self_attn", "decoder.layers.0.cross_attn",
                                    "decoder.layers.1.ffn"])
def test_whisper_decoder_ablation_leaves_the_encoder_alone(whisper, w_base, target):
    from lab.whisper import trace_whisper

    heads = None if target.endswith("ffn") else (0,)
    t = trace_whisper(FOX, whisper, max_steps=6, interventions=[Ablate(target, heads=heads)])
    assert torch.equal(t["encoder.output"], w_base["encoder.output"])
    assert not torch.equal(t["decoder.logits"][:1], w_base["decoder.logits"][:1])
    d = diff(w_base, t)
    assert d["changed"] and d["same_input"] and d["steps"]["kl"][0] > 0
    assert tables.check_trace(t, __import__("lab.whisper.names", fromlist=["x"]).AXES,
                              __import__("lab.whisper.names", fromlist=["x"]).META) == []
    assert count_hooks(whisper.model) == 0


def test_whisper_encoder_head_ablation_changes_later_layers_only(whisper, w_base):
    from lab.whisper import trace_whisper

    t = trace_whisper(FOX, whisper, max_steps=2, interventions=[Ablate("encoder.layers.1.attn", heads=(1,))])
    h0, h1 = w_base["encoder.hidden"], t["encoder.hidden"]
    assert torch.equal(h0[:2], h1[:2])  # input of layer 0 and output of layer 0: untouched
    assert not torch.equal(h0[2], h1[2])  # output of layer 1: changed
    # the ablated head's own pattern is what it computed: its contribution is what is cut
    assert torch.equal(t["encoder.layers.1.attn.pattern"], w_base["encoder.layers.1.attn.pattern"])


def test_zeroing_every_head_equals_zeroing_the_projection_input(whisper):
    """Head ablation cuts at the output projection's input: all heads zeroed leaves only its bias,
    which is what a whole-part ablation plus the bias gives."""
    model = whisper.model
    attn = model.model.encoder.layers[0].self_attn
    x = torch.randn(1, 5, model.config.d_model)
    plan = Plan(model, "whisper", [Ablate("encoder.layers.0.attn", heads=(0, 1))])
    with torch.no_grad(), plan.installed():
        out = attn(x)[0]
    assert torch.allclose(out, attn.out_proj.bias.expand_as(out))
    plan = Plan(model, "whisper", [Ablate("encoder.layers.0.attn")])
    with torch.no_grad(), plan.installed():
        assert torch.equal(attn(x)[0], torch.zeros_like(out))


def test_decoder_ablation_matches_generate_under_the_same_hooks(whisper, features_of):
    """The traced decode with a decoder ablation = generate() with the same hooks on (prefill vs
    one-token steps see the same intervention)."""
    from lab.whisper import trace_whisper

    iv = [Ablate("decoder.layers.1.self_attn", heads=(1,))]
    t = trace_whisper(FOX, whisper, max_steps=8, stop_on_repetition=False, interventions=iv)
    with torch.no_grad(), Plan(whisper.model, "whisper", iv).installed():
        want = whisper.model.generate(features_of(whisper), max_new_tokens=8)[0].tolist()
    got = t.meta["token_ids"]
    assert got[:len(want)] == want[:len(got)]


@pytest.fixture(scope="module")
def features_of():
    from lab.audio import load_audio
    from lab.whisper.capture import log_mel

    return lambda loaded: log_mel(load_audio(FOX), loaded.processor)[0]


def test_force_token_on_tiny(whisper, w_base):
    from lab.whisper import trace_whisper

    t = trace_whisper(FOX, whisper, max_steps=6, interventions=[ForceToken(step=2, token_id=1000)])
    assert t.meta["token_ids"][:3] == w_base.meta["token_ids"][:2] + [1000]
    assert t.steps[2]["forced"] and t.steps[2]["model_token_id"] == w_base.meta["token_ids"][2]
    assert t.steps[2]["top_k"] == w_base.steps[2]["top_k"]  # the model's distribution at that step
    d = diff(w_base, t)
    assert d["steps"]["first_divergent_step"] == 2 and d["steps"]["forced"] == [2]
    assert d["steps"]["kl"][:3] == [0.0, 0.0, 0.0]
    with pytest.raises(LabError, match="stopped after"):
        trace_whisper(FOX, whisper, max_steps=2, interventions=[ForceToken(step=5, token_id=1000)])


def test_hooks_never_survive_a_run_that_raises(whisper):
    from lab.whisper import trace_whisper

    iv = [Ablate("encoder.layers.0.attn", heads=(0,)), Ablate("decoder.layers.0.ffn")]
    with pytest.raises(LabError):
        trace_whisper(FOX, whisper, max_steps=2, top_k=0, interventions=iv)
    assert count_hooks(whisper.model) == 0

    class Boom(Exception):
        pass

    plan = Plan(whisper.model, "whisper", iv)
    with pytest.raises(Boom):
        with plan.installed():
            assert count_hooks(whisper.model) == 2
            raise Boom
    assert count_hooks(whisper.model) == 0
    # a streaming loop abandoned half-way leaves nothing either
    from lab.whisper import iter_trace_whisper

    it = iter_trace_whisper(FOX, whisper, max_steps=5, interventions=iv)
    next(it), next(it)
    assert count_hooks(whisper.model) == 0
    it.close()
    assert count_hooks(whisper.model) == 0


@pytest.mark.parametrize("arch", ["wav2vec2", "hubert", "wavlm"])
def test_ctc_ablations(arch):
    from lab.ctc import names as N
    from lab.ctc import tiny

    loaded = tiny.loaded(arch)
    noop = what_if("ctc", FOX, loaded, [Ablate("encoder.layers.1.attn", heads=())] if arch != "wavlm"
                   else [Ablate("encoder.layers.1.ffn", mode="zero")])
    if arch != "wavlm":
        assert torch.equal(noop.original["ctc.logits"], noop.changed["ctc.logits"])
        assert not noop.diff["changed"]
    w = what_if("ctc", FOX, loaded, [Ablate("encoder.layers.1.attn")])
    assert w.diff["frames"]["max_logit_change"] > 0 and w.diff["changed"]
    assert tables.check_trace(w.changed, N.AXES, N.META) == []
    if arch == "wavlm":
        with pytest.raises(LabError, match="fused multi_head_attention_forward"):
            what_if("ctc", FOX, loaded, [Ablate("encoder.layers.0.attn", heads=(0,))])
    else:
        h = what_if("ctc", FOX, loaded, [Ablate("encoder.layers.1.attn", heads=(0,), mode="mean")])
        assert h.diff["frames"]["max_logit_change"] > 0
        # layer 1's ablation leaves layer 0's output (hidden state 1) untouched
        assert torch.equal(h.original["encoder.hidden"][:2], h.changed["encoder.hidden"][:2])
    assert count_hooks(loaded.model) == 0


def test_ast_head_ablation_changes_scores():
    from lab.classify import names as N
    from lab.classify import tiny

    loaded = tiny.loaded("ast")
    noop = what_if("classify", FOX, loaded, [Ablate("encoder.layers.0.attn", heads=())])
    assert torch.equal(noop.original["cls.logits"], noop.changed["cls.logits"])
    w = what_if("classify", FOX, loaded, [Ablate("encoder.layers.0.attn", heads=(1,))])
    assert w.diff["labels"]["max_prob_change"] > 0
    assert tables.check_trace(w.changed, N.AXES, N.META) == []
    assert count_hooks(loaded.model) == 0


def test_tts_cross_attention_ablation():
    from lab.tts import names as N
    from lab.tts import tiny

    loaded = tiny.loaded()
    kw = dict(vocoder=None, maxlenratio=2.0)
    noop = what_if("tts", "hello world", loaded, [Ablate("decoder.layers.0.cross_attn", heads=())], **kw)
    assert torch.equal(noop.original["tts.mel_pre_postnet"], noop.changed["tts.mel_pre_postnet"])
    w = what_if("tts", "hello world", loaded, [Ablate("decoder.layers.0.cross_attn")],
                original=noop.original, **kw)
    assert w.diff["stop"]["mel_mean_abs_diff"] > 0
    # the text encoder ran unchanged
    assert torch.equal(w.original["encoder.output"], w.changed["encoder.output"])
    assert tables.check_trace(w.changed, N.AXES, N.META) == []
    assert count_hooks(loaded.model) == 0
