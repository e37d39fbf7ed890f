"""Train ``tiny-wav2vec2-ctc-en``: a small ``Wav2Vec2ForCTC`` on raw 16 kHz waveform, from scratch.

Architecture: the real wav2vec2 CNN feature encoder (7 conv layers, kernels 10,3,3,3,3,2,2, strides
5,2,2,2,2,2,2 = 320 samples = 20 ms per frame; 64 channels, group norm on the first conv as in
wav2vec2-base), a 144-wide 4-layer pre-norm ("stable layer norm") transformer (4 heads, FFN 576)
with the convolutional
relative position embedding, linear CTC head over the
32-symbol character vocabulary (``<pad>`` = blank, ``|`` = word delimiter).

Training: the synthesized corpus of ``training.zoo.data`` (same train split as whisper-tiny.en-ctc);
loss = CTC + a frame-level distillation term (KL to the posteriors of the ``whisper-tiny.en-ctc``
teacher on the same clip, both models run at 50 frames/s), which lets a from-scratch model learn
in CPU minutes instead of hours. Held-out evaluation on espeak voices and sentences never trained on.
Four intermediate checkpoints are kept under ``checkpoints/`` for the "watch the alignment emerge"
notebook; the fifth, final state is the model itself (``lab.ctc.checkpoints.checkpoint_dirs``).
Weights are stored fp16 and load as fp32.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lab.audio import SAMPLE_RATE
from lab.ctc.checkpoints import normalize  # noqa: F401  (the recipes' import)

from . import data
from .common import VOCAB, cer, encode_text, greedy_decode, tokenizer, warmup_cosine

ID = "tiny-wav2vec2-ctc-en"
N_TRAIN, N_HELDOUT = 16000, 300
STEPS, BATCH_SECONDS, LR = 5000, 24.0, 1e-3
CHECKPOINTS = (100, 300, 800, 2000)
KD_WEIGHT, KD_TEMP = 1.0, 1.0
DATA_VERSION = 2  # must be the corpus the teacher's cached encoder features were computed on


def config():
    from transformers import Wav2Vec2Config

    c = Wav2Vec2Config(
        vocab_size=len(VOCAB), pad_token_id=0, bos_token_id=1, eos_token_id=2,
        hidden_size=144, num_hidden_layers=4, num_attention_heads=4, intermediate_size=576,
        conv_dim=(64,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_bias=True, feat_extract_norm="group", do_stable_layer_norm=True,
        num_conv_pos_embeddings=64, num_conv_pos_embedding_groups=16,
        hidden_dropout=0.05, attention_dropout=0.05, activation_dropout=0.0, feat_proj_dropout=0.05,
        final_dropout=0.0, layerdrop=0.0, apply_spec_augment=True, mask_time_prob=0.05,
        mask_time_length=5, mask_feature_prob=0.0, ctc_loss_reduction="mean", ctc_zero_infinity=True,
        word_delimiter_token_id=VOCAB["|"])
    c.architectures = ["Wav2Vec2ForCTC"]
    return c


def processor():
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Processor

    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                  do_normalize=True, return_attention_mask=False)
    return Wav2Vec2Processor(feature_extractor=fe, tokenizer=tokenizer())


def save_fp16(model, proc, out: Path) -> None:
    """HF directory with fp16 weights and ``dtype: float32`` in config.json (loads as fp32)."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    model.config.dtype = "float32"
    model.config.save_pretrained(str(out))
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    proc.save_pretrained(str(out))


