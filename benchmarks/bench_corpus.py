"""Corpus throughput: clips/s with 1 vs 2 workers on a 200-clip corpus, processes vs Ray Data, on
this machine; peak RSS per worker; store size per clip. The baseline is the uninstrumented model
(a plain forward pass per clip, no capture, no store) on the same clips in the same run.

Corpus: the 20 committed English held-out clips (1.4-2.3 s) copied N times. Models:
``BENCH_CORPUS_MODELS`` (see :func:`main`). Every configuration writes a fresh store. "clips/s"
includes starting the workers and loading the model in each (what a corpus run costs); "steady"
leaves that out; the local Ray cluster is started once before the Ray rows (a cluster is up before
a job is submitted to it) and its start-up printed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_COPIES = int(os.environ.get("BENCH_CORPUS_COPIES", "10"))  # 10 x 20 clips = 200


def make_corpus(dest: Path, copies: int = N_COPIES) -> Path:
    import json

    src = ROOT / "assets" / "heldout" / "speech-en"
    dest.mkdir(parents=True, exist_ok=True)
    texts = json.loads((src / "texts.json").read_text())
    rows = ["file_name,transcription"]
    for k in range(copies):
        for name, v in sorted(texts.items()):
            new = f"c{k:02d}-{name}"
            shutil.copy(src / name, dest / new)
            rows.append(f"{new},{v['text']}")
    (dest / "metadata.csv").write_text("\n".join(rows) + "\n")
    return dest


class PeakRSS:
    """Peak RSS (MB) of each worker process (descendants of this process running a spawned
    multiprocessing worker or a Ray actor), sampled every 0.2 s."""

    def __init__(self):
        self.peak: dict[int, float] = {}
        self._stop = threading.Event()

    def _sample(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            for p in me.children(recursive=True):
                try:
                    cmd = " ".join(p.cmdline())
                    if "spawn_main" in cmd or "ray::" in cmd or "default_worker" in cmd:
                        self.peak[p.pid] = max(self.peak.get(p.pid, 0), p.memory_info().rss / 2**20)
                except Exception:  # noqa: BLE001 -- a process that just ended
                    pass
            time.sleep(0.2)

    def __enter__(self):
        self._t = threading.Thread(target=self._sample, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def workers(self, top: int) -> list[float]:
        return sorted(self.peak.values(), reverse=True)[:top]


def plain_forward(corpus: Path, model_id: str) -> float:
    """clips/s of the uninstrumented model: load, feature-extract, forward; nothing kept."""
    import torch

    from lab.audio import load_audio
    from lab.models import load_cached

    loaded = load_cached(model_id, attention=False)
    fe = getattr(loaded.processor, "feature_extractor", loaded.processor)
    files = sorted(corpus.glob("*.flac"))
    def run(f):
        x = fe(load_audio(f).samples, sampling_rate=16000, return_tensors="pt")
        if loaded.family == "whisper":  # the uninstrumented path is generate()
            loaded.model.generate(x.input_features)
        else:
            loaded.model(**x)

    with torch.inference_mode():  # warm-up, not timed
        run(files[0])
    t0 = time.perf_counter()
    with torch.inference_mode():
        for f in files:
            run(f)
    return len(files) / (time.perf_counter() - t0)


def bench_model(model: str, copies: int, tmp: Path) -> None:
    """Every configuration on ``copies`` x the 20 held-out clips with ``model``; prints a table."""
    import psutil

    from lab.corpus import Store, run_corpus

    corpus = make_corpus(tmp / f"corpus-{copies}", copies)
    n = len(list(corpus.glob("*.flac")))
    print(f"\n== {model}: {n} clips ({copies} x the 20 held-out clips), {os.cpu_count()} CPUs")
    base = plain_forward(corpus, model)
    configs = [("inline, 1 worker (this process)", dict(workers=1)),
               ("processes, 1 worker (2 torch threads)", dict(workers=1, processes=True, threads=2)),
               ("processes, 1 worker (1 torch thread)", dict(workers=1, processes=True, threads=1)),
               ("processes, 2 workers (1 torch thread each)", dict(workers=2)),
               ("ray, 1 actor (1 torch thread)", dict(workers=1, ray_address="local")),
               ("ray, 2 actors (1 torch thread each)", dict(workers=2, ray_address="local"))]
    try:
        import ray
    except ImportError:
        configs = [c for c in configs if "ray_address" not in c[1]]
        print("ray not installed (the [scale] extra): Ray rows skipped")
    else:  # a cluster is started once, not per corpus run: its start-up is reported, not counted
        if not ray.is_initialized():
            t0 = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            print(f"local Ray cluster started in {time.perf_counter() - t0:.1f} s (not in the Ray rows)")
    rows = []
    for name, kw in configs:
        out = tmp / f"store-{len(rows)}"
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            res = run_corpus(corpus, [model], out, progress=False, **kw)
            dt = time.perf_counter() - t0
        assert res.done == n, (name, res.errors[:3])
        size = Store(out).size_bytes() / n / 2**20
        rows.append((name, n / dt, mem.workers(kw.get("workers", 1)), size, kw,
                     res.steady_rate(), res.arrivals[0] - res.started))
        shutil.rmtree(out, ignore_errors=True)
    print(f"uninstrumented model ({'generate()' if 'whisper' in model else 'plain forward'}), this "
          f"process: {base:.2f} clips/s; this process RSS now: {psutil.Process().memory_info().rss / 2**20:.0f} MB")
    print("clips/s: whole run (worker start-up and model load included) | steady: after the first quarter "
          "of the rows (every worker up); 'vs 1': against the same engine's 1-worker, 1-thread row")
    print(f"{'configuration':<45} {'clips/s':>8} {'vs 1':>6} {'steady':>7} {'vs 1':>6} "
          f"{'first row s':>11} {'vs plain':>9} {'worker peak RSS MB':>20} {'store MB/clip':>14}")

    def ref_of(name):
        key = "ray, 1" if name.startswith("ray") else ("processes, 1 worker (1" if name.startswith("processes")
                                                       else "inline")
        return next(r for r in rows if r[0].startswith(key))

    for name, cps, rss, size, kw, steady, first in rows:
        ref = ref_of(name)
        mem = ", ".join(f"{m:.0f}" for m in rss) if rss else "(this process)"
        st = f"{steady:7.2f} {steady / ref[5]:6.2f}" if steady and ref[5] else f"{'-':>7} {'-':>6}"
        print(f"{name:<45} {cps:8.2f} {cps / ref[1]:6.2f} {st} {first:11.1f} {cps / base:9.2f} "
              f"{mem:>20} {size:14.2f}")


def main() -> None:
    """``BENCH_CORPUS_MODELS``: ``model:copies,...`` (default: the tiny zoo CTC model on 200 clips, whose
    per-clip work is small next to tracing and storing, and Whisper tiny.en on 40, which is compute-bound)."""
    spec = os.environ.get("BENCH_CORPUS_MODELS", f"tiny-wav2vec2-ctc-en:{N_COPIES},whisper-tiny.en:2")
    tmp = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    try:
        for item in spec.split(","):
            model, _, copies = item.partition(":")
            bench_model(model.strip(), int(copies or N_COPIES), tmp)
    finally:
        try:
            import ray

            ray.shutdown()
        except ImportError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
