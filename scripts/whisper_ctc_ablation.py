"""Short-schedule ablation for ``whisper-tiny.en-ctc``: frozen encoder vs its last layers fine-tuned.

The issue asks for the *frozen* Whisper tiny.en encoder; this script measures what unfreezing the
last ``K`` encoder layers (plus ``encoder.layer_norm``) would buy, so the trade-off is on record
(the model card's "Fine-tuning the encoder" paragraph). Not part of ``make test``, not a recipe:
nothing here is shipped.

    .venv/bin/python scripts/whisper_ctc_ablation.py --finetune 0 --steps 2000 --clips 16000
    .venv/bin/python scripts/whisper_ctc_ablation.py --finetune 1 --steps 2000 --clips 16000

Both train the shipped head architecture (``train_whisper_ctc.HEAD``, lr, batch, time masks,
length-bucketed batches, warm-up + cosine over ``--steps``; seed 0) on the encoder states that
``audiolab train whisper-tiny.en-ctc`` caches (all layers, fp16; missing chunks are synthesized
and encoded first). With ``--finetune K`` the last K layers are re-run, trainable (AdamW at
``--encoder-lr``), from the cached output of layer ``L - K``. Prints one JSON line: greedy CER on
the 300 held-out clips and on flite ``slt``, and the training seconds (wall clock, 2 threads).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from lab.ctc.whisper_ctc import WhisperCTCFeatureExtractor, WhisperCTCForCTC
from training.zoo import data
from training.zoo import train_whisper_ctc as T
from training.zoo.common import bucketed_batches, encode_text, warmup_cosine


def build(k: int) -> tuple[WhisperCTCForCTC, WhisperCTCFeatureExtractor, list]:
    """The recipe's untrained model (:func:`train_whisper_ctc.frozen_model`) and its feature
    extractor, with the last ``k`` encoder layers + the final norm made trainable (their params)."""
    model, fe, _ = T.frozen_model()
    enc_params = []
    if k:
        for mod in [*model.encoder.layers[-k:], model.encoder.layer_norm]:
            for p in mod.parameters():
                p.requires_grad = True
                enc_params.append(p)
    return model, fe, enc_params


def head_input(model: WhisperCTCForCTC, k: int, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cached states (batch, layer, frame, d_model) -> the head's input (batch, frame, d_model),
    re-running the last ``k`` encoder layers from the cached output of layer ``L - k``."""
    if not k:
        return model.mix(x)
    n_layers = len(model.encoder.layers)
    h = x[:, n_layers - k]
    key_mask = model._key_mask(mask, h.dtype)
    outs = [x[:, i] for i in range(n_layers - k + 1)]
    for i, layer in enumerate(model.encoder.layers[n_layers - k:]):
        h = layer(h, key_mask)
        if i == k - 1:
            h = model.encoder.layer_norm(h)
        outs.append(h)
    return model.mix(torch.stack(outs, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--finetune", type=int, default=0, help="last K encoder layers trainable (0: frozen)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--clips", type=int, default=16000, help="training clips (a multiple of 2000)")
    ap.add_argument("--encoder-lr", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model, fe, enc_params = build(a.finetune)
    tr, _ = T.encoder_states("train", a.clips, 0, model, fe, workers=2)
    he, _ = T.encoder_states("heldout", T.N_HELDOUT, 0, model, fe)
    fl, _ = T.encoder_states("flite", T.N_FLITE, 0, model, fe)
    labels = [encode_text(data.spec("train", i, 0).text) for i in range(a.clips)]
    he_texts = [data.spec("heldout", i, 0).text for i in range(T.N_HELDOUT)]
    fl_texts = [data.spec("flite", i, 0).text for i in range(T.N_FLITE)]

    head_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    groups = [{"params": head_params, "lr": T.LR}]
    if enc_params:
        groups.append({"params": enc_params, "lr": a.encoder_lr})
    opt = torch.optim.AdamW(groups, weight_decay=0.01)

    def inputs(x, mask):
        return head_input(model, a.finetune, x, mask)

    sched = warmup_cosine(opt, a.steps, a.steps // 15)
    t0 = time.time()
    for step, idx in enumerate(bucketed_batches([f.shape[1] for f in tr], T.BATCH, a.steps, rng)):
        model.train()
        x, mask, y = T._batch(tr, labels, idx, True, rng)
        loss, _ = T._head_loss(model, x, mask, y, head_input=inputs)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head_params + enc_params, 1.0)
        opt.step()
        sched.step()
        if step % 500 == 0:
            print(f"step {step} loss {loss.item():.3f} ({time.time() - t0:.0f}s)", flush=True)
    t_train = time.time() - t0
    print(json.dumps({"finetune": a.finetune, "steps": a.steps, "clips": a.clips, "encoder_lr": a.encoder_lr,
                      "heldout_cer": round(T.evaluate(model, he, he_texts, head_input=inputs)[0], 4),
                      "flite_cer": round(T.evaluate(model, fl, fl_texts, head_input=inputs)[0], 4),
                      "train_seconds": round(t_train)}))


if __name__ == "__main__":  # the corpus synthesis spawns worker processes
    main()
