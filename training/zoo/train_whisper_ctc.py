"""Train ``whisper-tiny.en-ctc``: a small CTC head on the frozen Whisper tiny.en encoder.

Recipe: synthesize train clips (``training.zoo.data``, espeak-ng + flite, augmented), run the frozen
encoder once per clip (unpadded, batch 1) and cache its layers' states (fp16, per 2000 clips); train
the head (projection 384->192, 2 pre-norm layers of depthwise conv (15 frames) + attention + FFN,
linear to the 32-char vocabulary) with CTC on those states, in batches of clips of similar length;
evaluate greedy-decoding CER on held-out espeak voices + unseen sentences, and on flite ``slt``
(never heard in training). Ships the head (fp16) + ``recipe.json``; the resolver builds the full model.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch

from lab.audio import SAMPLE_RATE
from . import data
from .common import VOCAB, bucketed_batches, cer, encode_text, greedy_decode, warmup_cosine

HEAD = {"head_layers": 2, "head_dim": 192, "head_heads": 4, "head_ffn_dim": 768, "head_conv_kernel": 15,
        "dropout": 0.1, "use_weighted_layer_sum": True}
N_TRAIN, N_HELDOUT, N_FLITE = 32000, 300, 100
STEPS, BATCH, LR = 10000, 16, 1.5e-3
DATA_VERSION = 2  # the corpus version the shipped head was trained on (training.zoo.data.RECIPE_VERSION)


STATES_CHUNK = 2000  # encoder states are cached per 2000 clips: corpora of any multiple share files


def _states_path(split: str, start: int, specs: list) -> Path:
    h = hashlib.sha1("".join(s.key() for s in specs).encode()).hexdigest()[:10]
    return data.data_cache() / f"whisper-states-{feature_prefix()}{split}-{start}-{len(specs)}-{h}.pt"


def feature_prefix() -> str:
    return "" if DATA_VERSION == 1 else f"v{DATA_VERSION}-"


def encoder_states(split: str, n: int, seed: int = 0, model=None, fe=None, log=print, workers: int = 1,
                   ) -> tuple[list[torch.Tensor], list[int]] | None:
    """The frozen encoder's states of clips ``0 .. n-1`` of ``split``, cached per ``STATES_CHUNK`` clips.

    Returns (states, samples): per clip all encoder states (layer, frame, d_model) in fp16 (layer 0 =
    the embeddings, the last after ``encoder.layer_norm``; 50 frames/s), and the clip's length in
    16 kHz samples. A missing chunk is synthesized (``data.corpus``, its audio cached in chunks of
    ``data.TRAIN_CHUNK`` as :func:`data.chunked_corpus` makes them, ``workers`` processes) and
    encoded one clip at a time (batch 1, unpadded) with ``model`` / ``fe``; without a model a missing
    chunk returns None.
    """
    states: list[torch.Tensor] = []
    samples: list[int] = []
    audio_chunk: tuple[int, list[np.ndarray]] | None = None
    for start in range(0, n, STATES_CHUNK):
        k = min(STATES_CHUNK, n - start)
        path = _states_path(split, start, [data.spec(split, start + i, seed) for i in range(k)])
        if not path.is_file():
            if model is None:
                return None
            a0 = start - start % data.TRAIN_CHUNK
            if audio_chunk is None or audio_chunk[0] != a0:
                audio_chunk = (a0, data.corpus(split, min(data.TRAIN_CHUNK, n - a0), seed, start=a0,
                                               cache=data.data_cache(), version=DATA_VERSION,
                                               workers=workers)[0])
            audio = audio_chunk[1][start - a0: start - a0 + k]
            t0 = time.time()
            with torch.no_grad():
                chunk = [model.encode_states(fe(a, sampling_rate=data.SAMPLE_RATE,
                                                return_tensors="pt").input_features)[0].to(torch.float16)
                         for a in audio]
            log(f"  encoded {split} clips {start}..{start + k - 1} ({time.time() - t0:.0f}s)")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save({"states": chunk, "samples": [len(a) for a in audio]}, tmp)
            tmp.replace(path)
        z = torch.load(path)
        states += z["states"]
        samples += z["samples"]
    return states, samples


def _batch(feats, labels, idx, train: bool, rng):
    T = max(feats[i].shape[1] for i in idx)
    x = torch.zeros(len(idx), feats[idx[0]].shape[0], T, feats[idx[0]].shape[2])
    mask = torch.zeros(len(idx), T, dtype=torch.long)
    L = max(len(labels[i]) for i in idx)
    y = torch.full((len(idx), L), -100, dtype=torch.long)
    for j, i in enumerate(idx):
        f = feats[i].float()
        if train:  # time masking: two spans of up to 6 frames
            f = f.clone()
            for _ in range(2):
                if rng.random() < 0.5:
                    w = int(rng.integers(1, 7))
                    s = int(rng.integers(0, max(1, f.shape[1] - w)))
                    f[:, s:s + w] = 0
        x[j, :, : f.shape[1]] = f
        mask[j, : f.shape[1]] = 1
        y[j, : len(labels[i])] = torch.tensor(labels[i])
    return x, mask, y


def _head_loss(model, x, mask, y, head_input=None):
    """CTC loss and logits of a batch of states ``x`` (batch, layer, frame, d_model); ``head_input``
    as in :func:`evaluate`."""
    logits = model.head_logits(head_input(x, mask) if head_input else model.mix(x), mask)
    return model.ctc_loss(logits, y, mask.sum(-1)), logits


def evaluate(model, feats, texts, bs=32, head_input=None) -> tuple[float, list[str]]:
    """Greedy-decoding CER of ``model`` on cached encoder states ``feats`` against ``texts``, and the
    hypotheses. ``head_input(x, mask)`` maps a batch of states (batch, layer, frame, d_model) to the
    head's input (batch, frame, d_model); by default the model's own layer mix."""
    model.eval()
    hyps = []
    with torch.no_grad():
        for s in range(0, len(feats), bs):
            idx = list(range(s, min(s + bs, len(feats))))
            x, mask, _ = _batch(feats, [[0]] * len(feats), idx, False, None)
            logits = model.head_logits(head_input(x, mask) if head_input else model.mix(x), mask)
            for j, i in enumerate(idx):
                hyps.append(greedy_decode(logits[j, : feats[i].shape[1]].argmax(-1)))
    return cer(list(texts), hyps), hyps


def frozen_model():
    """(model, feature extractor, Whisper directory): an untrained ``HEAD`` on the offline Whisper
    tiny.en encoder (weights copied from the resolved ``whisper-tiny.en`` bundle's directory, frozen,
    in eval mode)."""
    from lab.models import resolve
    from lab.ctc.whisper_ctc.build import whisper_ctc_config
    from lab.ctc.whisper_ctc import WhisperCTCFeatureExtractor, WhisperCTCForCTC

    w = resolve("whisper-tiny.en", attention=False)
    whisper_dir = Path(w.path)
    model = WhisperCTCForCTC(whisper_ctc_config(json.loads((whisper_dir / "config.json").read_text()), HEAD))
    model.encoder.load_state_dict(w.model.model.encoder.state_dict())
    model.freeze_encoder()
    model.encoder.eval()
    return model, WhisperCTCFeatureExtractor.from_pretrained(str(whisper_dir)), whisper_dir


def train(out: str, seed: int = 0, quick: bool = False, log=print) -> dict:
    from lab.ctc.whisper_ctc.build import assemble_whisper_ctc

    t_start = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_train, n_held, n_flite, steps = (N_TRAIN, N_HELDOUT, N_FLITE, STEPS) if not quick else (64, 16, 8, 20)
    model, fe, whisper_dir = frozen_model()

    t0 = time.time()
    tr, tr_samples = encoder_states("train", n_train, seed, model, fe, log, workers=2)
    he, _ = encoder_states("heldout", n_held, seed, model, fe, log)
    fl, _ = encoder_states("flite", n_flite, seed, model, fe, log)
    tr_specs = [data.spec("train", i, seed) for i in range(n_train)]
    he_specs = [data.spec("heldout", i, seed) for i in range(n_held)]
    fl_specs = [data.spec("flite", i, seed) for i in range(n_flite)]
    t_feat = time.time() - t0
    hours = sum(tr_samples) / data.SAMPLE_RATE / 3600
    log(f"data + encoder states: {n_train} train clips ({hours:.2f} h), {n_held} held-out, {n_flite} flite "
        f"({t_feat:.0f}s)")
    labels = [encode_text(s.text) for s in tr_specs]

    params = [p for p in model.parameters() if p.requires_grad]
    n_head = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.01)
    sched = warmup_cosine(opt, steps, steps // 15)
    t0 = time.time()
    history = []
    lengths = [f.shape[1] for f in tr]  # batches of similar length: 1.6x fewer padded frames
    for step, idx in enumerate(bucketed_batches(lengths, BATCH, steps, rng)):
        model.head.train()
        x, mask, y = _batch(tr, labels, idx, True, rng)
        loss, _ = _head_loss(model, x, mask, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step} loss {loss.item():.3f} ({time.time() - t0:.0f}s)")
        if (step + 1) % 1000 == 0 or step == steps - 1:
            c, _ = evaluate(model, he, [s.text for s in he_specs])
            history.append({"step": step + 1, "heldout_cer": round(c, 4)})
            log(f"  held-out CER {c:.4f}")
    t_train = time.time() - t0

    # ship: head in fp16; evaluate the shipped (fp16-rounded) weights
    head_state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
                  if not k.startswith("encoder.")}
    model.load_state_dict({k: v.float() for k, v in head_state.items()}, strict=False)
    c_he, hyp_he = evaluate(model, he, [s.text for s in he_specs])
    c_fl, hyp_fl = evaluate(model, fl, [s.text for s in fl_specs])
    blank = _blank_fraction(model, he)
    log(f"final (fp16 head): held-out CER {c_he:.4f}, flite slt CER {c_fl:.4f}, blank frames {blank:.2f}")

    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    save_file(head_state, str(outp / "head.safetensors"), metadata={"format": "pt"})
    head_cfg = {k: v for k, v in HEAD.items()}
    head_cfg["vocab_size"] = len(VOCAB)
    recipe = {"base": "whisper-tiny.en", "head": head_cfg, "seed": seed,
              "data": {"train": n_train, "heldout": n_held, "flite": n_flite, "train_hours": round(hours, 3)},
              "steps": steps, "batch": BATCH, "lr": LR}
    (outp / "recipe.json").write_text(json.dumps(recipe, indent=1) + "\n")
    # end-to-end check through the assembled HF directory on a few held-out clips
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        assemble_whisper_ctc(Path(tmp), whisper_dir, head_state, head_cfg)
        from transformers import AutoModelForCTC, AutoProcessor

        m = AutoModelForCTC.from_pretrained(tmp).eval()
        proc = AutoProcessor.from_pretrained(tmp)
        e2e = []
        with torch.no_grad():
            he_audio, _ = data.corpus("heldout", n_held, seed, cache=data.data_cache(), version=DATA_VERSION)
            for a in he_audio[:20]:
                iv = proc(a, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
                e2e.append(proc.batch_decode(m(iv).logits.argmax(-1))[0])
        c_e2e = cer([s.text for s in he_specs[:20]], e2e)
    total = time.time() - t_start
    summary = {"id": "whisper-tiny.en-ctc", "heldout_cer": round(c_he, 4), "flite_slt_cer": round(c_fl, 4),
               "e2e_cer_first20": round(c_e2e, 4), "blank_fraction": round(blank, 3),
               "head_params": n_head, "head_bytes": (outp / "head.safetensors").stat().st_size,
               "steps": steps, "train_seconds": round(t_train), "feature_seconds": round(t_feat),
               "total_seconds": round(total), "threads": torch.get_num_threads(), "history": history,
               "examples": [{"ref": s.text, "hyp": h, "voice": s.voice}
                            for s, h in zip(he_specs[:5], hyp_he[:5])]
               + [{"ref": s.text, "hyp": h, "voice": "flite " + s.voice} for s, h in zip(fl_specs[:3], hyp_fl[:3])]}
    (outp / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _blank_fraction(model, feats) -> float:
    n = b = 0
    with torch.no_grad():
        for f in feats[:50]:
            ids = model.head_logits(model.mix(f.float()[None])).argmax(-1)
            n += ids.numel()
            b += int((ids == 0).sum())
    return b / max(n, 1)


CARD_TITLE = ("A mel-input, encoder-only CTC model in the spirit of M-CTC-T: the frozen Whisper tiny.en "
              "encoder with a small CTC head trained by the lab on synthesized speech.")
CARD_BODY = """## Status: goal NOT met yet
The issue's goal is CER <= 0.08 on held-out espeak. This head reaches CER 0.14 on the 300 held-out
voices/sentences (0.18 on flite `slt`, a synthesizer it never heard). Held-out CER by step:
0.27 / 0.22 / 0.20 / 0.19 / 0.18 / 0.15 / 0.15 / 0.14 / 0.14 / 0.14 at 1000 ... 10000. Its errors
are mostly spelling by sound: `tickets difficult legal hours running` -> `tikits difficult lagal
ouers ronning`. With beam search and a word bigram of the training texts (`python -m
training.zoo.lm_eval`, the table "Decoding with an external LM" below) CER goes 0.14 -> 0.076, under
0.08: the LM supplies the vocabulary's spellings. The goal is about the model, so the greedy figure
counts. The test (`tests/zoo/test_whisper_ctc.py`) guards the measured level on the 20 committed
clips (they are the short, hard end of the held-out set).