def teacher_posteriors(n: int, seed: int, log) -> list[torch.Tensor] | None:
    """Log-posteriors (frame, vocab) fp16 of the shipped whisper-tiny.en-ctc for training clips
    ``0 .. n-1``, from the frozen encoder's states that its recipe caches
    (:func:`training.zoo.train_whisper_ctc.encoder_states`). States not cached yet are computed here with
    the model the resolver builds (the same encoder), so this recipe does not need that one to have
    run. None only without the shipped head."""
    from safetensors.torch import load_file

    from . import train_whisper_ctc
    from lab.ctc.whisper_ctc.build import ZOO, WHISPER_CTC_ID, whisper_ctc_config
    from lab.ctc.whisper_ctc import WhisperCTCForCTC

    head = ZOO / WHISPER_CTC_ID / "head.safetensors"
    if not head.is_file():
        log(f"no teacher ({head} is missing): CTC only")
        return None
    cached = train_whisper_ctc.encoder_states("train", n, seed)
    if cached is None:
        from lab.models import resolve

        log(f"encoding {n} train clips with the frozen Whisper tiny.en encoder for the teacher")
        m = resolve(WHISPER_CTC_ID, attention=False)
        m.model.eval()
        fe = m.processor.feature_extractor
        cached = train_whisper_ctc.encoder_states("train", n, seed, m.model, fe, log)
        del m
    recipe = json.loads((ZOO / WHISPER_CTC_ID / "recipe.json").read_text())
    cfg = whisper_ctc_config({}, recipe["head"])  # WhisperConfig defaults = tiny's encoder shape
    t = WhisperCTCForCTC(cfg).eval()
    t.load_state_dict({k: v.float() for k, v in load_file(str(head)).items()}, strict=False)
    out = []
    with torch.no_grad():
        for f in cached[0]:
            out.append(F.log_softmax(t.head_logits(t.mix(f.float()[None]))[0], -1).to(torch.float16))
    log(f"teacher posteriors for {len(out)} clips")
    return out


def _batches(lengths: np.ndarray, rng, seconds: float):
    """Length-bucketed batches of about ``seconds`` of padded audio, shuffled."""
    order = np.argsort(lengths + rng.uniform(0, 8000, len(lengths)))
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * lengths[i] / data.SAMPLE_RATE > seconds:
            batches.append(cur)
            cur = []
        cur.append(int(i))
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def _collate(audio, idx):
    n = max(len(audio[i]) for i in idx)
    x = torch.zeros(len(idx), n)
    m = torch.zeros(len(idx), n, dtype=torch.long)
    for j, i in enumerate(idx):
        x[j, : len(audio[i])] = torch.from_numpy(normalize(audio[i]))
        m[j, : len(audio[i])] = 1
    return x, m


def evaluate(model, audio, texts) -> tuple[float, list[str], float]:
    """(CER, hypotheses, blank fraction) with greedy decoding, one clip at a time."""
    model.eval()
    hyps, blank, frames = [], 0, 0
    with torch.no_grad():
        for a in audio:
            ids = model(torch.from_numpy(normalize(a))[None]).logits.argmax(-1)[0]
            hyps.append(greedy_decode(ids))
            blank += int((ids == 0).sum())
            frames += ids.numel()
    return cer(list(texts), hyps), hyps, blank / max(frames, 1)


