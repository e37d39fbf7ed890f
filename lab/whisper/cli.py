"""Whisper: greedy step-by-step decoding with attention, top-k, word timestamps, WER, beam tree."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import LabError
from ..trace import CapturePolicy

DEFAULT_MODEL = "whisper-tiny.en"


def add_arguments(p) -> None:
    p.add_argument("file", help="audio file (wav/flac/ogg/mp3); > 30 s runs Whisper's long-form algorithm")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model id or HF directory (default {DEFAULT_MODEL})")
    p.add_argument("--out", default=None, help="save the trace here (tensors.safetensors + trace.json; "
                                               "long audio: one sub-directory per window)")
    p.add_argument("--reference", default=None, help="reference text: adds word/char error rates")
    p.add_argument("--beam", type=int, default=None, help="also run beam search of this size")
    p.add_argument("--top-k", type=int, default=5, help="alternatives kept per step (default 5)")
    p.add_argument("--max-steps", type=int, default=None, help="decoder step limit (default: the model's)")
    p.add_argument("--language", default=None,
                   help="multilingual checkpoints: force this language (code or name, e.g. de); "
                        "default: the language step detects it")
    p.add_argument("--task", default=None, choices=["transcribe", "translate"],
                   help="multilingual checkpoints: transcribe (default) or translate to English")
    p.add_argument("--no-words", action="store_true", help="skip word timestamps")
    p.add_argument("--timestamps", action="store_true",
                   help="timestamp-token mode (<|0.00|> tokens -> segments; always on for > 30 s)")
    p.add_argument("--condition-on-prev", action="store_true",
                   help="> 30 s: feed the previous window's text as a prompt (condition_on_prev_tokens)")
    p.add_argument("--fallback", action="store_true",
                   help="> 30 s: openai transcribe()'s temperature fallback, thresholds and no-speech skip")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling at temperature > 0")
    from ..interventions import cli as what_if_cli

    what_if_cli.add_arguments(p, force_token=True)


def _steps(trace, window: int | None = None) -> list[dict]:
    out = []
    for s in trace.steps:
        d = {"index": s["index"], "token": s["token"], "token_id": s["token_id"], "prob": s["prob"],
             "top_k": s["top_k"]}
        if s.get("forced"):  # a what-if run: this token was forced, not chosen (--force-token)
            d.update(forced=True, model_token_id=s.get("model_token_id"))
        if window is not None:
            d["window"] = window
        out.append(d)
    return out


def _language(trace) -> dict:
    """The prompt and the language step of a trace, for the JSON: ``prompt`` [{token_id, token,
    role}], ``language`` (code or None), ``language_source`` (detected | forced | None),
    ``detected_language``, ``language_probs`` (top 10 [{language, name, prob}]), ``task``."""
    m = trace.meta
    return {"prompt": m.get("prompt"), "language": m.get("language"), "task": m.get("task"),
            "language_source": m.get("language_source"), "detected_language": m.get("detected_language"),
            "language_probs": m.get("language_probs", [])}


def _progress(k: int, seek_s: float, total_s: float) -> None:
    """The lab's own progress for long-form work (stderr; stdout keeps the JSON)."""
    print(f"audiolab: whisper window {k + 1} at {seek_s:.1f}/{total_s:.1f} s", file=sys.stderr, flush=True)


def run(args) -> dict:
    from ..audio import load_audio
    from ..models import load_cached
    from .constants import WINDOW_SECONDS
    from .long import trace_long
    from .tracer import trace_whisper

    if args.beam is not None and args.beam < 1:
        raise LabError(f"--beam must be >= 1, got {args.beam}")
    if args.out:
        from ..cli import out_dir

        out_dir(args.out)
    from ..interventions import cli as what_if_cli

    ivs = what_if_cli.interventions(args)
    audio = load_audio(args.file)
    loaded = load_cached(args.model, family="whisper")
    kw = dict(top_k=args.top_k, max_steps=args.max_steps, beam_size=args.beam,
              word_timestamps=not args.no_words, language=args.language, task=args.task)
    result = {"model": loaded.model_id, "weights_source": loaded.weights_source,
              "file": str(args.file), "seconds": round(audio.seconds, 3)}
    if audio.seconds <= WINDOW_SECONDS:
        tr = trace_whisper(audio, loaded, reference=args.reference, policy=CapturePolicy(),
                           timestamps=args.timestamps, **kw)
        if ivs:  # what-if: the JSON describes the changed run, + intervention and diff
            base, tr = tr, trace_whisper(audio, loaded, reference=args.reference, policy=CapturePolicy(),
                                         timestamps=args.timestamps, interventions=ivs, **kw)
        result.update(text=tr.meta["text"], tokens=tr.tokens, token_ids=tr.meta["token_ids"],
                      steps=_steps(tr), stop_reason=tr.meta["stop_reason"], words=tr.meta["words"],
                      **_language(tr))
        if args.timestamps:
            result["segments"] = tr.meta["segments"]
        if args.reference is not None:
            result["wer"] = tr.meta["wer"]
        if "beam" in tr.meta:
            b = tr.meta["beam"]
            result["beam"] = {k: b[k] for k in ("beam_size", "best_text", "best_tokens", "finished", "stop_reason")}
        if ivs:
            what_if_cli.attach(result, base, tr)
        if args.out:
            result["saved"] = str(tr.save(args.out))
        return result
    if ivs:
        raise LabError("what-if flags (--ablate / --force-token / --edit / --patch / --what-if) take one "
                       "<= 30 s window")
    from .long import OPENAI_DEFAULTS

    long_kw = dict(OPENAI_DEFAULTS) if args.fallback else {}
    if args.condition_on_prev:
        long_kw["condition_on_prev_tokens"] = True
    lr = trace_long(audio, loaded, reference=args.reference, progress=_progress, seed=args.seed,
                    **long_kw, **kw)
    result.update(text=lr.text, tokens=[t for tr in lr.traces for t in tr.tokens],
                  token_ids=[i for tr in lr.traces for i in tr.meta["token_ids"]],
                  steps=[s for k, tr in enumerate(lr.traces) for s in _steps(tr, k)],
                  stop_reason=[tr.meta["stop_reason"] for tr in lr.traces], words=lr.words,
                  windows=lr.windows, segments=lr.segments)
    if lr.traces:
        result.update(_language(lr.traces[0]))  # the language step ran on the first window
    if args.reference is not None:
        result["wer"] = lr.wer
    if args.out:
        for k, tr in enumerate(lr.traces):
            tr.save(Path(args.out) / f"window_{k:03d}")
        result["saved"] = str(args.out)
    return result