**What moved it** (held-out greedy CER):
- a Conformer-style depthwise convolution (15 frames = 300 ms) at the start of each head layer
  (the head's self-attention has no position embeddings, so it had no ordered local context):
  0.280 -> 0.228 after a 2000-step schedule on 16000 clips; 0.21 -> 0.16 for the full recipe;
- twice the clips (16000 -> 32000, 22.5 h), length-bucketed batches (each batch drawn from a
  sorted pool of 800 clips: 1.02 padded frames per real frame instead of 1.63, so 10000 steps take
  less time than 9000 did) and 10000 steps instead of 9000: 0.16 -> 0.14, flite `slt` 0.21 -> 0.18.
  Split by an ablation (the same recipe on the first 16000 clips): bucketing + 10000 steps 0.160 ->
  0.153 (flite 0.201), twice the clips 0.153 -> 0.141 (flite 0.183).

More regularisation did not help: the full recipe with dropout 0.2 and two random channel masks
(1-27 of the 384 dims) per clip scored 0.146 (flite `slt` 0.193) against this head's 0.141 (a rerun
of the committed recipe: 0.142); in 2000-step runs on 16000 clips with length-bucketed batches (the
committed settings: 0.235) dropout 0.2 gave 0.234, the channel masks 0.238, four 1-10 frame time
masks 0.238.

