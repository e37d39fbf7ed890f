"""Interventions: what a what-if costs, as ratios against the uninstrumented run in the same process.

Two tables (torch on ``--threads`` threads, default 1: a shared 2-core machine; plain runs are the
median of 3 after one warm-up, a sweep is timed once after the warm-up of its model):

1. **Head-importance sweep** (``lab.interventions.sweep.head_importance``) on Whisper tiny.en and
   base, for a 5 s clip (the committed fox sentence tiled, ``benchmarks.common.tiled_speech``),
   against one uninstrumented ``model.generate()`` of the clip (greedy): the decoder
   cross-attention sweep (layers x heads teacher-forced decoder passes, the encoder run once) and
   the encoder-attention sweep (the encoder re-run per head; skipped with ``--quick``, base too).
2. **what_if() per family**, ablating one attention head, against the plain trace of the same
   input: ``traced`` = one trace with the ablation (the hooks' cost), ``what_if`` = the unchanged
   trace + the changed trace + the diff (what the app's What-if panel runs). Models: whisper-tiny.en
   (fox clip), whisper-tiny.en-ctc (fox clip), tiny-speecht5-tts-en (a sentence, no vocoder),
   tiny-ast-sounds (a speech + siren scene).

    python benchmarks/bench_interventions.py [--quick] [--threads N]

``make bench`` runs it (``benchmarks/run.py`` runs every ``bench_*.py``). Never a test: wall time
depends on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import REPEATS, median_time  # noqa: E402 -- benchmarks/common.py
CLIPS = ROOT / "assets" / "clips"
SWEEP_MODELS = ["whisper-tiny.en", "whisper-base"]
TTS_TEXT = "The birch canoe slid on the smooth planks."




def _once(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def sweep_rows(model_id: str, seconds: float, encoder: bool) -> dict:
    import torch

    from common import tiled_speech
    from lab.audio import Audio
    from lab.interventions.sweep import head_importance
    from lab.models import load_cached
    from lab.whisper import trace_whisper

    loaded = load_cached(model_id, family="whisper")
    model, proc = loaded.model, loaded.processor
    samples = tiled_speech(seconds)
    feats = proc(samples, sampling_rate=16000, return_tensors="pt").input_features.to(model.dtype)

    def generate():
        with torch.no_grad():
            return model.generate(feats)

    t_gen, ids = median_time(generate)
    trace = trace_whisper(Audio(samples, 16000, source=f"fox x {seconds:g} s"), loaded, word_timestamps=False)
    c = model.config
    row = {"model": model_id, "seconds": seconds, "tokens": len(trace.meta["token_ids"]),
           "generate_tokens": int(ids.shape[-1]), "generate_s": t_gen,
           "cross_heads": c.decoder_layers * c.decoder_attention_heads,
           "enc_heads": c.encoder_layers * c.encoder_attention_heads}
    head_importance(trace, loaded, part="decoder.layers.{i}.cross_attn")  # warm-up
    row["cross_s"], sw = _once(lambda: head_importance(trace, loaded, part="decoder.layers.{i}.cross_attn"))
    row["cross_top"] = _top(sw)
    if encoder:
        row["enc_s"], sw = _once(lambda: head_importance(trace, loaded, part="encoder.layers.{i}.attn"))
        row["enc_top"] = _top(sw)
    return row


def _top(sweep) -> str:
    d = sweep.delta
    i = int(d.argmin())
    return f"L{i // d.shape[1]}h{i % d.shape[1]} {float(d.flatten()[i]):+.1f}"


def family_rows() -> list[dict]:
    from lab.interventions import Ablate
    from lab.interventions.run import tracer, what_if
    from lab.models import load_cached
    from lab.tts import load_tts

    fox = CLIPS / "quick_brown_fox.wav"
    cases = [
        ("whisper", "whisper-tiny.en", fox, Ablate("decoder.layers.2.cross_attn", heads=(0,)),
         dict(word_timestamps=False)),
        ("ctc", "whisper-tiny.en-ctc", fox, Ablate("encoder.layers.1.attn", heads=(0,)), {}),
        ("tts", "tiny-speecht5-tts-en", TTS_TEXT, Ablate("decoder.layers.1.cross_attn", heads=(1,)),
         dict(vocoder=None)),
        ("classify", "tiny-ast-sounds", CLIPS / "scenes" / "speech_siren.wav",
         Ablate("encoder.layers.2.attn", heads=(2,)), {}),
    ]
    rows = []
    for family, mid, x, iv, kw in cases:
        try:
            loaded = load_tts(mid) if family == "tts" else load_cached(mid, family=family)
        except Exception as exc:  # a model not available here: say so, go on
            rows.append({"family": family, "model": mid, "skipped": str(exc)[:80]})
            continue
        run = tracer(family)
        t_plain, _ = median_time(lambda: run(x, loaded, **kw))
        t_iv, _ = median_time(lambda: run(x, loaded, interventions=[iv], **kw))
        t_wi, w = median_time(lambda: what_if(family, x, loaded, [iv], **kw))
        rows.append({"family": family, "model": mid, "ablate": f"{iv.target}.heads={list(iv.heads)}",
                     "plain_s": t_plain, "traced_s": t_iv, "what_if_s": t_wi,
                     "changed": bool(w.diff["changed"])})
    return rows


def main(argv: list[str] | None = None) -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny.en only, no encoder sweep")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5.0)
    args, _ = p.parse_known_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}; plain runs: median of {REPEATS} after a warm-up; "
          "sweeps: one run after a warm-up")

    print(f"\nhead-importance sweep, {args.seconds:g} s clip, vs one uninstrumented generate()")
    print(f"{'model':<16} {'tokens':>6} {'generate':>9} {'cross-attn sweep':>24} {'encoder sweep':>24}  most important")
    for mid in SWEEP_MODELS[:1] if args.quick else SWEEP_MODELS:
        try:
            r = sweep_rows(mid, args.seconds, encoder=not args.quick)
        except Exception as exc:
            print(f"{mid:<16} skipped: {exc}")
            continue
        cross = f"{r['cross_heads']} heads {r['cross_s']:6.2f}s x{r['cross_s'] / r['generate_s']:<5.1f}"
        enc = (f"{r['enc_heads']} heads {r['enc_s']:6.2f}s x{r['enc_s'] / r['generate_s']:<5.1f}"
               if "enc_s" in r else "-")
        print(f"{mid:<16} {r['tokens']:>6} {r['generate_s']:>8.3f}s {cross:>24} {enc:>24}  "
              f"cross {r['cross_top']}" + (f", enc {r['enc_top']}" if "enc_top" in r else ""))

    print("\nwhat_if() with one head ablated, vs the plain trace of the same input")
    print(f"{'family':<9} {'model':<22} {'plain':>8} {'traced':>15} {'what_if':>15}  changed  ablated")
    for r in family_rows():
        if "skipped" in r:
            print(f"{r['family']:<9} {r['model']:<22} skipped: {r['skipped']}")
            continue
        print(f"{r['family']:<9} {r['model']:<22} {r['plain_s']:>7.3f}s "
              f"{r['traced_s']:>7.3f}s x{r['traced_s'] / r['plain_s']:<5.2f} "
              f"{r['what_if_s']:>7.3f}s x{r['what_if_s'] / r['plain_s']:<5.2f}  "
              f"{'yes' if r['changed'] else 'no':<7}  {r['ablate']}")


if __name__ == "__main__":
    main()
