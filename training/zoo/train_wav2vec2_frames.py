"""Train ``tiny-wav2vec2-frames``: ``Wav2Vec2ForAudioFrameClassification``, per 20 ms frame one of
``silence`` / ``speech`` / ``noise``.

Scenes: 3-6 segments concatenated: speech (an espeak/flite sentence, silence trimmed, sometimes with
low background noise at 20-40 dB SNR), silence (0.2-0.8 s of a -75..-55 dBFS noise floor) and noise
(0.2-1.0 s of white / pink / brown noise or a noisy hum at -30..-6 dBFS). A frame's label is the segment
under the centre of its receptive field (sample 320 i + 200). Held-out scenes use the held-out voices.
The encoder starts from ``tiny-wav2vec2-ctc-en`` when present. Weights fp16, load as fp32.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from lab.audio import SAMPLE_RATE
from . import data
from .common import shuffled_batches, warmup_cosine
from .train_wav2vec2_ctc import _collate, normalize, processor, save_fp16
from .train_wav2vec2_keywords import build_model

ID = "tiny-wav2vec2-frames"
LABELS = ["silence", "speech", "noise"]
N_TRAIN, N_HELDOUT = 1200, 100
STEPS, BATCH, LR = 300, 12, 1e-3
OFFSET = 700_000
HOP, CENTER = 320, 200


def _noise(rng, n):
    kind = rng.integers(4)
    w = rng.standard_normal(n)
    f = np.fft.rfft(w)
    k = np.maximum(np.arange(len(f)), 1)
    if kind == 1:
        f /= np.sqrt(k)  # pink
    elif kind == 2:
        f /= k  # brown
    x = np.fft.irfft(f, n)
    if kind == 3:  # hum + harmonics under noise
        t = np.arange(n) / data.SAMPLE_RATE
        f0 = rng.uniform(50, 400)
        x = 0.3 * x / (x.std() + 1e-9) + sum(np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3))
    return (x / (np.abs(x).max() + 1e-9)).astype(np.float32)


def scene(split: str, index: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(audio, per-sample label) of one scene."""
    rng = np.random.default_rng([seed, 77, data.SPLITS[split], index])
    parts, labels = [], []
    kinds = list(rng.permutation([0, 1, 2]))  # every scene has all three
    kinds += [int(k) for k in rng.integers(0, 3, int(rng.integers(0, 4)))]
    for j, k in enumerate(kinds):
        if k == 1:
            s = data.spec(split, OFFSET + index * 8 + j, seed, max_words=4)
            s = dataclasses.replace(s, snr_db=float("inf"), lead=0.0, trail=0.0, reverb=0)
            x = data.synthesize(s, seed)
            if rng.random() < 0.3:
                snr = rng.uniform(20, 40)
                x = x + _noise(rng, len(x)) * np.sqrt(np.mean(x ** 2) / 10 ** (snr / 10)) * 2
        elif k == 0:
            n = int(rng.uniform(0.2, 0.8) * data.SAMPLE_RATE)
            x = rng.standard_normal(n).astype(np.float32) * 10 ** (rng.uniform(-75, -55) / 20)
        else:
            n = int(rng.uniform(0.2, 1.0) * data.SAMPLE_RATE)
            x = _noise(rng, n) * 10 ** (rng.uniform(-30, -6) / 20)
        parts.append(x.astype(np.float32))
        labels.append(np.full(len(x), k, np.int64))
    return np.concatenate(parts), np.concatenate(labels)


def frame_labels(sample_labels: np.ndarray, n_frames: int) -> np.ndarray:
    idx = np.minimum(np.arange(n_frames) * HOP + CENTER, len(sample_labels) - 1)
    return sample_labels[idx]


def evaluate(model, scenes) -> float:
    model.eval()
    ok = n = 0
    with torch.no_grad():
        for a, lab in scenes:
            pred = model(torch.from_numpy(normalize(a))[None]).logits.argmax(-1)[0].numpy()
            y = frame_labels(lab, len(pred))
            ok += int((pred == y).sum())
            n += len(y)
    return ok / n


