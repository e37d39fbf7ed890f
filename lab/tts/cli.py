"""Text-to-speech with SpeechT5: watch the decoder loop (audiolab trace tts "TEXT")."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from ..errors import LabError
from .constants import STOP_THRESHOLD


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="the text to speak")
    p.add_argument("--model", default=None,
                   help="TTS model id or directory (default: the lab's offline TTS model; "
                        "'speecht5-tiny-random' = untrained demo model)")
    p.add_argument("--threshold", type=float, default=STOP_THRESHOLD,
                   help=f"stop when a step's summed stop probability reaches this (default {STOP_THRESHOLD})")
    p.add_argument("--minlenratio", type=float, default=0.0)
    p.add_argument("--maxlenratio", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0, help="prenet dropout seed (default 0)")
    p.add_argument("--speaker", default=None, help=".npy file with a speaker x-vector")
    p.add_argument("--vocoder", default="auto",
                   help="auto | hifigan | griffin-lim | a SpeechT5HifiGan id or directory")
    p.add_argument("--out", default=None, help="directory for tts.wav and the trace")
    p.add_argument("--drop-unknown", action="store_true",
                   help="drop characters outside the model's vocabulary instead of failing")
    p.add_argument("--split", action="store_true",
                   help="split a text longer than the model's positions into sentences")
    from ..interventions import cli as what_if_cli

    what_if_cli.add_arguments(p)


def _summary(tr) -> dict:
    return {"tokens": tr.tokens, "n_steps": tr.meta["n_steps"], "stop_step": tr.meta["stop_step"],
            "stop_reason": tr.meta["stop_reason"],
            "stop_prob": [round(float(p), 6) for p in tr["tts.stop_prob"]],
            "n_frames": tr.meta["n_frames"], "minlen": tr.meta["minlen"], "maxlen": tr.meta["maxlen"],
            "seconds": tr.meta.get("seconds")}


def run(args) -> dict:
    """Returns ``tokens``, ``n_steps``, ``stop_step`` (0-based), ``stop_reason``, ``stop_prob``
    (one per step), ``n_frames``, ``audio`` (the wav written), ``trace`` (saved trace dir),
    ``model``, ``weights_source``, ``vocoder``, ``vocoder_note``, ``sample_rate``, ``seconds``,
    ``speaker``, ``seed``, ``threshold``. With ``--split``: also ``sentences`` (one summary each);
    the top-level keys then describe the whole (steps and frames summed, stop probabilities
    concatenated, stop step/reason of the last sentence)."""
    import soundfile as sf

    from ..cli import out_dir
    from .capture import load_tts, trace_sentences, trace_tts

    out = out_dir(args.out) if args.out else Path(tempfile.mkdtemp(prefix="audiolab-tts-"))
    loaded = load_tts(args.model)
    kw = dict(speaker=args.speaker, threshold=args.threshold, minlenratio=args.minlenratio,
              maxlenratio=args.maxlenratio, seed=args.seed, vocoder=args.vocoder,
              drop_unknown=args.drop_unknown)
    from ..interventions import cli as what_if_cli

    ivs = what_if_cli.interventions(args)
    if ivs and args.split:
        raise LabError("what-if flags (--ablate / --what-if) take one sentence, not --split")
    if args.split:
        res = trace_sentences(args.text, loaded, **kw)
        traces, wav, rate = res.traces, res.waveform, res.sample_rate
        parts = [_summary(t) for t in traces]
        result = {"tokens": [t for p in parts for t in p["tokens"]],
                  "n_steps": sum(p["n_steps"] for p in parts),
                  "stop_step": parts[-1]["stop_step"], "stop_reason": parts[-1]["stop_reason"],
                  "stop_prob": [x for p in parts for x in p["stop_prob"]],
                  "n_frames": sum(p["n_frames"] for p in parts),
                  "sentences": [dict(p, text=s) for p, s in zip(parts, res.sentences)]}
        for i, t in enumerate(traces):
            t.save(out / f"trace_{i:02d}")
        trace_dir = str(out)
    else:
        tr = trace_tts(args.text, loaded, **kw)
        if ivs:  # what-if: the audio and JSON are the changed run's, + intervention and diff
            base, tr = tr, trace_tts(args.text, loaded, interventions=ivs, **kw)
        traces = [tr]
        wav, rate = tr["tts.waveform"].numpy(), int(tr.time_bases["sample"])
        result = _summary(tr)
        trace_dir = str(tr.save(out / "trace"))
    wav_path = out / "tts.wav"
    sf.write(str(wav_path), np.asarray(wav, dtype=np.float32), rate)
    m = traces[-1].meta
    result.update(audio=str(wav_path), trace=trace_dir, model=loaded.model_id,
                  weights_source=loaded.weights_source, vocoder=m.get("vocoder"),
                  vocoder_note=m.get("vocoder_note", ""), sample_rate=rate,
                  seconds=len(wav) / rate, speaker=m.get("speaker"), seed=args.seed,
                  threshold=args.threshold, text_problems=traces[0].meta.get("text_problems", []))
    if ivs:
        what_if_cli.attach(result, base, tr)
    return result
