"""CTC capture overhead: ``trace_ctc`` (default policy) vs the plain forward, 30 s of audio,
base-sized random-weight Wav2Vec2ForCTC (768 x 12 layers x 12 heads, eager attention).

Time: median of ``REPEATS`` alternating runs in one process; plain = feature extractor +
``model(input_values)``, traced = ``trace_ctc`` (feature extractor, hooks, forward, collapse).
Memory: each mode in a fresh subprocess (peak RSS, ``ru_maxrss``): the ratio of whole-process
peaks and the ratio of the forward's increment over the loaded model.
Goal (issue 3): <= 1.05 time, <= 1.2 memory.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from common import tiled_speech  # noqa: E402
SECONDS = 30.0
REPEATS = 3


def _audio():
    return tiled_speech(SECONDS)


def _model():
    import torch

    from lab.ctc import tiny

    torch.manual_seed(0)
    return tiny.loaded("wav2vec2", base_size=True)


def _plain(loaded, x):
    import torch

    fe = loaded.processor.feature_extractor
    inp = fe(x, sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        return loaded.model(**inp).logits


def _traced(loaded, x):
    from lab.ctc.capture import trace_ctc

    return trace_ctc((16000, x), loaded)


def _hwm_mb() -> float:
    """Peak resident memory since the last :func:`_reset_peak` (Linux ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> float:
    """Reset the peak-RSS counter to the current RSS (``/proc/self/clear_refs`` 5); returns it."""
    import gc

    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    return _hwm_mb()


def child(mode: str) -> None:
    """One run in this process; prints {base_mb, peak_mb, extra}."""
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    loaded, x = _model(), _audio()
    base = _reset_peak()  # model init peaks higher than the forward: measure from here
    out = (_plain if mode == "plain" else _traced)(loaded, x)
    extra = {}
    if mode == "traced":
        extra = {"trace_mb": out.nbytes() / 2**20, "policy": out.meta["policy"]}
    print(json.dumps({"base_mb": base, "peak_mb": _hwm_mb(), **extra}))


def _memory(mode: str) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", mode], capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    loaded, x = _model(), _audio()
    _plain(loaded, x)  # warm-up (allocator, kernels)
    times = {"plain": [], "traced": []}
    for _ in range(REPEATS):
        for mode, fn in (("plain", _plain), ("traced", _traced)):
            t0 = time.perf_counter()
            fn(loaded, x)
            times[mode].append(time.perf_counter() - t0)
    tp, tt = statistics.median(times["plain"]), statistics.median(times["traced"])
    del loaded
    mp, mt = _memory("plain"), _memory("traced")
    inc_p, inc_t = mp["peak_mb"] - mp["base_mb"], mt["peak_mb"] - mt["base_mb"]
    print(f"wav2vec2 base (random weights), {SECONDS:.0f} s audio, torch threads {os.cpu_count()}")
    print(f"  {mt['policy']}; the trace holds {mt['trace_mb']:.0f} MB")
    print(f"  time   plain {tp:.2f} s  traced {tt:.2f} s  ratio {tt / tp:.3f}  (goal <= 1.05; runs "
          f"plain {[round(t, 2) for t in times['plain']]}, traced {[round(t, 2) for t in times['traced']]})")
    print(f"  memory peak RSS plain {mp['peak_mb']:.0f} MB  traced {mt['peak_mb']:.0f} MB  ratio "
          f"{mt['peak_mb'] / mp['peak_mb']:.3f}  (goal <= 1.2)")
    print(f"  memory forward increment over the loaded model: plain {inc_p:.0f} MB  traced {inc_t:.0f} MB"
          f"  ratio {inc_t / max(inc_p, 1):.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
