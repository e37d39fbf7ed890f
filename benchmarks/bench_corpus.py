"""Corpus throughput: clips/s with 1 vs 2 workers on a 200-clip corpus, processes vs Ray Data, on
this machine; peak RSS per worker; store size per clip. The baseline is the uninstrumented model
(a plain forward pass per clip, no capture, no store) on the same clips in the same run.

Corpus: the 20 committed English held-out clips (1.4-2.3 s) copied 10 times. Model:
``BENCH_CORPUS_MODEL`` (default tiny-wav2vec2-ctc-en). Every configuration writes a fresh store.
Times include starting the workers and loading the model in each (what a corpus run costs).
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


def make_corpus(dest: Path) -> Path:
    import json

    src = ROOT / "assets" / "heldout" / "speech-en"
    dest.mkdir(parents=True, exist_ok=True)
    texts = json.loads((src / "texts.json").read_text())
    rows = ["file_name,transcription"]
    for k in range(N_COPIES):
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
    with torch.inference_mode():  # warm-up, not timed
        loaded.model(**fe(load_audio(files[0]).samples, sampling_rate=16000, return_tensors="pt"))
    t0 = time.perf_counter()
    with torch.inference_mode():
        for f in files:
            a = load_audio(f)
            x = fe(a.samples, sampling_rate=16000, return_tensors="pt")
            loaded.model(**x)
    return len(files) / (time.perf_counter() - t0)


def main() -> None:
    import psutil

    from lab.corpus import Store, run_corpus

    model = os.environ.get("BENCH_CORPUS_MODEL", "tiny-wav2vec2-ctc-en")
    tmp = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    corpus = make_corpus(tmp / "corpus")
    n = len(list(corpus.glob("*.flac")))
    print(f"corpus: {n} clips ({N_COPIES} x the 20 held-out clips), model {model}, "
          f"{os.cpu_count()} CPUs")
    base = plain_forward(corpus, model)
    configs = [("inline, 1 worker (this process)", dict(workers=1)),
               ("processes, 1 worker (2 torch threads)", dict(workers=1, processes=True, threads=2)),
               ("processes, 1 worker (1 torch thread)", dict(workers=1, processes=True, threads=1)),
               ("processes, 2 workers (1 torch thread each)", dict(workers=2)),
               ("ray, 1 actor (1 torch thread)", dict(workers=1, ray_address="local")),
               ("ray, 2 actors (1 torch thread each)", dict(workers=2, ray_address="local"))]
    try:
        import ray  # noqa: F401
    except ImportError:
        configs = [c for c in configs if "ray_address" not in c[1]]
        print("ray not installed (the [scale] extra): Ray rows skipped")
    rows = []
    for name, kw in configs:
        out = tmp / f"store-{len(rows)}"
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            res = run_corpus(corpus, [model], out, progress=False, **kw)
            dt = time.perf_counter() - t0
        assert res.done == n, (name, res.errors[:3])
        size = Store(out).size_bytes() / n / 2**20
        rows.append((name, n / dt, mem.workers(kw.get("workers", 1)), size, kw))
        shutil.rmtree(out, ignore_errors=True)
    if any("ray_address" in r[4] for r in rows):
        import ray

        ray.shutdown()
    print(f"uninstrumented model, plain forward, this process: {base:.1f} clips/s")
    print(f"this process RSS now: {psutil.Process().memory_info().rss / 2**20:.0f} MB")
    print(f"{'configuration':<45} {'clips/s':>8} {'vs plain':>9} {'vs 1 worker':>12} "
          f"{'worker peak RSS MB':>20} {'store MB/clip':>14}")
    one = {"processes": rows[1][1], "ray": next((r[1] for r in rows if r[0].startswith("ray, 1")), None),
           "inline": rows[0][1]}
    for name, cps, rss, size, kw in rows:
        ref = one["ray"] if "ray_address" in kw else (one["processes"] if kw.get("processes") or
                                                      kw.get("workers", 1) > 1 else one["inline"])
        mem = ", ".join(f"{m:.0f}" for m in rss) if rss else "(this process)"
        print(f"{name:<45} {cps:8.1f} {cps / base:9.2f} {cps / ref:12.2f} {mem:>20} {size:14.2f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
