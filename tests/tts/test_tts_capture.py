"""The TTS Trace: names and axes (golden), equality with the loop and generate_speech, streaming,
capture policy, vocoders, save/load."""
import numpy as np
import pytest
import torch

from lab.errors import LabError
from lab.trace import CapturePolicy, Trace, count_hooks
from lab.tts import iter_trace_tts, trace_sentences, trace_tts

TEXT = "Hello, world!"
GOLDEN = {  # name: axes (tiny model: 2 encoder layers)
    "tts.speaker_embedding": ("speaker_dim",),
    "input.token_ids": ("text_token",),
    "encoder.hidden": ("layer", "text_token", "hidden"),
    "encoder.output": ("text_token", "hidden"),
    "encoder.layers.0.attn.pattern": ("head", "query_token", "key_token"),
    "encoder.layers.1.attn.pattern": ("head", "query_token", "key_token"),
    "tts.decoder_input": ("step", "mel_bin"),
    "tts.decoder_hidden": ("step", "hidden"),
    "tts.stop_prob": ("step",),
    "tts.stop_prob_frames": ("step", "frame_in_step"),
    "tts.mel_pre_postnet": ("mel_frame", "mel_bin"),
    "tts.cross_attn": ("step", "layer", "head", "text_token"),
    "tts.mel_postnet": ("mel_frame", "mel_bin"),
    "tts.postnet_delta": ("mel_frame", "mel_bin"),
    "tts.waveform": ("sample",),
}


@pytest.fixture(scope="module")
def trace(tts_long):
    return trace_tts(TEXT, tts_long, maxlenratio=2.0, vocoder="griffin-lim",
                     policy=CapturePolicy.full())


def test_golden_names_axes_shapes(trace, tts_long, ids_of):
    assert {n: trace.axes[n] for n in trace.tensors} == GOLDEN
    n_tok = ids_of(tts_long, TEXT).shape[1]
    n_steps = int(n_tok * 2.0 / 2)
    shapes = {n: s for n, _, s, _ in trace.describe_rows()}
    assert shapes["encoder.hidden"] == (3, n_tok, 32)
    assert shapes["tts.cross_attn"] == (n_steps, 2, 2, n_tok)
    assert shapes["tts.mel_postnet"] == (2 * n_steps, 80)
    assert shapes["tts.waveform"] == (2 * n_steps * 256,)
    assert trace.time_bases == {"sample": 16000.0, "mel_frame": 62.5, "step": 31.25}
    assert trace.tokens == tts_long.processor.tokenizer.convert_ids_to_tokens(trace["input.token_ids"].tolist())
    assert trace.tokens[-1] == "</s>"


def test_trace_equals_generate_speech(trace, tts_long, speaker, ids_of):
    torch.manual_seed(0)
    ref = tts_long.model.generate_speech(ids_of(tts_long, TEXT), speaker, maxlenratio=2.0)
    assert torch.equal(trace["tts.mel_postnet"], ref)
    assert torch.equal(trace["tts.postnet_delta"], trace["tts.mel_postnet"] - trace["tts.mel_pre_postnet"])


def test_encoder_output_equals_model(trace, tts_long, ids_of):
    with torch.no_grad():
        out = tts_long.model.speecht5.encoder(ids_of(tts_long, TEXT)).last_hidden_state[0]
    assert torch.allclose(trace["encoder.output"], out, atol=1e-6)
    assert torch.equal(trace["encoder.hidden"][-1], trace["encoder.output"])
    for i in range(2):
        a = trace[f"encoder.layers.{i}.attn.pattern"]
        assert torch.allclose(a.sum(-1), torch.ones_like(a.sum(-1)), atol=1e-5)


def test_meta_steps_json(trace):
    m = trace.meta
    assert m["stop_reason"] == "max_length" and m["stop_step"] == m["n_steps"] - 1
    assert m["n_frames"] == 2 * m["n_steps"] == trace["tts.mel_postnet"].shape[0]
    assert m["vocoder"] == "griffin-lim" and m["complete"] is True
    assert len(trace.steps) == m["n_steps"]
    s = trace.steps[3]
    assert s["frames"] == [6, 8] and s["start_s"] == pytest.approx(6 / 62.5)
    assert s["stop_prob"] == pytest.approx(float(trace["tts.stop_prob"][3]))
    assert s["decision"] == "continue" and trace.steps[-1]["decision"] == "max_length"
    assert 0 <= s["attn_peak"] < len(trace.tokens)
    d = m["diagonality"]
    assert np.asarray(d["per_head"]).shape == (2, 2) and 0 < d["mean"] < 1


