"""Lenses (issue 19, intervention 5): every encoder layer read through the output head.

Parity with the library's own path: the CTC lens at layer i equals the logits of the same model
with its transformer layers cut after layer i (HF's forward then applies its own final norm and
head), and the last row equals ``trace_ctc``'s ``ctc.logits``; the Whisper lens at layer i gives
the tokens ``generate()`` gives on the model with its encoder cut after layer i."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.capture import count_hooks
from lab.errors import LabError
from lab.interventions.lens import Lens, ctc_lens, whisper_lens, whisper_lens_all

CLIPS = Path(__file__).resolve().parents[2] / "assets" / "clips"
TEXTS = {k: v["text"] for k, v in json.loads((CLIPS / "clips.json").read_text()).items()}


def _speechlike(seconds=1.0, sr=16000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(t.size)
    return (sr, x.astype(np.float32))


def _tiny_ctc(stable: bool):
    import transformers as T

    from lab.ctc import tiny
    from lab.models import Loaded

    cfg = tiny.config("wav2vec2")
    cfg.do_stable_layer_norm = stable
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    model = T.AutoModelForCTC.from_config(cfg, attn_implementation="eager").eval()
    _, proc = tiny.build("wav2vec2")
    return Loaded(model=model, processor=proc, model_id=f"tiny-w2v2-stable={stable}", family="ctc",
                  weights_source="random (test)", path="", device=torch.device("cpu"))


@pytest.mark.parametrize("stable", [False, True])
def test_ctc_lens_equals_the_model_cut_after_each_layer(stable):
    from lab.ctc.capture import trace_ctc

    loaded = _tiny_ctc(stable)
    audio = _speechlike()
    lens = ctc_lens(audio, loaded)
    n = loaded.model.config.num_hidden_layers
    assert isinstance(lens, Lens) and lens.family == "ctc"
    assert lens.log_probs.shape[0] == n + 1 and len(lens.texts) == len(lens.tokens) == len(lens.cer) == n + 1
    assert lens.layer_names == ["embeddings"] + [f"layer {i}" for i in range(n)]
    assert ("encoder.layer_norm" in lens.how) == stable
    tr = trace_ctc(audio, loaded)
    assert torch.allclose(lens.log_probs[-1], torch.log_softmax(tr["ctc.logits"], -1), atol=1e-5)
    x = tr["input.waveform_normalized"][None]
    layers = loaded.model.wav2vec2.encoder.layers
    for i in range(n + 1):
        cut = copy.deepcopy(loaded.model)
        cut.wav2vec2.encoder.layers = torch.nn.ModuleList(list(cut.wav2vec2.encoder.layers)[:i])
        with torch.no_grad():
            want = torch.log_softmax(cut(x).logits[0], -1)
        assert torch.allclose(lens.log_probs[i], want, atol=1e-4), (stable, i)
    assert len(layers) == n  # the loaded model was not touched
    assert count_hooks(loaded.model) == 0
    for toks, text in zip(lens.tokens, lens.texts):
        assert len(toks) == lens.log_probs.shape[1] and isinstance(text, str)


def test_ctc_lens_reference_and_first_correct():
    loaded = _tiny_ctc(False)
    lens = ctc_lens(_speechlike(), loaded, reference="hello world")
    assert len(lens.reference_cer) == len(lens.texts)
    if lens.texts[-1]:
        assert lens.cer[-1] == 0.0 and lens.first_correct() is not None
    with pytest.raises(LabError, match="no reference"):
        ctc_lens(_speechlike(), loaded).first_correct(against="reference")


def test_whisper_lens_tiny_plumbing_and_bad_layer():
    from lab.whisper import tiny
    from lab.whisper.tracer import trace_whisper

    loaded = tiny.loaded()
    audio = _speechlike()
    n = loaded.model.config.encoder_layers
    kw = dict(max_steps=6, word_timestamps=False)
    normal = trace_whisper(audio, loaded, **kw)
    last = whisper_lens(audio, loaded, n, **kw)
    assert last.meta["token_ids"] == normal.meta["token_ids"]
    assert last.meta["lens"]["layer"] == n
    assert torch.equal(whisper_lens(audio, loaded, -1, **kw)["encoder.output"], normal["encoder.output"])
    mid = whisper_lens(audio, loaded, 1, **kw)
    ln = loaded.model.model.encoder.layer_norm
    with torch.no_grad():
        want = ln(normal["encoder.hidden"][1])
    assert torch.allclose(mid["encoder.output"], want, atol=1e-5)
    assert torch.equal(mid["encoder.hidden"], normal["encoder.hidden"])  # layers above still ran
    for bad in (n + 1, -(n + 2), 1.5, True):
        with pytest.raises(LabError, match="lens layer"):
            whisper_lens(audio, loaded, bad)
    with pytest.raises(LabError):  # the run raises inside the lens hooks: none survive
        whisper_lens(audio, loaded, 1, top_k=0)
    assert count_hooks(loaded.model) == 0
    rows = whisper_lens_all(audio, loaded, max_steps=4, reference="hello")
    assert [r["layer"] for r in rows] == list(range(n + 1))
    assert all("reference_wer" in r for r in rows)


@pytest.mark.real
def test_whisper_lens_equals_generate_on_the_cut_encoder():
    from lab.models import load_cached
    from lab.whisper.capture import log_mel
    from lab.whisper.tracer import as_audio, trace_whisper

    loaded = load_cached("whisper-tiny.en", family="whisper")
    clip = CLIPS / "quick_brown_fox.wav"
    kw = dict(word_timestamps=False, max_steps=24, stop_on_repetition=False)
    n = loaded.model.config.encoder_layers
    assert whisper_lens(clip, loaded, n, **kw).meta["token_ids"] == trace_whisper(clip, loaded, **kw).meta["token_ids"]
    feats = log_mel(as_audio(clip), loaded.processor)[0]
    eos = int(loaded.model.generation_config.eos_token_id)
    for layer in (0, 2):  # measured: layer 0 loops ", you" for all 24 tokens, layer 2 writes " .."
        t = whisper_lens(clip, loaded, layer, **kw)
        cut = copy.deepcopy(loaded.model)
        cut.model.encoder.layers = torch.nn.ModuleList(list(cut.model.encoder.layers)[:layer])
        with torch.no_grad():
            out = cut.generate(feats, max_new_tokens=24)[0].tolist()
        prompt = [p["token_id"] for p in t.meta["prompt"]]
        want = out[len(prompt):] if out[:len(prompt)] == prompt else out
        got = t.meta["token_ids"]
        assert [x for x in got if x != eos] == [x for x in want if x != eos], layer
    assert count_hooks(loaded.model) == 0


@pytest.mark.real
@pytest.mark.parametrize("model_id", ["tiny-wav2vec2-ctc-en", "whisper-tiny.en-ctc"])
def test_ctc_lens_real_zoo(model_id):
    from lab.ctc.capture import trace_ctc
    from lab.models import load_cached

    loaded = load_cached(model_id, family="ctc")
    clip = CLIPS / "quick_brown_fox.wav"
    ref = TEXTS["quick_brown_fox.wav"]
    lens = ctc_lens(clip, loaded, reference=ref)
    tr = trace_ctc(clip, loaded)
    assert lens.texts[-1] == tr.meta["text"] and lens.cer[-1] == 0.0
    # measured: the embeddings read through the head are gibberish (reference CER 0.88-0.91), the
    # last layer is the model's transcript (0.09-0.33)
    assert lens.reference_cer[-1] < lens.reference_cer[0] - 0.3


def test_lens_figures_draw_a_lens_and_whisper_rows():
    from lab.viz.lens import ctc_lens_figure, lens_cer_figure

    lens = ctc_lens(_speechlike(), _tiny_ctc(True), reference="hello world")
    fig = ctc_lens_figure(lens)
    hm = fig.data[0]
    assert hm.type == "heatmap" and len(hm.z) == len(lens.texts) and len(hm.x) == lens.log_probs.shape[1]
    assert abs(hm.x[1] - hm.x[0] - 1 / lens.frames_per_second) < 1e-9  # seconds axis
    assert [t.name for t in lens_cer_figure(lens).data] == ["CER vs final layer", "CER vs reference"]
    rows = [{"layer": 0, "name": "conv stem", "wer": 1.0, "cer": 0.8},
            {"layer": 1, "name": "layer 0", "wer": 0.0, "cer": 0.0}]
    fig = lens_cer_figure(rows)
    assert [t.name for t in fig.data] == ["WER vs final layer", "CER vs final layer"]
    assert list(fig.data[0].x) == ["conv stem", "layer 0"]