def train(out: str, seed: int = 0, quick: bool = False, log=print) -> dict:
    from transformers import Wav2Vec2ForAudioFrameClassification

    t_start = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_train, n_held, steps = (N_TRAIN, N_HELDOUT, STEPS) if not quick else (24, 8, 4)
    tr = [scene("train", i, seed) for i in range(n_train)]
    he = [scene("heldout", i, seed) for i in range(n_held)]
    log(f"data: {n_train} train scenes ({sum(len(a) for a, _ in tr) / SAMPLE_RATE / 60:.1f} min), "
        f"{n_held} held-out ({time.time() - t_start:.0f}s)")
    model, init = build_model(3, LABELS, frame=True)
    log(f"init: {init}")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    sched = warmup_cosine(opt, steps, steps // 10)
    audio = [a for a, _ in tr]
    t0, history = time.time(), []
    for step, idx in enumerate(shuffled_batches(n_train, BATCH, steps, rng)):
        model.train()
        x, m = _collate(audio, idx)
        logits = model(x, attention_mask=m).logits  # (batch, frame, 3)
        flen = model._get_feat_extract_output_lengths(m.sum(-1))
        y = torch.full(logits.shape[:2], -100, dtype=torch.long)
        for j, i in enumerate(idx):
            n = int(min(flen[j], logits.shape[1]))
            y[j, :n] = torch.from_numpy(frame_labels(tr[i][1], n))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 3), y.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        if step % 25 == 0 or step == steps - 1:
            log(f"step {step} loss {loss.item():.3f} ({time.time() - t0:.0f}s)")
        if (step + 1) % 100 == 0:
            acc = evaluate(model, he[:40])
            history.append({"step": step + 1, "heldout40_frame_accuracy": round(acc, 4)})
            log(f"  held-out(40) frame accuracy {acc:.3f}")
    t_train = time.time() - t0
    outp = Path(out)
    save_fp16(model, processor().feature_extractor, outp)
    loaded = Wav2Vec2ForAudioFrameClassification.from_pretrained(str(outp)).eval()
    acc = evaluate(loaded, he)
    log(f"final held-out frame accuracy {acc:.4f}")
    from .cards import finish

    return finish(ID, loaded, outp, {"heldout_frame_accuracy": round(acc, 4)}, init=init, steps=steps,
                  t_start=t_start, t_train=t_train, history=history,
                  title=CARD_TITLE, body=CARD_BODY)


CARD_TITLE = ("A tiny frame classifier: `Wav2Vec2ForAudioFrameClassification`, silence / speech / noise "
              "for every 20 ms frame.")
CARD_BODY = """## Use
```python
from lab.models import resolve
m = resolve("tiny-wav2vec2-frames")
x = m.processor(samples_16k, sampling_rate=16000, return_tensors="pt")
frames = m.model(**x).logits.argmax(-1)[0]   # 0 silence, 1 speech, 2 noise; frame i = samples 320 i ..
```

## Recipe (`audiolab train tiny-wav2vec2-frames`)
1200 synthetic scenes (`scene()` in `training/zoo/train_wav2vec2_frames.py`): 3-6 segments, each of the
three classes at least once: speech (a 2-4 word sentence by a training voice, trimmed, 30% with
20-40 dB SNR background noise), silence (0.2-0.8 s noise floor at -75..-55 dBFS), noise (0.2-1 s of
white/pink/brown noise or a noisy hum at -30..-6 dBFS). Frame label = segment under sample
320 i + 200. 300 steps of 12 scenes, AdamW lr 1e-3, seed 0, 1 CPU thread. Same architecture as
`tiny-wav2vec2-ctc-en` (the recipe starts from its encoder when that model is present; the shipped
weights were trained from random initialisation, see `init` below); linear frame classifier. Evaluated on 100
scenes whose speech is spoken by the held-out voices. fp16 storage; it loads as fp32."""
