"""Train ``tiny-speecht5-tts-en``: a small ``SpeechT5ForTextToSpeech`` on one synthetic voice.

Recipe: texts from :mod:`training.zoo.tts_data` (half grammatical sentences, half word sequences),
their audio in one voice (flite ``awb``, see :mod:`training.zoo.tts_data` for why not espeak-ng) as
SpeechT5 log10-mel targets; teacher-forced training with
transformers' own SpeechT5 loss -- L1 on the spectrogram before and after the post-net, BCE on the
stop token (target 1 on the last real frame), and the guided-attention loss (Tachibana et al.
2017) on the first two cross-attention heads of every decoder layer, which makes the text-to-frame
alignment learnable in CPU time. The speaker embedding is the lab's fixed default vector
(``assets/tts/default_speaker.npy``), shipped as ``speaker.npy``. Evaluated with the lab's own
decoder loop + Griffin-Lim + Whisper tiny.en (:mod:`training.zoo.tts_eval`) on texts it never saw.
"""
from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from . import data, tts_data
from .common import warmup_cosine
from .sentences import HARVARD

ID = "tiny-speecht5-tts-en"
HIDDEN, LAYERS, HEADS, FFN, POSTNET = 160, 3, 4, 480, 128
N_TRAIN, N_SIMPLE_TEST, N_SALAD_TEST = 8000, 20, 10
STEPS, BATCH, LR, WARMUP = 9500, 24, 1e-3, 300
MAX_TEXT_POSITIONS = 300
PHONES = True  # read flite's phones of the text (lab.tts.phones), not its letters


def config(vocab_size: int, **overrides):
    from transformers import SpeechT5Config

    cfg = dict(vocab_size=vocab_size, hidden_size=HIDDEN, encoder_layers=LAYERS, decoder_layers=LAYERS,
               encoder_attention_heads=HEADS, decoder_attention_heads=HEADS,
               encoder_ffn_dim=FFN, decoder_ffn_dim=FFN,
               speech_decoder_prenet_units=HIDDEN, speech_decoder_postnet_units=POSTNET,
               speech_decoder_postnet_layers=5, speech_decoder_postnet_kernel=5, num_mel_bins=80,
               reduction_factor=2, speaker_embedding_dim=512, max_text_positions=MAX_TEXT_POSITIONS,
               max_speech_positions=1500, encoder_max_relative_position=16,
               encoder_layerdrop=0.0, decoder_layerdrop=0.0,  # layer drop can drop every cross-attention
               use_guided_attention_loss=True, guided_attention_loss_num_heads=2,
               guided_attention_loss_sigma=0.4, guided_attention_loss_scale=10.0)
    cfg.update(overrides)
    return SpeechT5Config(**cfg)


def _batch(ids, mels, idx, pad_id: int, r: int):
    """input_ids / attention_mask (batch, text_token); labels (batch, mel_frame, 80), -100 = pad;
    every length cut to a multiple of the reduction factor ``r``."""
    L = max(len(ids[i]) for i in idx)
    T = max(mels[i].shape[0] - mels[i].shape[0] % r for i in idx)
    x = torch.full((len(idx), L), pad_id, dtype=torch.long)
    am = torch.zeros(len(idx), L, dtype=torch.long)
    y = torch.full((len(idx), T, mels[idx[0]].shape[1]), -100.0)
    for j, i in enumerate(idx):
        x[j, : len(ids[i])] = torch.tensor(ids[i])
        am[j, : len(ids[i])] = 1
        n = mels[i].shape[0] - mels[i].shape[0] % r
        y[j, :n] = torch.from_numpy(mels[i][:n].astype(np.float32))
    return x, am, y


def test_texts(seed: int = 0) -> dict[str, list[str]]:
    """The unseen texts: Harvard-style sentences, grammar sentences and word sequences from the
    held-out seeds."""
    simple = [tts_data.text("heldout", 2 * i, seed) for i in range(N_SIMPLE_TEST)]
    salad = [tts_data.text("heldout", 2 * i + 1, seed) for i in range(N_SALAD_TEST)]
    harvard = [t[0].upper() + t[1:] + "." for t in HARVARD]
    return {"harvard": harvard, "simple": simple, "words": salad}


