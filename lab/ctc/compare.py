"""The same clip through a CTC model and through Whisper: texts, WER, time, sequence lengths.

The seed's closing argument made measurable: CTC reads every 20 ms frame once and emits one
token per frame (collapsed afterwards) in a single forward pass; Whisper pads to 30 s, encodes
3000 mel frames into 1500, then decodes one token at a time.
"""
from __future__ import annotations

import time

from ..audio import load_audio
from ..whisper.constants import (ENCODER_FRAMES_PER_SECOND, MEL_FRAMES_PER_SECOND, WINDOW_MEL_FRAMES,
                                 WINDOW_SECONDS)
from .constants import SAMPLE_RATE
from .score import wer_cer


def _ctc_row(clip, loaded, reference) -> dict:
    from ..trace import CapturePolicy
    from .capture import trace_ctc

    t0 = time.perf_counter()
    tr = trace_ctc(clip, loaded, policy=CapturePolicy(names=["input.*", "ctc.*"]))
    dt = time.perf_counter() - t0
    g, m = tr.meta["geometry"], tr.meta
    stages = [("samples", g["n_samples"], f"{g['sample_rate']}/s")]
    if g["input"] == "features":
        stages.append(("feature frames", g["n_feature_frames"],
                       f"{g['sample_rate'] / g['feature_hop']:.0f}/s"))
    stages += [("encoder frames (= CTC frames)", m["n_frames"], f"{m['frames_per_second']:.4g}/s"),
               ("non-blank tokens after collapse", len(m["collapse"]["spans"]["no_blanks"]), ""),
               ("words", len(m["text"].split()), "")]
    return {"family": "ctc", "model": tr.model_id, "weights_source": tr.weights_source,
            "text": m["text"], "seconds": dt, "forward_s": m["timings"]["forward_s"],
            "decoder_passes": 1, "stages": stages, "trace": tr,
            "wer": wer_cer(reference, m["text"]) if reference else None}


def _whisper_row(clip, loaded, reference) -> dict:
    from ..whisper import trace_whisper

    t0 = time.perf_counter()
    tr = trace_whisper(clip, loaded, word_timestamps=False)
    dt = time.perf_counter() - t0
    m = tr.meta
    mel = tr["input.log_mel"].shape[-1] if "input.log_mel" in tr else WINDOW_MEL_FRAMES
    enc = tr.time_bases.get("encoder_frame", ENCODER_FRAMES_PER_SECOND)
    stages = [("samples", len(clip.samples), f"{SAMPLE_RATE}/s"),
              ("mel frames (padded to 30 s)", int(mel), f"{MEL_FRAMES_PER_SECOND:.0f}/s"),
              ("  of which hold audio", int(m.get("n_content_mel_frames", mel)), ""),
              ("encoder frames", int(mel) // 2, f"{enc:.4g}/s"),
              ("decoder steps (tokens)", len(tr.steps), ""),
              ("words", len(m["text"].split()), "")]
    return {"family": "whisper", "model": tr.model_id, "weights_source": tr.weights_source,
            "text": m["text"].strip(), "seconds": dt, "forward_s": None,
            "decoder_passes": len(tr.steps), "stages": stages, "trace": tr,
            "wer": wer_cer(reference, m["text"]) if reference else None}


def compare(audio, ctc_loaded, whisper_loaded, reference: str | None = None) -> list[dict]:
    """One row per model: ``{family, model, weights_source, text, seconds, decoder_passes,
    stages: [(stage, length, rate)], wer (score.wer_cer or None), trace}``."""
    clip = load_audio(audio, SAMPLE_RATE, max_seconds=WINDOW_SECONDS)
    reference = (reference or "").strip() or None
    return [_ctc_row(clip, ctc_loaded, reference), _whisper_row(clip, whisper_loaded, reference)]
