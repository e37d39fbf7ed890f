"""AST capture overhead: ``trace_ast`` vs the plain forward on 10 s of audio, base-sized
random-weight ASTForAudioClassification (768 x 12 layers x 12 heads, 1024 frames -> 1214 tokens,
527 labels, eager attention).

Modes: ``plain`` = feature extractor + ``model(input_values)``; ``traced`` = ``trace_ast`` with
the default policy (every layer's per-head attention kept at fp16: 12 x 12 x 1214^2 x 2 bytes =
424 MB, plus the head-mean maps, rollout, patches ...); ``lean`` = ``trace_ast`` with the app's
policy (no per-head patterns; rollout, CLS attention and head-mean maps still computed).
Time: median of ``REPEATS`` alternating runs in one process. Memory: each mode in a fresh
subprocess, peak RSS (``VmHWM`` reset after the model is built): whole-process ratio and the
forward's increment over the loaded model.
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
SECONDS = 10.0
REPEATS = 3
MODES = ("plain", "traced", "lean")


def _audio():
    return tiled_speech(SECONDS)


def _model():
    """A base-sized AST with random weights, wrapped as a ``lab.models.Loaded``."""
    import torch
    import transformers as T

    from lab.models import Loaded

    torch.manual_seed(0)
    cfg = T.ASTConfig(num_labels=527, attn_implementation="eager")
    model = T.ASTForAudioClassification(cfg).eval()
    fe = T.ASTFeatureExtractor()
    return Loaded(model=model, processor=fe, model_id="ast-base-random", family="classify",
                  weights_source="random weights (benchmark)", path="", device=torch.device("cpu"))


def _plain(loaded, x):
    import torch

    inp = loaded.processor(x, sampling_rate=16000, return_tensors="pt")
    with torch.inference_mode():
        return loaded.model(**inp).logits


def _traced(loaded, x):
    from lab.classify import trace_ast

    return trace_ast((16000, x), loaded)


def _lean(loaded, x):
    from apps.classify_tab import APP_POLICY
    from lab.classify import trace_ast

    return trace_ast((16000, x), loaded, policy=APP_POLICY)


RUN = {"plain": _plain, "traced": _traced, "lean": _lean}


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> float:
    """Reset the peak-RSS counter to the current RSS (``/proc/self/clear_refs`` 5); returns it."""
    import gc

    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not resettable here: the peak then includes model construction
    return _hwm_mb()


def child(mode: str) -> None:
    """One run in this process; prints {base_mb, peak_mb, trace_mb}."""
    loaded, x = _model(), _audio()
    base = _reset_peak()
    out = RUN[mode](loaded, x)
    trace_mb = out.nbytes() / 2**20 if mode != "plain" else 0.0
    print(json.dumps({"base_mb": base, "peak_mb": _hwm_mb(), "trace_mb": trace_mb}))


def _memory(mode: str) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", mode], capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    import torch

    loaded, x = _model(), _audio()
    _plain(loaded, x)  # warm-up
    times = {m: [] for m in MODES}
    for _ in range(REPEATS):
        for mode in MODES:
            t0 = time.perf_counter()
            RUN[mode](loaded, x)
            times[mode].append(time.perf_counter() - t0)
    med = {m: statistics.median(v) for m, v in times.items()}
    del loaded
    mem = {m: _memory(m) for m in MODES}
    inc = {m: mem[m]["peak_mb"] - mem[m]["base_mb"] for m in MODES}
    print(f"AST base (random weights), {SECONDS:.0f} s audio -> 1024 frames, 1214 tokens; "
          f"torch threads {torch.get_num_threads()}")
    for m in ("traced", "lean"):
        print(f"  {m:<6} time {med[m]:.2f} s vs plain {med['plain']:.2f} s  ratio "
              f"{med[m] / med['plain']:.3f}   (runs {[round(t, 2) for t in times[m]]}, plain "
              f"{[round(t, 2) for t in times['plain']]})")
        print(f"  {m:<6} peak RSS {mem[m]['peak_mb']:.0f} MB vs plain {mem['plain']['peak_mb']:.0f} MB "
              f"ratio {mem[m]['peak_mb'] / mem['plain']['peak_mb']:.3f}; forward increment "
              f"{inc[m]:.0f} MB vs {inc['plain']:.0f} MB ratio {inc[m] / max(inc['plain'], 1):.3f}; "
              f"trace holds {mem[m]['trace_mb']:.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
