"""The shipped tiny wav2vec2 models: load offline through the resolver by id, meet their metric on
the committed held-out sets."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.audio import load_audio
from lab.models import ZOO_DIR, resolve
from training.zoo.common import cer

ROOT = Path(__file__).resolve().parents[2]
HELD = ROOT / "assets" / "heldout"


def _inputs(L, samples):
    return L.processor(samples, sampling_rate=16000, return_tensors="pt")


@pytest.mark.real
def test_ctc_en_heldout_cer_and_peaky(heldout_speech):
    L = resolve("tiny-wav2vec2-ctc-en")
    assert L.family == "ctc" and L.weights_source.startswith("zoo:")
    assert next(L.model.parameters()).dtype == torch.float32  # fp16 on disk, fp32 in memory
    refs, hyps, blank, frames = [], [], 0, 0
    with torch.no_grad():
        for path, text in heldout_speech:
            ids = L.model(**_inputs(L, load_audio(path).samples)).logits.argmax(-1)
            hyps.append(L.processor.batch_decode(ids)[0])
            refs.append(text)
            blank += int((ids == 0).sum())
            frames += ids.numel()
    # measured 0.34 here (0.29 on 300 held-out clips); the goal (0.10) is not reached yet
    # (model card)
    assert cer(refs, hyps) <= 0.40, list(zip(refs, hyps))
    assert blank / frames > 0.5  # peaky: most frames blank


@pytest.mark.real
def test_ctc_en_checkpoints_load_and_improve(heldout_speech):
    from lab.ctc.checkpoints import checkpoint_dirs, checkpoint_step

    cks = checkpoint_dirs()  # four under checkpoints/, then the model itself (the final state)
    assert [checkpoint_step(c) for c in cks] == [100, 300, 800, 2000, 5000]
    assert cks[-1] == ZOO_DIR / "tiny-wav2vec2-ctc-en"
    path, text = heldout_speech[0]
    samples = load_audio(path).samples
    errs = []
    for ck in (cks[0], cks[-1]):
        L = resolve(str(ck))
        with torch.no_grad():
            ids = L.model(**_inputs(L, samples)).logits.argmax(-1)
        errs.append(cer([text], [L.processor.batch_decode(ids)[0]]))
    assert errs[-1] < errs[0]


@pytest.mark.real
def test_keywords_heldout_accuracy():
    L = resolve("tiny-wav2vec2-keywords")
    assert L.family == "classify"
    meta = json.loads((HELD / "tiny-wav2vec2-keywords" / "labels.json").read_text())
    ok = 0
    with torch.no_grad():
        for name, m in meta.items():
            logits = L.model(**_inputs(L, load_audio(HELD / "tiny-wav2vec2-keywords" / name).samples)).logits
            ok += L.model.config.id2label[int(logits.argmax(-1))] == m["label"]
    assert ok / len(meta) >= 0.9


@pytest.mark.real
def test_frames_heldout_frame_accuracy():
    L = resolve("tiny-wav2vec2-frames")
    assert L.family == "classify" and type(L.model).__name__ == "Wav2Vec2ForAudioFrameClassification"
    meta = json.loads((HELD / "tiny-wav2vec2-frames" / "segments.json").read_text())
    names = L.model.config.label2id
    ok = n = 0
    with torch.no_grad():
        for name, segs in meta.items():
            samples = load_audio(HELD / "tiny-wav2vec2-frames" / name).samples
            pred = L.model(**_inputs(L, samples)).logits.argmax(-1)[0].numpy()
            lab = np.zeros(segs[-1][1], np.int64)
            for s, e, label in segs:
                lab[s:e] = names[label]
            y = lab[np.minimum(np.arange(len(pred)) * 320 + 200, len(lab) - 1)]
            ok += int((pred == y).sum())
            n += len(y)
    assert ok / n >= 0.9


@pytest.mark.real
def test_ctc_en_teacher_encodes_missing_states(tmp_path, monkeypatch):
    # the distillation teacher does not depend on the whisper-tiny.en-ctc recipe having run: with no
    # cached encoder states it encodes the clips itself, and its posteriors are the resolved model's own
    import lab.models
    from training.zoo import data, train_wav2vec2_ctc as W

    monkeypatch.setattr(data, "data_cache", lambda: tmp_path)
    post = W.teacher_posteriors(3, 0, log=lambda *_: None)
    assert len(list(tmp_path.glob("whisper-states-*-train-0-3-*.pt"))) == 1
    L = resolve("whisper-tiny.en-ctc", attention=False)
    audio, _ = data.corpus("train", 3, 0, cache=tmp_path, version=W.DATA_VERSION)
    with torch.no_grad():
        for p, a in zip(post, audio):
            logits = L.model(**L.processor(a, sampling_rate=16000, return_tensors="pt")).logits[0]
            ref = torch.log_softmax(logits, -1)
            assert p.dtype == torch.float16 and p.shape == ref.shape
            assert (p.float().exp() - ref.exp()).abs().max() < 0.02  # states are cached in fp16
            assert (p.argmax(-1) == ref.argmax(-1)).float().mean() > 0.97
    monkeypatch.setattr(lab.models, "resolve", None)  # a second call is served from the cache
    again = W.teacher_posteriors(3, 0, log=lambda *_: None)
    assert all(torch.equal(x, y) for x, y in zip(post, again))
