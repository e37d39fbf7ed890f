"""Train ``tiny-wav2vec2-keywords``: ``Wav2Vec2ForSequenceClassification`` over the ten digits.

Clips: one digit word ("zero".."nine") per clip, spoken by the training espeak/flite voices of
``training.zoo.data`` (random speed, pitch, tempo, reverb, noise, 0-0.4 s of silence at each end); evaluated
on the held-out espeak voices (accents and variants never used in training). The encoder starts
from ``tiny-wav2vec2-ctc-en`` (same architecture) when it is present; the projector + classifier are
new; mean-pooled over frames (HF's pooling, attention-mask aware). Weights fp16, load as fp32.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from . import data
from .common import shuffled_batches, warmup_cosine
from .train_wav2vec2_ctc import ID as CTC_ID, _collate, config, normalize, processor, save_fp16

ID = "tiny-wav2vec2-keywords"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
N_TRAIN, N_HELDOUT = 2000, 200
STEPS, BATCH, LR = 300, 32, 1e-3
OFFSET = 500_000  # clip indices of this corpus, apart from the sentence corpus


def corpus(split: str, n: int, seed: int):
    specs = [data.spec(split, OFFSET + i, seed, text=DIGITS[i % 10]) for i in range(n)]
    audio = [data.synthesize(s, seed) for s in specs]
    return audio, [i % 10 for i in range(n)], specs


def build_model(num_labels, id2label, frame: bool = False):
    from transformers import Wav2Vec2ForAudioFrameClassification, Wav2Vec2ForSequenceClassification

    from lab.ctc.whisper_ctc.build import ZOO

    cfg = config()
    cfg.num_labels = num_labels
    cfg.id2label = dict(enumerate(id2label))
    cfg.label2id = {v: k for k, v in enumerate(id2label)}
    cfg.classifier_proj_size = 64
    cfg.mask_time_prob = 0.0
    cls = Wav2Vec2ForAudioFrameClassification if frame else Wav2Vec2ForSequenceClassification
    cfg.architectures = [cls.__name__]
    model = cls(cfg)
    init = "random"
    ctc = ZOO / CTC_ID / "model.safetensors"
    if ctc.is_file():
        from safetensors.torch import load_file

        own = model.state_dict()
        state = {k: v.float() for k, v in load_file(str(ctc)).items()
                 if k.startswith("wav2vec2.") and k in own}
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected, unexpected
        init = f"encoder from {CTC_ID}"
    return model, init


def evaluate(model, audio, labels) -> float:
    model.eval()
    ok = 0
    with torch.no_grad():
        for a, y in zip(audio, labels):
            ok += int(model(torch.from_numpy(normalize(a))[None]).logits.argmax(-1).item() == y)
    return ok / len(labels)


def train(out: str, seed: int = 0, quick: bool = False, log=print) -> dict:
    from transformers import Wav2Vec2ForSequenceClassification

    t_start = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_train, n_held, steps = (N_TRAIN, N_HELDOUT, STEPS) if not quick else (40, 20, 5)
    tr_audio, tr_y, _ = corpus("train", n_train, seed)
    he_audio, he_y, he_specs = corpus("heldout", n_held, seed)
    log(f"data: {n_train} train, {n_held} held-out clips ({time.time() - t_start:.0f}s)")
    model, init = build_model(10, DIGITS)
    log(f"init: {init}")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    sched = warmup_cosine(opt, steps, steps // 10)
    t0, history = time.time(), []
    for step, idx in enumerate(shuffled_batches(n_train, BATCH, steps, rng)):
        model.train()
        x, m = _collate(tr_audio, idx)
        loss = model(x, attention_mask=m, labels=torch.tensor([tr_y[i] for i in idx])).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        if step % 25 == 0 or step == steps - 1:
            log(f"step {step} loss {loss.item():.3f} ({time.time() - t0:.0f}s)")
        if (step + 1) % 100 == 0:
            acc = evaluate(model, he_audio[:100], he_y[:100])
            history.append({"step": step + 1, "heldout100_accuracy": round(acc, 4)})
            log(f"  held-out(100) accuracy {acc:.3f}")
    t_train = time.time() - t0
    outp = Path(out)
    save_fp16(model, processor().feature_extractor, outp)
    loaded = Wav2Vec2ForSequenceClassification.from_pretrained(str(outp)).eval()
    acc = evaluate(loaded, he_audio, he_y)
    log(f"final held-out accuracy {acc:.4f}")
    from .cards import finish

    return finish(ID, loaded, outp, {"heldout_accuracy": round(acc, 4)}, init=init, steps=steps,
                  t_start=t_start, t_train=t_train, history=history,
                  title=CARD_TITLE, body=CARD_BODY)


CARD_TITLE = "A tiny keyword spotter: `Wav2Vec2ForSequenceClassification` over the spoken digits zero..nine."
CARD_BODY = """## Use
```python
from lab.models import resolve
m = resolve("tiny-wav2vec2-keywords")
x = m.processor(samples_16k, sampling_rate=16000, return_tensors="pt")
label = m.model.config.id2label[m.model(**x).logits.argmax(-1).item()]
```

## Recipe (`audiolab train tiny-wav2vec2-keywords`)
2000 one-word clips (200 per digit) from the training voices (see Data), 300 steps of 32 clips,
AdamW lr 1e-3 (warm-up, cosine), seed 0, 1 CPU thread. Same architecture as `tiny-wav2vec2-ctc-en`
(real wav2vec2 CNN feature encoder, 20 ms frames; 4-layer 144-wide transformer), encoder initialised
from it; projector 144->64 + linear classifier, mean-pooled. Evaluated on 200 clips (20 per digit)
by the held-out voices. fp16 storage; it loads as fp32."""
