"""Whisper: the lab's traced step-by-step decode vs ``model.generate()`` greedy on the same input.

Prints, per clip, as ratios against the uninstrumented model in the same run:
- time: ``trace_whisper`` (feature extraction + encoder with hooks + step-by-step greedy with
  attention capture + word timestamps) vs feature extraction + ``generate()`` greedy on the
  same eager-attention model (and on an sdpa model, the fast default); the process CPU time
  (``time.process_time``, one torch thread) of the fastest of 3 runs after a warm-up -- CPU time,
  because this machine is shared and wall time swings with the other jobs (wall is printed too);
  same tokens yes/no;
- peak memory: each mode runs in its own subprocess; after loading the model and a warm-up,
  the kernel's peak-RSS counter is reset (``/proc/self/clear_refs`` = 5) and the run's extra peak
  is ``VmHWM - VmRSS before``. This counts every allocation (torch's included; tracemalloc would
  miss them). The kept trace tensors (``Trace.nbytes``) are listed separately.
Reading the ratios: the lab's loop builds its suppression masks once while ``generate()`` rebuilds
them with ``torch.isin`` at every step, which pays for most of the capture overhead on tiny.en;
the memory of both eager modes is dominated by the encoder's transient 1500 x 1500 attention.
Never a test: wall time depends on the machine and its load.
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
CLIPS = ROOT / "assets" / "clips"
MODEL = "whisper-tiny.en"
MODES = ["generate_sdpa", "generate", "trace", "trace_light"]
REPEATS = 3


def _status() -> dict[str, int]:
    s = Path("/proc/self/status").read_text()
    return {k: int(re.search(k + r":\s+(\d+)", s).group(1)) * 1024 for k in ("VmRSS", "VmHWM")}


def _clip(name: str):
    """Audio of a clip; ``all`` = every committed clip back to back with 0.3 s gaps (~17 s)."""
    import numpy as np

    from lab.audio import Audio, load_audio

    if name != "all":
        return load_audio(CLIPS / name)
    gap = np.zeros(4800, np.float32)
    parts = []
    for p in sorted(CLIPS.glob("*.wav")):
        parts += [load_audio(p).samples, gap]
    return Audio(np.concatenate(parts), 16000, "all clips")


def measure(mode: str, clip: str) -> dict:
    """Run in a subprocess: time and extra peak memory of one mode on one clip."""
    import torch

    from lab.models import resolve
    from lab.trace import CapturePolicy
    from lab.whisper import trace_whisper
    from lab.whisper.capture import log_mel

    torch.set_num_threads(1)
    loaded = resolve(MODEL, family="whisper", attention=mode != "generate_sdpa")
    audio = _clip(clip)

    def run():
        if mode.startswith("generate"):
            x, _ = log_mel(audio, loaded.processor)
            with torch.no_grad():
                return loaded.model.generate(x)[0].tolist(), 0
        policy = CapturePolicy() if mode == "trace" else CapturePolicy(names=["decoder.logits"])
        tr = trace_whisper(audio, loaded, policy=policy)
        ids = tr.meta["token_ids"]
        return (ids[:-1] if ids and ids[-1] == 50256 else ids), tr.nbytes()

    run()  # warm-up
    cpu, wall = [], []
    for _ in range(REPEATS):
        t0, c0 = time.perf_counter(), time.process_time()
        tokens, kept = run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    import gc

    gc.collect()
    before = _status()["VmRSS"]
    Path("/proc/self/clear_refs").write_text("5")
    tokens, kept = run()
    peak = max(0, _status()["VmHWM"] - before)  # 0: the run needed no memory beyond what was resident
    return {"mode": mode, "clip": clip, "seconds": min(cpu), "wall": min(wall), "tokens": tokens,
            "extra_peak_bytes": peak, "trace_bytes": kept, "audio_seconds": round(audio.seconds, 2)}


def _sub(mode: str, clip: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", mode, clip], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if out.returncode != 0:
        raise RuntimeError(f"{mode} {clip} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    mb = 1024 * 1024
    print(f"model {MODEL}; time = process CPU seconds (1 torch thread), fastest of {REPEATS} runs after a "
          "warm-up; memory = extra peak RSS of one run in its own process (VmHWM after resetting it, "
          "minus VmRSS before); kept = tensors held by the trace")
    for clip in ["quick_brown_fox.wav", "all"]:
        r = {m: _sub(m, clip) for m in MODES}
        base, sdpa = r["generate"], r["generate_sdpa"]
        print(f"\n{clip} ({base['audio_seconds']} s, {len(base['tokens'])} tokens)")
        print(f"  {'mode':<14} {'cpu s':>7} {'x generate':>10} {'x sdpa':>7} {'wall s':>7} {'peak MB':>8} "
              f"{'x generate':>10} {'kept MB':>8}  same tokens")
        for m in MODES:
            d = r[m]
            print(f"  {m:<14} {d['seconds']:7.3f} {d['seconds'] / base['seconds']:10.2f} "
                  f"{d['seconds'] / sdpa['seconds']:7.2f} {d['wall']:7.2f} {d['extra_peak_bytes'] / mb:8.1f} "
                  f"{d['extra_peak_bytes'] / max(base['extra_peak_bytes'], 1):10.2f} "
                  f"{d['trace_bytes'] / mb:8.1f}  {'yes' if d['tokens'] == base['tokens'] else 'NO'}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
    else:
        main()
