"""TTS: the lab's decoder loop (and the full trace) vs transformers' ``generate_speech`` on the
same model, text, speaker and seed.

Prints, per model, as ratios against ``generate_speech`` in the same run (median of 3 runs after
one warm-up, torch on ``--threads`` threads, default 1: the tiny model is dominated by per-op
overhead and two threads on a busy 2-core machine only add noise):
- ``loop``: ``lab.tts.loop.run`` (the same modules in the same order, plus cross-attention
  output and per-step records);
- ``trace``: ``lab.tts.trace_tts`` without a vocoder (loop + Trace building + diagonality);
- equal: the lab's post-net spectrogram ``torch.equal`` to ``generate_speech``'s.
Models: the tiny random demo model (always; its stop layer is biased low so it runs to the
maximum length: 10 steps per text token), the lab's default TTS model when there is one, and
any ``--model ID``. Never a test: wall time depends on the machine and its load.

    python benchmarks/bench_tts.py [--model ID] [--threads N] [--text TEXT]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPEATS, median_time  # noqa: E402 -- benchmarks/common.py

TEXT = "The quick brown fox jumps over the lazy dog."




def bench(model_id: str, text: str) -> dict:
    import torch

    from lab.tts import load_speaker, load_tts, loop, trace_tts

    loaded = load_tts(model_id)
    model = loaded.model
    ids = loaded.processor(text=text, return_tensors="pt")["input_ids"].to(next(model.parameters()).device)
    speaker = load_speaker(None, model.config.speaker_embedding_dim)[0].to(ids.device)
    settings = loop.LoopSettings(seed=0)

    def reference():
        torch.manual_seed(settings.seed)
        return model.generate_speech(ids, speaker, threshold=settings.threshold,
                                     minlenratio=settings.minlenratio, maxlenratio=settings.maxlenratio)

    t_ref, ref = median_time(reference)
    t_loop, res = median_time(lambda: loop.run(model, ids, speaker, settings))
    t_trace, tr = median_time(lambda: trace_tts(text, loaded, vocoder=None))
    return {"model": loaded.model_id, "tokens": ids.shape[1], "steps": len(res.steps),
            "frames": res.mel_post.shape[0], "stop": res.stop_reason, "generate_s": t_ref,
            "loop_s": t_loop, "trace_s": t_trace, "loop_ratio": t_loop / t_ref,
            "trace_ratio": t_trace / t_ref, "equal": bool(torch.equal(res.mel_post, ref)),
            "trace_equal": bool(torch.equal(tr["tts.mel_postnet"], ref)),
            "trace_mb": tr.nbytes() / 1e6}


def main(argv: list[str] | None = None) -> None:
    import torch

    from lab.models import DEFAULTS
    from lab.tts import TINY_ID

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=[])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--text", default=TEXT)
    args = p.parse_args(argv if argv is not None else [])
    torch.set_num_threads(args.threads)
    ids = list(dict.fromkeys([TINY_ID] + ([DEFAULTS["tts"]] if DEFAULTS.get("tts") else []) + args.model))
    print(f"text: {args.text!r}; torch threads: {torch.get_num_threads()}; median of {REPEATS}")
    print(f"{'model':<24} {'tok':>4} {'steps':>5} {'stop':<11} {'generate':>9} {'loop':>13} "
          f"{'trace':>13} {'equal':>6} {'trace MB':>8}")
    for mid in ids:
        try:
            r = bench(mid, args.text)
        except Exception as exc:  # a model not available here: say so, go on
            print(f"{mid:<24} skipped: {exc}")
            continue
        print(f"{r['model']:<24} {r['tokens']:>4} {r['steps']:>5} {r['stop']:<11} "
              f"{r['generate_s']:>8.3f}s {r['loop_s']:>7.3f}s x{r['loop_ratio']:<4.2f} "
              f"{r['trace_s']:>7.3f}s x{r['trace_ratio']:<4.2f} "
              f"{'yes' if r['equal'] and r['trace_equal'] else 'NO':>6} {r['trace_mb']:>8.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