def train(out: str, seed: int = 0, quick: bool = False, log=print) -> dict:
    from transformers import SpeechT5ForTextToSpeech

    from lab.models import resolve
    from lab.tts.speaker import DEFAULT_SPEAKER, load_speaker
    from lab.tts.phones import Frontend
    from lab.tts.text import prepare_text
    from lab.tts.tiny import tiny_processor

    from . import cards, tts_eval
    from .train_wav2vec2_ctc import save_fp16

    t_start = time.time()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_train, steps = (N_TRAIN, STEPS) if not quick else (48, 10)
    proc = tiny_processor()
    texts = [tts_data.text("train", i, seed) for i in range(n_train)]
    tests = test_texts(seed)
    if quick:
        tests = {k: v[:2] for k, v in tests.items()}
    train_set = set(texts)
    leaked = [t for v in tests.values() for t in v if t in train_set]
    assert not leaked, f"test texts in training data: {leaked}"

    t0 = time.time()
    mels, samples = tts_data.corpus(texts, workers=2, cache=data.data_cache())
    hours = samples.sum() / data.SAMPLE_RATE / 3600
    log(f"data: {n_train} clips, {hours:.2f} h, mean {samples.mean() / data.SAMPLE_RATE:.2f} s ({time.time() - t0:.0f}s)")
    front = Frontend("flite-phones", tts_data.VOICE) if PHONES else None
    proc.text_frontend = front
    t0 = time.time()
    with ThreadPoolExecutor(2) as pool:  # the lab's text path; flite runs as a subprocess per text
        ids = list(pool.map(lambda t: prepare_text(t, proc, MAX_TEXT_POSITIONS).token_ids, texts))
    log(f"tokens: {'phones of flite ' + tts_data.VOICE if front else 'characters'} ({time.time() - t0:.0f}s)")
    pad_id = proc.tokenizer.pad_token_id

    cfg = config(len(proc.tokenizer))
    model = SpeechT5ForTextToSpeech._from_config(cfg, attn_implementation="eager")
    speaker, _ = load_speaker(None)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.98))
    sched = warmup_cosine(opt, steps, WARMUP, floor=0.05)
    # length-sorted batches (little padding), shuffled as whole batches
    order = np.argsort([m.shape[0] for m in mels], kind="stable")
    batches = [order[i:i + BATCH].tolist() for i in range(0, len(order), BATCH)]
    t0, step, history, losses = time.time(), 0, [], []
    while step < steps:
        rng.shuffle(batches)
        for b in batches:
            if step >= steps:
                break
            x, am, y = _batch(ids, mels, b, pad_id, cfg.reduction_factor)
            model.train()
            loss = model(input_ids=x, attention_mask=am, labels=y,
                         speaker_embeddings=speaker.expand(len(b), -1)).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            if step % 100 == 0 or step == steps - 1:
                log(f"step {step} loss {np.mean(losses[-100:]):.3f} ({time.time() - t0:.0f}s)")
                history.append({"step": step, "loss": round(float(np.mean(losses[-100:])), 4)})
            step += 1
    t_train = time.time() - t0
    model.eval()

    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]  # save_fp16 writes the config as is
    save_fp16(model, proc, outp)
    shutil.copyfile(DEFAULT_SPEAKER, outp / "speaker.npy")
    if front:
        front.save(outp)
    loaded = SpeechT5ForTextToSpeech.from_pretrained(outp, attn_implementation="eager").float().eval()

    whisper = resolve("whisper-tiny.en")  # eager attention: the trace keeps it
    metrics = {}
    t0 = time.time()
    for name, tx in tests.items():
        refs = tts_data.corpus(tx, workers=1)[1] / data.SAMPLE_RATE
        log(f"{name}:")
        ev = tts_eval.evaluate(loaded, proc, speaker, tx, list(refs), whisper, log=log)
        metrics[name] = {k: v for k, v in ev.items() if k != "items"}
        metrics[name]["examples"] = ev["items"][:4]
        log(f"{name}: WER {ev['wer']}, within 15% {ev['within_15pct']}, diag {ev['diagonality_best_head']}")
    # the ceiling: the training voice's own audio, through the same mel + Griffin-Lim + Whisper
    from .ceilings import voice_wer

    for name in ("harvard", "simple"):
        metrics[name]["voice_griffin_lim_wer"] = voice_wer(tests[name], whisper=whisper)
    log(f"evaluation {time.time() - t0:.0f}s")
    summary_metrics = {"unseen_wer_harvard": metrics["harvard"]["wer"],
                       "unseen_wer_simple": metrics["simple"]["wer"],
                       "within_15pct_harvard": metrics["harvard"]["within_15pct"],
                       "diagonality_best_head_harvard": metrics["harvard"]["diagonality_best_head"],
                       "train_clips": n_train, "train_hours": round(float(hours), 3), "eval": metrics}
    return cards.finish(ID, loaded, outp, summary_metrics, init="random (SpeechT5Config, seed 0)",
                        steps=steps, t_start=t_start, t_train=t_train, history=history,
                        title=CARD_TITLE, body=CARD_BODY, data=CARD_DATA)