def train(out: str, seed: int = 0, quick: bool = False, log=print) -> dict:
    from transformers import Wav2Vec2ForCTC

    t_start = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_train, n_held, steps = (N_TRAIN, N_HELDOUT, STEPS) if not quick else (64, 16, 12)
    ckpts = CHECKPOINTS if not quick else (4, 8)
    cache = data.data_cache()
    tr_audio, tr_specs = data.chunked_corpus("train", n_train, seed, cache=cache, version=DATA_VERSION)
    he_audio, he_specs = data.corpus("heldout", n_held, seed, cache=cache, version=DATA_VERSION)
    he_texts = [s.text for s in he_specs]
    labels = [encode_text(s.text) for s in tr_specs]
    teacher = teacher_posteriors(n_train, seed, log) if KD_WEIGHT > 0 else None
    lengths = np.array([len(a) for a in tr_audio])
    log(f"data: {n_train} clips, {lengths.sum() / SAMPLE_RATE / 3600:.2f} h")

    model = Wav2Vec2ForCTC(config())
    model.config._attn_implementation = "eager"  # the shipped config loads eager when asked
    proc = processor()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"params {n_params}")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.98))
    sched = warmup_cosine(opt, steps, steps // 12)
    outp = Path(out)
    ck_dir = outp / "checkpoints"
    shutil.rmtree(ck_dir, ignore_errors=True)
    history, batches, t0 = [], [], time.time()
    for step in range(steps):
        model.train()
        if not batches:
            batches = _batches(lengths, rng, BATCH_SECONDS)
        idx = batches.pop()
        x, m = _collate(tr_audio, idx)
        L = max(len(labels[i]) for i in idx)
        y = torch.full((len(idx), L), -100, dtype=torch.long)
        for j, i in enumerate(idx):
            y[j, : len(labels[i])] = torch.tensor(labels[i])
        o = model(x, attention_mask=m, labels=y)
        loss, ctc = o.loss, o.loss.item()
        kd = 0.0
        if teacher is not None:
            lp = F.log_softmax(o.logits / KD_TEMP, -1)
            flen = model._get_feat_extract_output_lengths(m.sum(-1))
            terms = []
            for j, i in enumerate(idx):
                tlp = teacher[i].float()
                n = int(min(flen[j], tlp.shape[0]))
                terms.append(F.kl_div(lp[j, :n], tlp[:n] / KD_TEMP, log_target=True, reduction="batchmean"))
            kd_loss = torch.stack(terms).mean()
            kd = kd_loss.item()
            loss = loss + KD_WEIGHT * kd_loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"step {step} ctc {ctc:.3f} kd {kd:.3f} lr {sched.get_last_lr()[0]:.2e} "
                f"({time.time() - t0:.0f}s)")
        if step + 1 in ckpts:
            c, _, b = evaluate(model, he_audio[:50], he_texts[:50])
            history.append({"step": step + 1, "heldout50_cer": round(c, 4), "blank_fraction": round(b, 3)})
            log(f"  checkpoint {step + 1}: held-out(50) CER {c:.4f} blank {b:.2f}")
            save_fp16(model, proc, ck_dir / f"step-{step + 1:05d}")
    t_train = time.time() - t0
    save_fp16(model, proc, outp)
    loaded = Wav2Vec2ForCTC.from_pretrained(str(outp)).eval()  # evaluate what ships (fp16 -> fp32)
    c_he, hyps, blank = evaluate(loaded, he_audio, he_texts)
    fl_audio, fl_specs = data.corpus("flite", 100, seed, cache=cache, version=DATA_VERSION)
    c_fl, _, _ = evaluate(loaded, fl_audio, [s.text for s in fl_specs])
    history.append({"step": steps, "heldout_cer": round(c_he, 4), "blank_fraction": round(blank, 3)})
    log(f"final: held-out CER {c_he:.4f} flite slt CER {c_fl:.4f} blank {blank:.2f}")
    size = (outp / "model.safetensors").stat().st_size
    summary = {"id": ID, "heldout_cer": round(c_he, 4), "flite_slt_cer": round(c_fl, 4),
               "blank_fraction": round(blank, 3), "params": n_params, "model_bytes": size,
               "steps": steps, "kd_weight": KD_WEIGHT if teacher is not None else 0.0,
               "train_seconds": round(t_train), "total_seconds": round(time.time() - t_start),
               "threads": torch.get_num_threads(), "history": history,
               "examples": [{"ref": s.text, "hyp": h, "voice": s.voice} for s, h in zip(he_specs[:6], hyps[:6])]}
    (outp / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n")
    from .cards import write

    write(ID, CARD_TITLE, CARD_BODY, summary, outp)
    return summary


CARD_TITLE = ("A tiny `Wav2Vec2ForCTC` trained from scratch on raw 16 kHz waveform: the real wav2vec2 CNN "
              "feature encoder (20 ms frames) and a character CTC head.")
CARD_BODY = """## Status: goal NOT met yet
The issue's goal is CER <= 0.10 on held-out espeak voices and unseen sentences. This model reaches
CER 0.29 on 300 held-out clips (0.67 on flite `slt`, a synthesizer it never heard), still falling
slowly when training stopped (checkpoints: 1.00 -> 0.98 -> 0.50 -> 0.37 on 50 clips, then 0.29 on
300). The output is peaky (69% of frames blank). Errors are mostly spelling by sound and word
boundaries. Beam search with a word bigram of the training texts takes it to the CER in "Decoding
with an external LM" below, still above the goal.
History: 4000 clips, 2500 steps and a 0.28-CER teacher gave 0.35; 16000 clips, 5000 steps and the
0.23 teacher gave 0.29; the same with the 0.21 teacher 0.28, with the conv-head teacher (0.16)
0.287; this run, with the current teacher (0.14, trained on twice the clips), 0.286. A better
teacher no longer helps: at 1.2M parameters and 5000 steps the student, not its teacher, is the
limit, so the goal needs a bigger model trained far longer than 45 CPU minutes. The test guards the measured level (<= 0.40 on the 20 committed clips).

## Use
```python
from lab.models import resolve
m = resolve("tiny-wav2vec2-ctc-en")
x = m.processor(samples_16k, sampling_rate=16000, return_tensors="pt")
text = m.processor.batch_decode(m.model(**x).logits.argmax(-1))[0]
```

## Architecture
CNN feature encoder: 7 convs, kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2 (320 samples = 20 ms per
frame, receptive field 400 samples), 64 channels, GroupNorm on the first conv (wav2vec2-base layout);
feature projection to 144; convolutional position embedding (kernel 64, 16 groups); 4 pre-norm
transformer layers (4 heads, FFN 576); linear CTC head over 32 symbols (`<pad>` = blank, `|`, a-z, `'`).
The processor normalizes each clip to zero mean / unit variance and returns no attention mask
(group norm, as wav2vec2-base: run clips one at a time for exact results).

## Training (`audiolab train tiny-wav2vec2-ctc-en`)
From random initialisation: CTC + a frame-level distillation term (KL to the posteriors of the
shipped `whisper-tiny.en-ctc` teacher on the same clip, computed from the frozen encoder's states
that recipe caches, or encoded here when they are not cached; both models run at 50 frames/s), 16000
clips (11.3 h, the first half of the Whisper-CTC training clips), AdamW lr 1e-3 (warm-up, cosine),
length-bucketed batches of ~24 s of audio, 5000 steps, SpecAugment time masks (p 0.05, length 5),
seed 0, 2 CPU threads: 1345 s of training, 1427 s in all once the corpus and the teacher's encoder
states are cached. From an empty cache, measured (`AUDIOLAB_CACHE=<empty dir> audiolab train
tiny-wav2vec2-ctc-en --threads 2`, nothing else running): 41 min 56 s wall clock (`total_seconds`
2512; synthesis, 253 s of encoding for the teacher, training 1897 s -- slower per step than the 1345
s of the cached run, for a reason not found), peak resident memory 12.8 GB; that run scored held-out
CER 0.2845 (flite `slt` 0.679) against this model's 0.2857 (0.674). Weights are stored fp16
(`model.safetensors`; config `dtype` float32) and load as fp32; the metrics are measured on the
stored fp16 weights.

## Checkpoints ("watch the alignment emerge")
`checkpoints/step-NNNNN/` are full HF directories (fp16 weights) at steps 100, 300, 800 and 2000; the
fifth state, the final step 5000, is the model itself (not stored twice; `lab.ctc.checkpoints.checkpoint_dirs`
lists all five). Resolve one by path (`resolve("lab/zoo/tiny-wav2vec2-ctc-en/checkpoints/step-00100")`)."""
