"""The lab's decoder loop against transformers' generate_speech (bit-equal), and its stop rules."""
import pytest
import torch

from lab.trace import module_at
from lab.tts import loop

TEXT = "Hello, world!"


def reference(loaded, ids, speaker, s: loop.LoopSettings, *, method="generate_speech"):
    torch.manual_seed(s.seed)
    fn = getattr(loaded.model, method)
    kw = dict(threshold=s.threshold, minlenratio=s.minlenratio, maxlenratio=s.maxlenratio)
    if method == "generate":
        return fn(ids, speaker_embeddings=speaker, **kw)
    return fn(ids, speaker, **kw)


def test_module_table_matches_model(tts):
    for part, path in loop.MODULES.items():
        assert module_at(tts.model, path) is not None, part
    assert hasattr(module_at(tts.model, loop.MODULES["postnet"]), "postnet")


def test_parity_max_length(tts_long, speaker, ids_of):
    ids = ids_of(tts_long, TEXT)
    s = loop.LoopSettings(threshold=0.5, maxlenratio=3.0, seed=0)
    res = loop.run(tts_long.model, ids, speaker, s)
    ref = reference(tts_long, ids, speaker, s)
    assert res.stop_reason == "max_length"
    assert len(res.steps) == res.maxlen == int(ids.shape[1] * 3.0 / 2)
    assert res.mel_post.shape == ref.shape == (res.maxlen * 2, 80)
    assert torch.equal(res.mel_post, ref)
    assert torch.equal(res.mel_post, reference(tts_long, ids, speaker, s, method="generate"))


def test_parity_threshold_mid_run(tts_long, speaker, ids_of):
    """Pick a threshold the stop curve first reaches at a known step k; both loops stop there."""
    ids = ids_of(tts_long, "A short test sentence.")  # (this model's curve peaks at step 36 of 48)
    probe = loop.run(tts_long.model, ids, speaker, loop.LoopSettings(threshold=99, maxlenratio=4.0))
    p = torch.tensor([st.stop_prob for st in probe.steps])
    k = int(p[:-1].argmax())  # the first step whose stop probability reaches its maximum
    assert 0 < k < len(p) - 1
    s = loop.LoopSettings(threshold=float(probe.steps[k].stop_probs.sum()), maxlenratio=4.0)
    res = loop.run(tts_long.model, ids, speaker, s)
    assert (res.stop_reason, res.stop_step) == ("threshold", k)
    ref = reference(tts_long, ids, speaker, s)
    assert ref.shape[0] == (k + 1) * 2
    assert torch.equal(res.mel_post, ref)


def test_parity_threshold_after_min_length(tts_stop, speaker, ids_of):
    ids = ids_of(tts_stop, TEXT)
    s = loop.LoopSettings(minlenratio=1.0, maxlenratio=5.0, seed=3)
    res = loop.run(tts_stop.model, ids, speaker, s)
    assert res.minlen == int(ids.shape[1] / 2)
    assert res.stop_reason == "threshold"
    assert res.stop_step == res.minlen - 1  # idx = step + 1 reaches minlen
    assert all(st.below_min_length and st.stop_prob >= 0.5 for st in res.steps[:-1])
    assert torch.equal(res.mel_post, reference(tts_stop, ids, speaker, s))


def test_stops_at_first_step_without_min_length(tts, speaker, ids_of):
    ids = ids_of(tts, TEXT)
    res = loop.run(tts.model, ids, speaker, loop.LoopSettings())
    assert res.steps[0].stop_prob >= 0.5 and res.stop_step == 0 and res.stop_reason == "threshold"
    assert torch.equal(res.mel_post, reference(tts, ids, speaker, loop.LoopSettings()))


def test_prenet_dropout_is_live_and_seeded(tts_long, speaker, ids_of):
    ids = ids_of(tts_long, TEXT)
    s0, s1 = loop.LoopSettings(maxlenratio=2.0, seed=0), loop.LoopSettings(maxlenratio=2.0, seed=1)
    a = loop.run(tts_long.model, ids, speaker, s0).mel_post
    b = loop.run(tts_long.model, ids, speaker, s1).mel_post
    assert torch.equal(a, loop.run(tts_long.model, ids, speaker, s0).mel_post)
    assert not torch.allclose(a, b)  # inference-time prenet dropout changes the output


def test_seed_none_uses_global_generator(tts_long, speaker, ids_of):
    ids = ids_of(tts_long, TEXT)
    s = loop.LoopSettings(maxlenratio=2.0, seed=None)
    torch.manual_seed(7)
    mine = loop.run(tts_long.model, ids, speaker, s).mel_post
    assert torch.equal(mine, reference(tts_long, ids, speaker, loop.LoopSettings(maxlenratio=2.0, seed=7)))


def test_private_generator_survives_interleaving(tts_long, speaker, ids_of):
    """Other random draws between steps (another request, a streaming UI) change nothing, and
    the global generator is left as it was."""
    ids = ids_of(tts_long, TEXT)
    s = loop.LoopSettings(maxlenratio=2.0, seed=0)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    enc = loop.encode(tts_long.model, ids)
    steps = []
    for st in loop.decode(tts_long.model, enc, speaker, s):
        steps.append(st)
        torch.rand(17)
    torch.manual_seed(123)
    assert torch.equal(torch.get_rng_state(), before)
    res = loop.finish(tts_long.model, ids, enc, steps, s)
    assert torch.equal(res.mel_post, reference(tts_long, ids, speaker, s))


def test_step_records(tts_long, speaker, ids_of):
    ids = ids_of(tts_long, TEXT)
    res = loop.run(tts_long.model, ids, speaker, loop.LoopSettings(maxlenratio=2.0))
    cfg = tts_long.model.config
    assert torch.equal(res.steps[0].decoder_input, torch.zeros(80))
    for prev, st in zip(res.steps, res.steps[1:]):
        assert torch.equal(st.decoder_input, prev.frames[-1])  # only the last new frame is fed back
    assert torch.equal(res.mel_pre, torch.cat([st.frames for st in res.steps]))
    for st in res.steps:
        assert st.cross_attn.shape == (cfg.decoder_layers, cfg.decoder_attention_heads, ids.shape[1])
        assert torch.allclose(st.cross_attn.sum(-1), torch.ones(2, 2), atol=1e-5)
        assert st.stop_probs.shape == (cfg.reduction_factor,)
        assert st.stop_prob == pytest.approx(float(st.stop_probs.sum()), abs=1e-6)
    for a in res.encoder.attentions:
        assert torch.allclose(a.sum(-1), torch.ones_like(a.sum(-1)), atol=1e-5)
    # post-net is a residual on top of the decoder output
    post = module_at(tts_long.model, loop.MODULES["postnet"]).postnet(res.mel_pre[None])[0]
    assert torch.allclose(res.mel_post, post)


def test_max_positions_guard(tts_long, speaker, ids_of):
    """transformers would index past the decoder's 60 positions; the lab stops there."""
    ids = ids_of(tts_long, TEXT)
    s = loop.LoopSettings(threshold=99, maxlenratio=50.0)
    res = loop.run(tts_long.model, ids, speaker, s)
    assert res.stop_reason == "max_positions"
    assert len(res.steps) == tts_long.model.config.max_speech_positions
    with pytest.raises(RuntimeError):
        reference(tts_long, ids, speaker, s)
