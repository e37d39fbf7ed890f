"""whisper-tiny.en-ctc: the frozen Whisper encoder + trained CTC head, built by the resolver."""
import pytest
import torch

from lab.audio import load_audio
from training.zoo.common import cer


def _tiny(conv: int = 0):
    from lab.ctc.whisper_ctc import WhisperCTCConfig, WhisperCTCForCTC

    cfg = WhisperCTCConfig(d_model=64, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=128,
                           head_dim=32, head_heads=2, head_ffn_dim=64, head_layers=2, head_conv_kernel=conv)
    cfg._attn_implementation = "eager"
    return WhisperCTCForCTC(cfg).eval()


@pytest.mark.parametrize("conv", [0, 5])
def test_tiny_forward_shapes_attentions_and_loss(conv):
    m = _tiny(conv)
    x = torch.randn(2, 80, 301)
    o = m(x, labels=torch.tensor([[5, 6, 7], [5, -100, -100]]), output_attentions=True,
          output_hidden_states=True)
    assert o.logits.shape == (2, 151, 32)  # ceil(301 / 2) frames at 50/s
    assert len(o.attentions) == 4 and o.attentions[0].shape == (2, 2, 151, 151)
    assert torch.allclose(o.attentions[-1].sum(-1), torch.ones(2, 2, 151), atol=1e-5)
    assert len(o.hidden_states) == 1 + 2 + 1 + 2
    assert torch.isfinite(o.loss)


@pytest.mark.parametrize("conv", [0, 5])
def test_tiny_batch_padding_matches_single(conv):
    # with conv > 0 this also checks that padded frames are zeroed before the depthwise conv
    m = _tiny(conv)
    a, b = torch.randn(1, 80, 200), torch.randn(1, 80, 120)
    pad = torch.cat([a, torch.nn.functional.pad(b, (0, 80))])
    mask = torch.zeros(2, 200, dtype=torch.long)
    mask[0] = 1
    mask[1, :120] = 1
    with torch.no_grad():
        # the head alone honours the mask exactly (the convolutions see the padding, as in Whisper)
        enc = torch.cat([m.encode(a), torch.nn.functional.pad(m.encode(b), (0, 0, 0, 40))])
        single = m.head_logits(m.encode(b))
        both = m.head_logits(enc, mask[:, ::2])
    assert torch.allclose(both[1, :60], single[0], atol=1e-5)


def test_conv_kernel_must_be_odd():
    with pytest.raises(ValueError, match="odd"):
        _tiny(4)


def test_tiny_save_load_roundtrip_through_resolver(tmp_path):
    from lab.models import resolve
    from lab.ctc.zoo_vocab import tokenizer
    from lab.ctc.whisper_ctc import WhisperCTCFeatureExtractor
    from transformers import Wav2Vec2Processor

    m = _tiny(5)  # the shipped head's layout: config.head_conv_kernel survives the round trip
    m.save_pretrained(tmp_path)
    Wav2Vec2Processor(feature_extractor=WhisperCTCFeatureExtractor(), tokenizer=tokenizer()).save_pretrained(tmp_path)
    L = resolve(str(tmp_path))
    assert L.family == "ctc" and type(L.model).__name__ == "WhisperCTCForCTC"
    feats = L.processor(audio=torch.zeros(16000).numpy() + 0.01, sampling_rate=16000, return_tensors="pt")
    assert feats.input_features.shape[-1] == 100  # padded to the clip, not to 30 s
    x = torch.randn(1, 80, 100)
    assert torch.allclose(L.model(x).logits, m(x).logits, atol=1e-5)


@pytest.mark.real
def test_whisper_ctc_heldout_cer(heldout_speech):
    from lab.models import resolve

    L = resolve("whisper-tiny.en-ctc")
    assert L.weights_source.startswith("bundle:whisper-tiny.en-ctc")
    refs, hyps, blank, frames = [], [], 0, 0
    with torch.no_grad():
        for path, text in heldout_speech:
            a = load_audio(path)
            feats = L.processor(audio=a.samples, sampling_rate=16000, return_tensors="pt")
            ids = L.model(**feats).logits.argmax(-1)
            hyps.append(L.processor.batch_decode(ids)[0])
            refs.append(text)
            blank += int((ids == 0).sum())
            frames += ids.numel()
    # measured 0.227 on these 20 short clips (0.14 on 300 held-out clips; the head trained on half
    # the clips: 0.227 / 0.16; before its convolution modules: 0.247 / 0.21); the goal (0.08)
    # is not reached yet (model card)
    assert cer(refs, hyps) <= 0.27, list(zip(refs, hyps))
    assert blank / frames > 0.5  # peaky CTC: most frames are blank


@pytest.mark.real
def test_whisper_ctc_build_is_deterministic(tmp_path):
    """The resolver builds the full model from the shipped head + the Whisper bundle: same bytes."""
    import hashlib
    import json

    from safetensors.torch import load_file

    from lab.models import BUNDLES
    from lab.ctc.whisper_ctc.build import ZOO, assemble_whisper_ctc

    wdir, _ = BUNDLES["whisper-tiny.en"]()
    src = ZOO / "whisper-tiny.en-ctc"
    head, recipe = load_file(str(src / "head.safetensors")), json.loads((src / "recipe.json").read_text())
    digests = []
    for name in ("a", "b"):
        assemble_whisper_ctc(tmp_path / name, wdir, head, recipe["head"])
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / name).iterdir()})
    assert digests[0] == digests[1] and "model.safetensors" in digests[0]


def test_encoder_states_cached_per_chunk(tmp_path, monkeypatch):
    # the recipe caches the frozen encoder's states in chunks that corpora of any size share
    from training.zoo import data, train_whisper_ctc as R

    monkeypatch.setenv("AUDIOLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(R, "STATES_CHUNK", 2)
    monkeypatch.setattr(data, "TRAIN_CHUNK", 4)
    assert R.encoder_states("heldout", 5, 0) is None  # nothing cached, no model: no states
    m = _tiny()
    from lab.ctc.whisper_ctc import WhisperCTCFeatureExtractor

    fe = WhisperCTCFeatureExtractor()
    states, samples = R.encoder_states("heldout", 5, 0, m, fe, log=lambda *_: None)
    files = sorted(p.name for p in (tmp_path / "zoo-data").glob("whisper-states-*.pt"))
    assert [f.split("-")[3:5] for f in files] == [["heldout", "0"], ["heldout", "2"], ["heldout", "4"]]
    audio, _ = data.corpus("heldout", 5, 0)
    assert samples == [len(a) for a in audio]
    with torch.no_grad():
        own = m.encode_states(fe(audio[3], sampling_rate=16000, return_tensors="pt").input_features)[0]
    assert states[3].dtype == torch.float16 and states[3].shape == (1 + 2, -(-len(audio[3]) // 320), 64)
    assert torch.equal(states[3], own.to(torch.float16))
    again, _ = R.encoder_states("heldout", 5, 0)  # served from the cache, no model needed
    assert all(torch.equal(a, b) for a, b in zip(states, again))
    assert R.encoder_states("heldout", 3, 0) is None  # clip 2 alone is a chunk never cached (it was 2-3)
