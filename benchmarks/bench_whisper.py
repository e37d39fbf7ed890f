"""Whisper: the lab's traced decodes vs the uninstrumented ``model.generate()`` on the same input.

Rows (real offline models tiny.en and base; every row a ratio against ``generate()`` measured in
the same run on the same input, plus "same tokens" yes/no):

- ``greedy``: ``trace_whisper`` (log-mel, encoder with hooks, step-by-step greedy capturing every
  layer's attention, word timestamps; default policy = everything) vs log-mel + ``generate()``,
  on the first 28 s of ``assets/clips/long/lecture_2min.wav``;
- ``beam``: ``trace_whisper(beam_size=5)`` (all of the above, then the beam search with its tree)
  and ``beam_tree`` (log-mel + encoder + ``lab.whisper.beam.beam_search`` alone) vs log-mel +
  ``generate(num_beams=5)``, same 28 s; same tokens = the tree's best hypothesis;
- ``long``: ``trace_long`` (Whisper's sequential long-form algorithm, every window traced, lean
  default policy) vs ``processor(truncation=False, padding="longest")`` + ``generate(
  return_timestamps=True, attention_mask)`` on the whole 137 s lecture clip;
- ``long10``: peak memory of a 10-minute ``trace_long`` (tiny.en, default policy; the lecture clip
  tiled to 600 s in memory) beside ``generate()`` long-form's: extra peak RSS and the bytes the
  traces keep (``LongResult.nbytes``); skipped with ``--quick``;
- ``e2e10``: a 10 s clip (the lecture's first 10 s) traced end to end on whisper-base with the
  default torch threads: wall seconds, ``generate()`` beside.

How: each (row, model, mode) runs in its own subprocess (load, warm-up on the same input, then
the runs). Time = process CPU seconds with one torch thread (``time.process_time``; this machine
is shared, CPU time does not swing with the other jobs' load; wall is printed too), the fastest of
``REPEATS`` runs (1 for the long rows). Memory: after the warm-up the kernel's peak-RSS counter is
reset (``/proc/self/clear_refs`` = 5); the run's extra peak = ``VmHWM - VmRSS before``.
Never a test: times depend on the machine.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LECTURE = ROOT / "assets" / "clips" / "long" / "lecture_2min.wav"
MODELS = ["whisper-tiny.en", "whisper-base"]
REPEATS = 3
MB = 1024 * 1024


def _status() -> dict[str, int]:
    s = Path("/proc/self/status").read_text()
    return {k: int(re.search(k + r":\s+(\d+)", s).group(1)) * 1024 for k in ("VmRSS", "VmHWM")}


def _audio(row: str):
    """The input of a row: 28 s / 10 s of the lecture, the whole lecture, or it tiled to 10 min."""
    import numpy as np

    from lab.audio import Audio, load_audio

    s = load_audio(LECTURE).samples
    seconds = {"greedy": 28, "beam": 28, "e2e10": 10, "long": None, "long10": 600}[row]
    if seconds is None:
        return Audio(s, 16000, "lecture")
    n = seconds * 16000
    return Audio(np.tile(s, n // len(s) + 1)[:n].astype(np.float32), 16000, f"lecture[{seconds}s]")


def _strip(ids: list[int], sot: int, eos: int, pad: int | None, timestamps: bool = False) -> list[int]:
    """Generated tokens without a leading prompt (``generate()`` returns it in some modes: sot,
    language, task, no-timestamps -- special ids above eos; rows without timestamps only) and
    without the trailing eos / padding."""
    ids = list(ids)
    if not timestamps and ids and ids[0] == sot:
        while ids and ids[0] > eos:
            ids.pop(0)
    while ids and ids[-1] in (eos, pad):
        ids.pop()
    return ids


def _runner(row: str, mode: str, loaded, audio):
    """A function running one mode once -> (tokens, bytes kept by the trace)."""
    import torch

    from lab.whisper import trace_whisper
    from lab.whisper.capture import log_mel

    model, tok = loaded.model, loaded.processor.tokenizer

    if row in ("long", "long10"):
        from lab.whisper.long import trace_long

        if mode == "generate":
            def run():
                p = loaded.processor(audio.samples, sampling_rate=16000, truncation=False, padding="longest",
                                     return_attention_mask=True, return_tensors="pt")
                with torch.no_grad():
                    out = model.generate(p.input_features, attention_mask=p.attention_mask, return_timestamps=True)
                seq = (out["sequences"] if isinstance(out, dict) else out)[0].tolist()
                return seq, 0
        else:
            def run():
                res = trace_long(audio, loaded)
                return res.token_ids, res.nbytes()
        return run

    beams = 5 if row == "beam" else 1
    if mode == "generate":
        def run():
            x, _ = log_mel(audio, loaded.processor)
            with torch.no_grad():
                out = model.generate(x, num_beams=beams) if beams > 1 else model.generate(x)
            return out[0].tolist(), 0
        return run
    if mode == "beam_tree":
        from lab.whisper.beam import beam_search
        from lab.whisper.decode import build_prompt

        def run():
            x, _ = log_mel(audio, loaded.processor)
            with torch.no_grad():
                enc = model.model.encoder(x).last_hidden_state
            b = beam_search(model, tok, enc, build_prompt(model, tok, enc), beam_size=beams)
            return b["best_tokens"], 0
        return run

    def run():
        tr = trace_whisper(audio, loaded, beam_size=beams if beams > 1 else None)
        ids = tr.meta["beam"]["best_tokens"] if beams > 1 else tr.meta["token_ids"]
        return ids, tr.nbytes()
    return run


def measure(row: str, model_id: str, mode: str) -> dict:
    """In a subprocess: CPU/wall seconds, tokens and extra peak memory of one mode."""
    import gc

    import torch

    from lab.models import load_cached

    if row != "e2e10":
        torch.set_num_threads(1)
    loaded = load_cached(model_id, family="whisper")
    audio = _audio(row)
    run = _runner(row, mode, loaded, audio)
    gen = loaded.model.generation_config
    warm = _audio("e2e10") if row == "long10" else audio  # a 10 min warm-up would double the row
    _runner(row, mode, loaded, warm)()
    repeats = 1 if row in ("long", "long10") else REPEATS
    cpu, wall = [], []
    gc.collect()
    before = _status()["VmRSS"]
    Path("/proc/self/clear_refs").write_text("5")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        tokens, kept = run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    peak = max(0, _status()["VmHWM"] - before)
    tokens = _strip(tokens, int(gen.decoder_start_token_id), int(gen.eos_token_id), gen.pad_token_id,
                    timestamps=row in ("long", "long10"))
    return {"row": row, "model": model_id, "mode": mode, "cpu": min(cpu), "wall": min(wall), "tokens": tokens,
            "extra_peak_bytes": peak, "trace_bytes": kept, "audio_seconds": round(audio.seconds, 2),
            "threads": torch.get_num_threads()}


def _sub(row: str, model_id: str, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", row, model_id, mode], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if out.returncode != 0:
        raise RuntimeError(f"{row} {model_id} {mode} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _print(rows: list[dict], base: dict) -> None:
    for d in rows:
        same = "yes" if d["tokens"] == base["tokens"] else "NO"
        print(f"  {d['model']:<16} {d['mode']:<12} {d['cpu']:8.2f} {d['cpu'] / base['cpu']:11.2f} "
              f"{d['wall']:7.2f} {d['extra_peak_bytes'] / MB:8.1f} {d['trace_bytes'] / MB:8.1f}  {same}",
              flush=True)


PLAN = [("greedy", ["generate", "trace"]), ("beam", ["generate", "trace", "beam_tree"]),
        ("long", ["generate", "trace"])]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    print(f"cpu = process CPU seconds, 1 torch thread, fastest of {REPEATS} runs after a warm-up (long rows: "
          "1 run); x gen = cpu / generate()'s cpu on the same input in the same run; peak = extra peak RSS of "
          "the runs in their own process; kept = tensors held by the trace; same = same tokens as generate()")
    header = (f"  {'model':<16} {'mode':<12} {'cpu s':>8} {'x generate':>11} {'wall s':>7} {'peak MB':>8} "
              f"{'kept MB':>8}  same")
    titles = {"greedy": "greedy, lecture first 28 s: trace_whisper vs generate()",
              "beam": "beam 5, lecture first 28 s: trace_whisper(beam_size=5) / beam_search alone vs "
                      "generate(num_beams=5)",
              "long": "long-form, lecture_2min.wav (137 s): trace_long vs generate(return_timestamps=True)"}
    for row, modes in PLAN:
        print(f"\n{titles[row]}\n{header}", flush=True)
        for model_id in MODELS:
            r = [_sub(row, model_id, m) for m in modes]
            _print(r, r[0])
    print("\n10 s clip traced end to end on whisper-base (default torch threads; wall seconds)", flush=True)
    r = [_sub("e2e10", "whisper-base", m) for m in ("generate", "trace")]
    for d in r:
        print(f"  {d['mode']:<10} wall {d['wall']:6.2f} s   cpu {d['cpu']:6.2f} s   threads {d['threads']}   "
              f"same tokens {'yes' if d['tokens'] == r[0]['tokens'] else 'NO'}", flush=True)
    if quick:
        print("\n10-minute long-form memory: skipped (--quick)")
        return
    print("\n10-minute long-form (lecture tiled to 600 s), whisper-tiny.en, default lean policy\n" + header, flush=True)
    r = [_sub("long10", "whisper-tiny.en", m) for m in ("generate", "trace")]
    _print(r, r[0])
    t = r[1]
    print(f"  trace_long keeps {t['trace_bytes'] / MB:.0f} MB of tensors for {t['audio_seconds'] / 60:.0f} min "
          f"({t['trace_bytes'] / MB / (t['audio_seconds'] / 60):.0f} MB per minute of audio); extra peak RSS "
          f"{t['extra_peak_bytes'] / MB:.0f} MB", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        main()
