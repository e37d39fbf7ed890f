"""Train ``tiny-ast-sounds``: ``ASTForAudioClassification`` (small config, the real overlapping
16 x 16 patch embedding), multi-label over six synthetic sound classes (:mod:`training.zoo.sounds`).

Data: scenes of 1-5 s, 1-4 classes each; the training speech is spoken by the training voices, the
held-out scenes use the held-out voices and their own scene seeds. The fbanks are computed once with
the shipped ``ASTFeatureExtractor`` (64 mel bins, 500 frames = 5 s), the mean/std fitted on the
training fbanks (real frames only, not the padding), and training runs on the cached features.
Held-out mAP (macro average precision over the six classes) is measured periodically and at the end
on the fp16 weights as shipped. Weights fp16, load as fp32.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from lab.audio import SAMPLE_RATE
from . import sounds
from .common import warmup_cosine
from .train_wav2vec2_ctc import save_fp16

ID = "tiny-ast-sounds"
LABELS = sounds.LABELS
N_TRAIN, N_HELDOUT = 8000, 400
N_SPEECH_TRAIN, N_SPEECH_HELDOUT = 1200, 150
SPEECH_START = 960_000  # speech-pool indices of this recipe inside training.zoo.data's splits
STEPS, BATCH, LR, EVAL_EVERY = 2500, 32, 5e-4, 250
MEL_BINS, MAX_LENGTH = 64, 500  # 5 s at 10 ms hop
F_STRIDE, T_STRIDE = 8, 10
ARCH = dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256)


def speech_pools(seed: int, quick: bool = False) -> dict[str, list[np.ndarray]]:
    k = 10 if quick else 1
    return {"train": sounds.speech_pool("train", N_SPEECH_TRAIN // k, seed, SPEECH_START),
            "heldout": sounds.speech_pool("heldout", N_SPEECH_HELDOUT // k, seed, SPEECH_START)}


def scenes(split: str, n: int, seed: int, pool: list[np.ndarray]):
    """(list of audio, (n, 6) multi-hot labels)."""
    out = [sounds.scene(split, i, seed, pool) for i in range(n)]
    return [a for a, _ in out], np.stack([y for _, y in out])


def extractor(mean: float | None = None, std: float | None = None):
    from transformers import ASTFeatureExtractor

    kw = dict(num_mel_bins=MEL_BINS, max_length=MAX_LENGTH)
    if mean is None:
        return ASTFeatureExtractor(do_normalize=False, **kw)
    return ASTFeatureExtractor(mean=mean, std=std, **kw)


def fbanks(audio: list[np.ndarray]) -> np.ndarray:
    """Raw (unnormalized) fbanks (n, MAX_LENGTH, MEL_BINS) float16, zero-padded like the extractor."""
    fe = extractor()
    return np.stack([fe(a, sampling_rate=SAMPLE_RATE, return_tensors="np")["input_values"][0]
                     for a in audio]).astype(np.float16)


def fit_mean_std(raw: np.ndarray, audio: list[np.ndarray]) -> tuple[float, float]:
    """Mean/std of the training fbanks over real frames (kaldi: 1 + (n - 400) // 160 frames)."""
    vals = np.concatenate([raw[i, :min(MAX_LENGTH, 1 + (len(a) - 400) // 160)].astype(np.float64).ravel()
                           for i, a in enumerate(audio)])
    return float(vals.mean()), float(vals.std())


def build_model(seed: int):
    from transformers import ASTConfig, ASTForAudioClassification

    cfg = ASTConfig(**ARCH, num_mel_bins=MEL_BINS, max_length=MAX_LENGTH, patch_size=16,
                    frequency_stride=F_STRIDE, time_stride=T_STRIDE,
                    num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
                    label2id={n: i for i, n in enumerate(LABELS)},
                    problem_type="multi_label_classification", attn_implementation="sdpa")
    torch.manual_seed(seed)
    return ASTForAudioClassification(cfg)


def scores(model, x: torch.Tensor, batch: int = 64) -> np.ndarray:
    """Sigmoid scores (n, 6) of normalized fbanks ``x`` (n, MAX_LENGTH, MEL_BINS)."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(torch.sigmoid(model(x[i:i + batch].float()).logits))
    return torch.cat(out).numpy()


def average_precision(y: np.ndarray, s: np.ndarray) -> list[float]:
    """Per-class average precision (sklearn) of multi-hot ``y`` (n, C) and scores ``s`` (n, C)."""
    from sklearn.metrics import average_precision_score

    return [float(average_precision_score(y[:, c], s[:, c])) for c in range(y.shape[1])]


def train(out: str, seed: int = 0, quick: bool = False, log=print) -> dict:
    from transformers import ASTForAudioClassification

    t_start = time.time()
    n_train, n_held, steps = (N_TRAIN, N_HELDOUT, STEPS) if not quick else (96, 48, 6)
    pools = speech_pools(seed, quick)
    tr_audio, ytr = scenes("train", n_train, seed, pools["train"])
    he_audio, yhe = scenes("heldout", n_held, seed, pools["heldout"])
    log(f"data: {n_train} train scenes ({sum(map(len, tr_audio)) / SAMPLE_RATE / 3600:.2f} h), {n_held} "
        f"held-out; class shares {np.round(ytr.mean(0), 3).tolist()} ({time.time() - t_start:.0f}s)")
    raw_tr, raw_he = fbanks(tr_audio), fbanks(he_audio)
    mean, std = fit_mean_std(raw_tr, tr_audio)
    fe = extractor(mean, std)
    xtr = torch.from_numpy(fe.normalize(raw_tr.astype(np.float32)).astype(np.float16))
    xhe = torch.from_numpy(fe.normalize(raw_he.astype(np.float32)))
    ytr_t = torch.from_numpy(ytr)
    log(f"fbanks: mean {mean:.4f} std {std:.4f} ({time.time() - t_start:.0f}s)")
    del raw_tr, raw_he, tr_audio

    model = build_model(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.05)
    sched = warmup_cosine(opt, steps, steps // 20)
    g = torch.Generator().manual_seed(seed)
    t0, history, order, pos = time.time(), [], torch.randperm(n_train, generator=g), 0
    for step in range(steps):
        model.train()
        if pos + BATCH > n_train:
            order, pos = torch.randperm(n_train, generator=g), 0
        idx = order[pos:pos + BATCH]
        pos += BATCH
        logits = model(xtr[idx].float()).logits  # (batch, 6)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, ytr_t[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"step {step} loss {loss.item():.4f} ({time.time() - t0:.0f}s)")
        if (step + 1) % EVAL_EVERY == 0 and step + 1 < steps:
            ap = average_precision(yhe, scores(model, xhe))
            history.append({"step": step + 1, "heldout_mAP": round(float(np.mean(ap)), 4),
                            "seconds": round(time.time() - t0)})
            log(f"  held-out mAP {np.mean(ap):.4f} per class {np.round(ap, 3).tolist()}")
    t_train = time.time() - t0

    outp = Path(out)
    model.config.architectures = ["ASTForAudioClassification"]  # the resolver reads the family from it
    save_fp16(model, fe, outp)
    loaded = ASTForAudioClassification.from_pretrained(str(outp)).eval()
    s = scores(loaded, xhe)
    ap = average_precision(yhe, s)
    history.append({"step": steps, "heldout_mAP": round(float(np.mean(ap)), 4), "seconds": round(t_train)})
    log(f"final held-out mAP {np.mean(ap):.4f} per class {np.round(ap, 3).tolist()}")
    metrics = {"heldout_mAP": round(float(np.mean(ap)), 4),
               "heldout_AP": {n: round(a, 4) for n, a in zip(LABELS, ap)},
               "heldout_scenes": n_held, "train_scenes": n_train,
               "fbank_mean": round(mean, 4), "fbank_std": round(std, 4),
               "patch_grid": list(_grid(loaded.config))}
    from .cards import finish

    return finish(ID, loaded, outp, metrics, init="random", steps=steps, t_start=t_start,
                  t_train=t_train, history=history, title=CARD_TITLE, body=CARD_BODY)


def _grid(cfg) -> tuple[int, int]:
    return ((cfg.num_mel_bins - cfg.patch_size) // cfg.frequency_stride + 1,
            (cfg.max_length - cfg.patch_size) // cfg.time_stride + 1)


CARD_TITLE = ("A tiny sound-event tagger: `ASTForAudioClassification` (hidden 128, 4 layers, 4 heads), "
              "multi-label over speech / tone / siren / noise / clicks / chord.")
CARD_BODY = """## Use
```python
from lab.models import resolve
m = resolve("tiny-ast-sounds")
x = m.processor(samples_16k, sampling_rate=16000, return_tensors="pt")   # (1, 500, 64) fbank
probs = m.model(**x).logits.sigmoid()[0]      # independent probabilities, one per label
```
It reads the first 5 s (500 frames of 10 ms, 64 mel bins); shorter clips are zero-padded like the
original AST. Labels are independent (sigmoid, `problem_type: multi_label_classification`).

## Architecture
The real AST patch embedding: a Conv2d with 16 x 16 kernels over the (64 mel x 500 frame)
filterbank with **frequency stride 8 and time stride 10**, i.e. overlapping patches (8 of 16 rows
shared with the neighbour in frequency, 6 of 16 columns in time), a 7 x 49 = 343 patch grid plus
CLS and distillation tokens. Why these strides: the hard pairs are tone / chord / siren, which differ
in *frequency* structure (one line, 3-4 notes with harmonics, a line that moves), so frequency gets
the finer stride (7 rows instead of 5 with stride 10, 64 instead of 128 mel bins to keep the grid
small); in time stride 10 (the original AST's) is enough for events of >= 0.5 s and clicks at <= 20/s
and keeps a training step cheap on one CPU thread. Hidden 128, 4 layers, 4 heads, MLP 256.

## Recipe (`audiolab train tiny-ast-sounds --threads 1`)
Scenes from `training/zoo/sounds.py` (`scene()`): 1-5 s, 1-4 different classes (p = .30/.35/.25/.10):
**speech** (a clean espeak-ng/flite sentence from `training/zoo/data.py`: a pool of 1,200 training-voice
clips; held-out scenes draw from 150 clips by the held-out voices), **tone** (one steady sinusoid,
150-4000 Hz), **siren** (a sweep of 0.5-1.5 octaves repeating every 0.25-3 s: up, down, wail or yelp,
0-2 weak harmonics), **noise** (white/pink/brown), **clicks** (2-20 decaying 1-5 ms bursts per second,
jittered), **chord** (1-3 successive triads/seventh chords, 3-4 notes with 3-6 harmonics, organ-like
or struck). Each source covers the clip (60%) or a >= 0.5 s segment, at 0..-10 dB (noise -4..-20 dB,
clicks by peak), summed with a -70 dB floor and a random peak level 0.1-0.9.
8,000 training scenes (seed 0) and 400 held-out scenes (their own scene seeds, held-out voices).
Fbanks computed once with the shipped `ASTFeatureExtractor`; its mean/std are fitted on the training
fbanks (real frames only). 2,500 steps of 32, AdamW lr 5e-4 (5% warm-up, cosine), weight decay 0.05,
binary cross-entropy, seed 0, 1 CPU thread. Random initialisation. fp16 storage; it loads as fp32.
Metric: held-out mAP = mean over the six classes of the average precision (scikit-learn) over the
400 held-out scenes, measured on the fp16 weights as shipped. Goal: mAP >= 0.9.
A committed 32-scene subset lives in `assets/heldout/tiny-ast-sounds/` (`tests/zoo/test_ast_zoo.py`)."""