Fine-tuning the encoder does not pay within the time budget (the issue asks for it frozen; measured
to see what unfreezing would buy, `scripts/whisper_ctc_ablation.py`, 2000-step schedule on 16000
clips, seed 0, 2 threads): with Whisper's last encoder layer and final norm trainable (1.78M more
parameters, AdamW lr 1e-4) held-out CER 0.209 (flite `slt` 0.236) against 0.237 (0.282) frozen, but
each step takes twice as long (1201 s against 607 s); given no more time than that (3600 steps: 1139
s, 926 s in an earlier run of the same code -- step times vary ~20% between runs on this box) the
frozen head reaches 0.193 (0.248).

Levers that did not move the 2000-step figure (0.229 with the conv head, 0.280 without):
intermediate CTC (the same CTC loss on the first head layer's output, weight 0.3): 0.230; a third
head layer: 0.229 (1.4x the time per step); without the conv, an auxiliary espeak-phone CTC loss
(0.280), per-utterance mean normalisation of the encoder features (0.280), the learning rate (0.283
/ 0.287 / 0.311 at 1.5e-3 / 4e-3 / 8e-3), dropping dropout and time masks (0.290 vs 0.291). A
phone-target head (espeak's own phones in each clip's accent) reaches phone error 0.18 after 2000
steps: recognising the sounds of unseen voices, not only spelling, is the hard part. Where the
0.16 head's error sat: CER 0.06 on 300 of its own training clips, 0.12 on 400 unseen sentences in
training voices (with the training augmentation), 0.16 held out (unseen voices and accents, clean):
en-us-nyc 0.14, en-gb-x-gbcwmd (Welsh) 0.18.

How hard the held-out set is: Whisper tiny.en itself -- the same encoder with its own decoder and
language model, greedy -- scores CER 0.42 (WER 0.86) on these 300 clips (`were current x` ->
`Why can't I let you know?`; `python -m training.zoo.ceilings ctc`): random word sequences in
unfamiliar synthetic voices give it no context to lean on. The issue quotes CER 0.12 for a 2-layer
MLP head on 600 espeak clips; re-measured here (a 2-layer MLP on the last encoder layer, 600 clips
of the default `en-us` voice, 3000 steps):
0.04 on unseen *grammar* sentences (`training.zoo.sentences`, ~200 words) in the same voice, 0.20 on
unseen random sentences over the 3000-word vocabulary in the same voice, 0.46 on this held-out set
(unseen voices). Vocabulary breadth and unseen voices, both of which the issue asks for, are what
make the goal hard.

## Use
```python
from lab.models import resolve
m = resolve("whisper-tiny.en-ctc")          # offline; builds the HF directory on first use
feats = m.processor(audio=samples_16k, sampling_rate=16000, return_tensors="pt")
text = m.processor.batch_decode(m.model(**feats).logits.argmax(-1))[0]
```

## What ships
Only the trained part: `head.safetensors` (fp16, `head.*` + `lm_head.*`) and `recipe.json`. The
resolver (`lab/ctc/whisper_ctc/build.py`, id `whisper-tiny.en-ctc` in `lab.models.BUNDLES`) assembles a full HF
directory (config.json, model.safetensors fp32, processor files) in the user cache from the
`whisper-tiny.en` bundle's encoder + this head; the directory name carries the hashes of both, and
the bytes are a pure function of them. The model class is `lab.ctc.whisper_ctc.WhisperCTCForCTC`
(registered with `AutoModelForCTC`, no remote code).

## Architecture
Whisper tiny.en encoder (2 convs, 4 layers, d=384, 6 heads; frozen, 7.6M parameters) on 80-bin
log-mel input of any length up to 30 s (no padding to 30 s: positions are sliced), then the head:
Linear 384->192, 2 pre-norm layers, each a convolution module (pointwise 192->384 + GLU,
depthwise conv over 15 frames, SiLU, pointwise 192->192; padded frames zeroed first),
self-attention (4 heads) and FFN 768 (dropout 0.1), LayerNorm, Linear 192->32 over the character
vocabulary (`<pad>` = CTC blank, `|` = word delimiter, a-z, `'`).
50 frames/s.

## Training (`audiolab train whisper-tiny.en-ctc`)
32000 training clips (22.5 h), synthesized in cached chunks of 6000 (2 processes). The encoder runs
once per clip (batch 1, unpadded) and its states (all 5 layer outputs, fp16) are cached per 2000
clips, shared with the `tiny-wav2vec2-ctc-en` recipe, which distils from this head on the first
16000. The head trains on those states with CTC (AdamW, lr 1.5e-3, warm-up then cosine, batches of
16 clips of similar length, 10000 steps, two random 1-6 frame time masks per clip), seed 0, 2 CPU
threads: training 1408 s (measured). From an empty cache, measured with the same recipe
(`AUDIOLAB_CACHE=<empty dir> audiolab train whisper-tiny.en-ctc --threads 2`, nothing else running):
35 min 25 s wall clock -- Whisper bundle conversion + synthesis about 294 s, encoding 475 s (25-33 s
per 2000 clips), training 1347 s, evaluation and the end-to-end check about 5 s -- with a peak
resident memory of 20.1 GB (the states of all 32000 clips stay in memory, about 15.6 GB). That
rerun scored held-out CER 0.142 (flite `slt` 0.194) against this head's 0.141 (0.183): its
re-computed fp16 encoder states differ from the cached ones in the last bits, so the recipe
reproduces the head's quality (to 0.002 CER held out, 0.011 on flite), not its bytes. The head is
stored in fp16; all metrics below are of the shipped fp16 head (loaded as fp32)."""
