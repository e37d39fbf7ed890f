"""Score a text-to-speech model the way the issue asks: can Whisper understand it, does it stop at
the right time, does it read the text in order?

For each text: the lab's own decoder loop (:func:`lab.tts.loop.run`, threshold 0.5, seeded prenet
dropout) -> Griffin-Lim (:func:`lab.tts.vocoder.griffin_lim`) -> the lab's Whisper tiny.en
(:func:`lab.tts.intelligibility.check`). Per text: WER, generated vs reference duration (the
training voice's own clip, silence trimmed), the stop reason, and the (layer, head) diagonality of the
cross-attention (:mod:`lab.tts.alignment`). Summary: corpus WER (errors / reference words),
the share of texts whose duration is within 15 % of the reference, the best head's mean
diagonality.
"""
from __future__ import annotations

import numpy as np
import torch

from lab.audio import SAMPLE_RATE
from lab.tts.constants import STOP_THRESHOLD

DURATION_TOLERANCE = 0.15


def synthesize(model, processor, speaker: torch.Tensor, text: str, seed: int = 0):
    """(LoopResult, waveform float32 at 16 kHz) for ``text``."""
    from lab.tts import loop
    from lab.tts.text import prepare_text
    from lab.tts.vocoder import MelParams, griffin_lim

    # the lab's own text path: phones for a model with a phone front end, else characters
    ids = torch.tensor([prepare_text(text, processor, model.config.max_text_positions).token_ids])
    with torch.no_grad():
        res = loop.run(model, ids, speaker, loop.LoopSettings(threshold=STOP_THRESHOLD, seed=seed))
    return res, griffin_lim(res.mel_post.numpy(), MelParams.from_processor(processor))


def evaluate(model, processor, speaker: torch.Tensor, texts: list[str], ref_seconds: list[float],
             whisper=None, log=None) -> dict:
    """``{"items": [...], "wer", "within_15pct", "duration_ratio_mean", "stopped_by_threshold",
    "diagonality_best_head", "diagonality": (layer, head) list}``."""
    from lab.tts.alignment import head_diagonality
    from lab.tts.intelligibility import check

    items, errors, words, diag = [], 0, 0, []
    for text, ref_s in zip(texts, ref_seconds):
        res, wav = synthesize(model, processor, speaker, text)
        r = check(wav, SAMPLE_RATE, text, whisper)
        cross = torch.stack([s.cross_attn for s in res.steps]).float().numpy()  # (step, layer, head, text)
        hd = head_diagonality(cross)
        diag.append(hd)
        n_ref = r["hits"] + r["substitutions"] + r["deletions"]
        errors += r["substitutions"] + r["deletions"] + r["insertions"]
        words += n_ref
        seconds = len(wav) / SAMPLE_RATE
        items.append({"text": text, "heard": r["hypothesis"], "wer": round(r["wer"], 3),
                      "seconds": round(seconds, 2), "reference_seconds": round(float(ref_s), 2),
                      "duration_ratio": round(seconds / ref_s, 3), "stop_reason": res.stop_reason,
                      "steps": len(res.steps), "diagonality_best": round(float(hd.max()), 3)})
        if log:
            log(f"  {r['wer']:.2f} {seconds:.2f}/{ref_s:.2f}s diag {hd.max():.2f} {res.stop_reason}: "
                f"{text!r} -> {r['hypothesis']!r}")
    ratios = np.array([i["duration_ratio"] for i in items])
    mean_diag = np.mean(diag, axis=0)  # (layer, head)
    return {"items": items, "wer": round(errors / max(words, 1), 4),
            "within_15pct": round(float(np.mean(np.abs(ratios - 1) <= DURATION_TOLERANCE)), 3),
            "duration_ratio_mean": round(float(ratios.mean()), 3),
            "stopped_by_threshold": sum(i["stop_reason"] == "threshold" for i in items),
            "diagonality_best_head": round(float(mean_diag.max()), 3),
            "diagonality": np.round(mean_diag, 3).tolist()}