CARD_TITLE = ("A small SpeechT5 text-to-speech model the lab trains on one synthetic voice (flite `awb`), "
              "reading the text's phones: the TTS tab shows a real trained decoder -- a diagonal "
              "cross-attention from phone to sound, a stop token that fires near the end of the text, and "
              "speech Whisper tiny.en mostly understands (WER 0.28 on unseen Harvard-style sentences).")
CARD_DATA = """One flite voice (`awb`, its own speaking rate), no augmentation, leading and trailing silence
trimmed (40 dB below peak); targets are SpeechT5's log10-mel features of that audio. Texts:
`training/zoo/tts_data.py` (even clips: grammar sentences of `training/zoo/sentences.py`; odd clips: 2-8
random words from `data.sentence`). Test texts come from other seeds plus the Harvard-style list;
the recipe asserts none of them is in the training texts. Per-set results (WER, durations,
diagonality per layer and head, examples) are in `metrics.json` under `eval`."""
CARD_BODY = """## Status: the three goals met on the Harvard-style sentences (WER 0.28, goal 0.30)
- **Alignment: met.** The cross-attention is a clean diagonal: best head's diagonality 0.984 on
  the Harvard-style sentences (1 = all mass on the diagonal; the untrained model about 0.42).
- **Stop token: met.** Every test sentence ends by the stop threshold, never by the length
  limit; the duration is within 15 % of the voice's own for all 20 Harvard-style sentences (mean
  ratio 1.00, largest deviation 13.9 %), all 20 grammar sentences and all 10 word sequences.
- **Intelligibility: met on the Harvard-style sentences, just above on grammar sentences.**
  Whisper tiny.en's WER is **0.28** on the 20 Harvard-style sentences (goal <= 0.30) and 0.32 on 20
  unseen grammar sentences (about 0.30 over the 40 together). "The soft cushion broke the man's
  fall.", "Kick the ball straight and follow through." and "The salt breeze came across from the
  sea." come back word for word; "Four hours of steady work faced us." -> "for us of steadyward
  face toss." is the worst. The voice sets the ceiling: flite `awb`'s own audio through the same
  log-mel + Griffin-Lim + Whisper path scores 0.11 (Harvard) / 0.23 (grammar: odd sentences such as
  "The cat cooked the blue ticket" give Whisper's language model nothing to lean on).
The test (`tests/zoo/test_tts_zoo.py`) holds all three goals on the 20 Harvard-style sentences.

## How it got here
| recipe | Whisper WER Harvard / grammar | within 15 % (Harvard) | diagonality |
| --- | --- | --- | --- |
| espeak-ng `en-us`, letters, 6500 steps on 5000 clips | 0.92 / 0.79 | 80 % | 0.968 |
| flite `awb`, letters, 6500 steps on 5000 clips | 0.91 / 0.80 | 90 % | 0.959 |
| flite `awb`, phones, 6500 steps on 5000 clips | 0.47 / 0.44 | 95 % | 0.972 |
| flite `awb`, phones, **9500 steps on 8000 clips** (this model) | **0.28 / 0.32** | 100 % | 0.984 |

Reading phones was the big step; the last one spent the rest of the 45-minute budget (8000 clips,
4.4 h; 9500 steps; final training loss 0.400 vs 0.441).

## Why phones, not letters
English spelling is a poor guide to sound ("though", "through", "tough"), and a small model given
45 CPU minutes spent them learning it. This model reads **flite `awb`'s own phone sequence** of the
text instead (`flite -ps`: its CMU lexicon and letter-to-sound rules -- the pronunciation the
training audio actually has), one ASCII letter per ARPAbet phone (`lab.tts.phones`: `dh` -> `D`,
`ax` -> `x`, a pause -> `,`), so the lab's character tokenizer reads one token per phone and the
model is the same size. `text_frontend.json` tells the lab to do this: the resolver attaches the
front end to the processor, the text checks and traces tokenize the phones, and the TTS tab and
the traces show phone names (`dh ax b er ch ...`) as the tokens.

Same recipe, same 6500 steps, seed and data (5000 clips), letters vs phones (2 threads): final
loss 0.488 vs 0.441; Whisper WER 0.91 vs 0.47 (Harvard-style), 0.80 vs 0.44 (grammar), 0.76 on word
sequences (letters: 1.09). At 2000 steps (1 thread, a side experiment) the two looked alike -- loss 0.652
vs 0.637, WER 0.99 vs 0.97 -- the gap opens later in training.

## Why flite `awb`, not espeak-ng
The issue asks for one espeak-ng voice. Whisper tiny.en mis-hears espeak-ng even in its own audio:
WER 0.31 on the 20 Harvard-style sentences straight from espeak-ng `en-us`, 0.34 after log-mel +
Griffin-Lim -- above the 0.30 goal before any model is involved (`en-us+m3` 0.33 / 0.34,
`en-gb-x-rp` 0.41 / 0.46). flite's voices score 0.09-0.18 raw and 0.11-0.21 after Griffin-Lim,
`awb` the best (0.09 / 0.11), so the goal is reachable in principle with it. Reproduce with
`python -m training.zoo.ceilings voices`; `tests/zoo/test_ceilings.py` holds `awb` under 0.30. The previous model (same recipe on espeak-ng `en-us`, 1817 s) scored WER 0.92
Harvard / 0.79 grammar, durations within 15 % for 80 % / 100 %, diagonality 0.968: the voice
change did not change what the model learns in 45 CPU minutes, only the ceiling.

## Use
```python
from lab.models import resolve
from lab.tts import loop
from lab.tts.speaker import load_speaker
from lab.tts.vocoder import griffin_lim
m = resolve("tiny-speecht5-tts-en")           # offline
from lab.tts.text import prepare_text
import torch
check = prepare_text("The birch canoe slid on the smooth planks.", m.processor, m.model.config.max_text_positions)
print(check.phones)                            # DxbRCkxnuslIdanDxsmuDplANks. (flite awb's phones)
res = loop.run(m.model, torch.tensor([check.token_ids]), load_speaker(None)[0])
wave = griffin_lim(res.mel_post.numpy())        # 16 kHz
# or the whole instrumented run: lab.tts.trace_tts(text, "tiny-speecht5-tts-en")
```

## Architecture
`SpeechT5ForTextToSpeech`, hidden 160, 3 encoder + 3 decoder layers, 4 heads, FFN 480, the lab's
SentencePiece char vocabulary (`assets/tts/spm_char.model`) over phone letters (`text_frontend.json`:
flite `awb` phones, `lab.tts.phones`; the flite binary is needed at run time), 80 log10-mel bins at
62.5 frames/s, reduction factor 2 (two frames per decoder step), post-net 5 x 128 convolutions.
Speaker embedding: the lab's fixed default 512-d vector (`speaker.npy` = `assets/tts/default_speaker.npy`,
not a real x-vector; the model knows one voice). Vocoder offline: Griffin-Lim (`lab.tts.vocoder`).
Weights fp16 on disk, loaded as fp32.

## Training (`audiolab train tiny-speecht5-tts-en`)
Data: `training/zoo/tts_data.py` -- flite `awb`, silence trimmed; input = the texts' phones
(`PHONES = True`; False trains on letters); texts half grammatical sentences
(`training/zoo/sentences.py`), half random word sequences over 3000 common words. Loss: transformers'
SpeechT5 loss (L1 before and after the post-net, stop-token BCE with positive weight 5, guided
attention on 2 heads per decoder layer, sigma 0.4, scale 10). AdamW lr 1e-3, 300 warm-up steps,
cosine over 9500 steps, batches of 24 length-sorted clips, seed 0, CPU (2 threads). An earlier run
at hidden 128 for 3600 steps (espeak-ng) learned the diagonal and the stop token but Whisper
understood almost nothing (WER 0.97): too little capacity and too few steps, hence this wider,
longer run.

Time, measured by the committed recipe (2 threads, empty data cache, nothing else running):
synthesis of the 8000 clips 298 s, their phones 115 s (2 threads), training 2164 s (0.228
s/step), evaluation 59 s: 2638 s, 44 minutes, in all (`total_seconds`). The run gives
bit-identical weights each time: a first run that phonemized on one thread (223 s, 2730 s in all)
wrote the same `model.safetensors` byte for byte.

## Evaluation
Texts it never saw: 20 Harvard-style sentences (`sentences.HARVARD`, never produced by the
training grammar), 20 grammar sentences and 10 word sequences from held-out seeds. Each is spoken
by the lab's own decoder loop (threshold 0.5, prenet dropout seeded), vocoded by Griffin-Lim and
transcribed by the lab's Whisper tiny.en; durations are compared with the voice's own (silence
trimmed). `voice_griffin_lim_wer` is the ceiling: the voice's own audio through the same mel +
Griffin-Lim + Whisper path. Word sequences are hard for Whisper even from the voice itself (no
grammar to lean on), so the goal is judged on sentences."""