def test_no_hooks_left(tts_long):
    """The loop installs no hooks; even a run that raises leaves the model clean."""
    assert count_hooks(tts_long.model) == 0
    with pytest.raises(LabError):
        trace_tts(TEXT, tts_long, speaker=np.ones(3), vocoder=None)
    assert count_hooks(tts_long.model) == 0


def test_save_load_roundtrip(trace, tmp_path):
    back = Trace.load(trace.save(tmp_path / "t"))
    assert back.axes == trace.axes and back.meta["stop_reason"] == trace.meta["stop_reason"]
    assert torch.equal(back["tts.mel_postnet"], trace["tts.mel_postnet"])
    assert back.steps == trace.steps and back.tokens == trace.tokens


def test_streaming_yields_growing_trace(tts_long):
    seen = []
    for tr in iter_trace_tts(TEXT, tts_long, maxlenratio=2.0, vocoder=None, every=4):
        seen.append((tr.meta["complete"], tr.meta.get("n_steps", 0),
                     "tts.mel_pre_postnet" in tr and tr["tts.mel_pre_postnet"].shape[0]))
    assert seen[0] == (False, 0, False)  # after the encoder
    assert [s[1] for s in seen[1:-1]] == list(range(4, seen[-1][1], 4))
    assert all(f == 2 * n for _, n, f in seen[1:])
    assert seen[-1][0] is True
    final = trace_tts(TEXT, tts_long, maxlenratio=2.0, vocoder=None)
    assert "tts.waveform" not in final and seen[-1][1] == final.meta["n_steps"]


def test_policy_layers_heads_dtype(tts_long):
    pol = CapturePolicy(layers=[1], heads=[0])
    tr = trace_tts(TEXT, tts_long, maxlenratio=1.0, vocoder=None, policy=pol)
    assert "encoder.layers.0.attn.pattern" not in tr
    assert tr["encoder.layers.1.attn.pattern"].shape[0] == 1
    assert tr["tts.cross_attn"].shape[1:3] == (1, 1)
    assert tr["tts.cross_attn"].dtype == torch.float16
    tr2 = trace_tts(TEXT, tts_long, maxlenratio=1.0, vocoder=None,
                    policy=CapturePolicy(names=["encoder.output"]))
    assert set(tr2.tensors) == {"encoder.output", "tts.stop_prob", "tts.mel_postnet"}  # forced ones


def test_hifigan_vocoder_and_griffin_lim_too(tts_long, hifigan_dir):
    tr = trace_tts(TEXT, tts_long, maxlenratio=1.0, vocoder=str(hifigan_dir))
    assert tr.meta["vocoder"] == "hifigan" and "local:" in tr.meta["vocoder_source"]
    n = tr["tts.mel_postnet"].shape[0] * 256
    assert tr["tts.waveform"].shape == (n,) and tr["tts.waveform_griffin_lim"].shape == (n,)
    from lab.models import resolve

    voc = resolve(str(hifigan_dir), family="vocoder").model
    with torch.no_grad():
        assert torch.allclose(tr["tts.waveform"], voc(tr["tts.mel_postnet"]), atol=1e-6)


def test_auto_vocoder_falls_back_offline(tts_long):
    tr = trace_tts(TEXT, tts_long, maxlenratio=1.0)
    assert tr.meta["vocoder"] == "griffin-lim"
    assert "HiFi-GAN not available" in tr.meta["vocoder_note"]


@pytest.mark.parametrize("kw, msg", [
    (dict(threshold=-1), "threshold"), (dict(maxlenratio=0), "maxlenratio"),
    (dict(threshold=float("nan")), "threshold"), (dict(speaker=np.zeros(512)), "all zeros"),
    (dict(speaker=np.ones(16)), "512-d"),
])
def test_bad_settings(tts_long, kw, msg):
    with pytest.raises(LabError, match=msg):
        trace_tts(TEXT, tts_long, vocoder=None, **kw)


def test_no_default_tts_model_names_offline_ids(monkeypatch):
    from lab import models

    monkeypatch.setattr(models, "DEFAULTS", {k: v for k, v in models.DEFAULTS.items() if k != "tts"})
    with pytest.raises(LabError, match="offline ids available: .*speecht5-tiny-random"):
        trace_tts(TEXT, None)


def test_sentences_traced_one_by_one(tts_long):
    text = "The first sentence is here. And a second one follows it. Third!"
    res = trace_sentences(text, tts_long, maxlenratio=1.0, vocoder="griffin-lim", gap_s=0.1)
    assert res.sentences == ["The first sentence is here.", "And a second one follows it.", "Third!"]
    assert [t.meta["spoken_text"] for t in res.traces] == res.sentences
    n = sum(t["tts.waveform"].shape[0] for t in res.traces) + 2 * 1600
    assert res.waveform.shape == (n,) and res.sample_rate == 16000
    assert "split into 3 sentences" in res.notes[0]
