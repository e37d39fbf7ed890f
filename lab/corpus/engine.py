"""Run a corpus: every clip x every model, inline, in worker processes, or on Ray Data.

All three call :func:`lab.corpus.clip.trace_clip` through :class:`Worker` (loads each model once,
traces a clip, saves its Trace into the store, returns the row). The driver writes the rows as
Parquet parts every ``flush_every`` rows and shows a tqdm bar (clips/s, ETA) on stderr.

- ``workers <= 1`` and no Ray: inline, in this process.
- ``workers = N``: a ``ProcessPoolExecutor`` of N spawned processes, each with
  ``torch.set_num_threads(max(1, cpus // N))``.
- ``ray_address`` (``"local"`` = start a local Ray, ``"auto"`` or ``ray://host:port``): Ray Data
  ``from_items(...).map_batches(RayTracer, compute=ActorPoolStrategy(size=N), num_gpus=...)``, one Worker per actor.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

from .clip import empty_row, trace_clip
from .source import Clip, read_corpus
from .store import Store


@dataclass
class RunResult:
    store: Store
    done: int = 0          # traced now, without error
    failed: int = 0        # recorded with an error now
    skipped: int = 0       # finished by an earlier run
    errors: list[dict] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # perf_counter() when each row reached the driver
    started: float = 0.0                                 # perf_counter() when the run started

    def steady_rate(self, skip: float = 0.25) -> float | None:
        """Rows/s after start-up: over the rows after the first ``skip`` fraction arrived (every
        worker has loaded its model by then), so start-up (spawn, imports, model load) is left out.
        None with fewer than 8 rows."""
        t = self.arrivals
        if len(t) < 8:
            return None
        k = max(1, int(len(t) * skip))
        return (len(t) - 1 - k) / (t[-1] - t[k]) if t[-1] > t[k] else None

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


class Worker:
    """Loads models lazily, once; ``__call__(model_id, clip) -> row`` traces and stores."""

    def __init__(self, store_path: str, threads: int | None = None):
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.store = Store(store_path)
        self.models: dict = {}

    def loaded(self, model_id: str):
        if model_id not in self.models:
            from ..models import load_cached

            self.models[model_id] = load_cached(model_id)
        return self.models[model_id]

    def __call__(self, model_id: str, clip: Clip) -> dict:
        try:
            loaded = self.loaded(model_id)
        except Exception as exc:  # noqa: BLE001 -- a model that does not load: every row says so
            row = empty_row(clip, model_id)
            row["error"] = f"{type(exc).__name__}: {exc}"[:500]
            return row
        row, tr = trace_clip(clip, loaded)
        if tr is not None:
            try:
                self.store.save_trace(tr, model_id, clip.clip_id)
            except Exception as exc:  # noqa: BLE001
                row["error"] = f"saving the trace failed: {type(exc).__name__}: {exc}"[:500]
        return row


# -- process engine ------------------------------------------------------------------------------
_WORKER: Worker | None = None


def _init_process(store_path: str, threads: int, quiet: bool) -> None:
    global _WORKER
    if quiet:
        import warnings

        import transformers.utils.logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
        warnings.filterwarnings("ignore")
    _WORKER = Worker(store_path, threads)


def _in_process(model_id: str, clip: Clip) -> dict:
    return _WORKER(model_id, clip)


# -- Ray engine -----------------------------------------------------------------------------------
class RayTracer:
    """Ray Data callable class: one Worker (models loaded once) per actor."""

    def __init__(self, store_path: str, threads: int = 1):
        _init_process(store_path, threads, True)
        self.worker = _WORKER

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        rows = []
        for i in range(len(batch["model"])):
            data = batch["data"][i]
            clip = Clip(clip_id=str(batch["clip_id"][i]), path=_none(batch["path"][i]),
                        reference=_none(batch["reference"][i]),
                        data=bytes(data) if data is not None and len(data) else None)
            rows.append(self.worker(str(batch["model"][i]), clip))
        return {k: np.array([r[k] for r in rows], dtype=object) for k in rows[0]}


def _none(x):
    return None if x is None or (isinstance(x, float) and x != x) or x == "" else str(x)


def _as_bytes(clip: Clip) -> bytes:
    """An in-memory clip as file bytes for a Ray item (arrays become a float32 WAV)."""
    if clip.data is not None:
        return clip.data
    if clip.array is None:
        return b""
    import io

    import soundfile as sf

    rate, x = clip.source()
    buf = io.BytesIO()
    sf.write(buf, x.T if x.ndim == 2 and x.shape[0] < x.shape[1] else x, rate, format="WAV",
             subtype="FLOAT")
    return buf.getvalue()


def _ray_rows(jobs, store_path: str, workers: int, address: str, num_gpus: float, threads: int = 1):
    import ray

    if not ray.is_initialized():
        if address == "local":
            ray.init(num_cpus=max(2, workers), include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
    items = [{"model": m, "clip_id": c.clip_id, "path": c.path or "", "reference": c.reference or "",
              "data": _as_bytes(c)} for m, c in jobs]
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    kw = dict(num_gpus=num_gpus) if num_gpus else dict(num_cpus=1)
    out = ds.map_batches(RayTracer, fn_constructor_kwargs=dict(store_path=store_path, threads=threads),
                         batch_size=1, compute=ray.data.ActorPoolStrategy(size=max(1, workers)),
                         batch_format="numpy", **kw)
    for row in out.iter_rows():
        yield {k: (None if (isinstance(v, float) and v != v) else v) for k, v in row.items()}


# -- driver ---------------------------------------------------------------------------------------
def run_corpus(src, models: list[str], out, *, workers: int = 1, ray_address: str | None = None,
               num_gpus: float = 0, flush_every: int = 8, progress: bool = True,
               limit: int | None = None, processes: bool = False,
               threads: int | None = None) -> RunResult:
    """Trace every clip of ``src`` (:func:`read_corpus`) with every model into the store ``out``;
    clips a previous run finished are skipped. ``RunResult.exit_code``: 0 all done, 1 some failed
    (each recorded with its ``error``). ``processes``: use worker processes even for one worker;
    ``threads``: torch threads per process / actor (default: cpus // workers for processes, 1 for
    Ray actors)."""
    from tqdm.auto import tqdm

    store = out if isinstance(out, Store) else Store(out)
    store.path.mkdir(parents=True, exist_ok=True)
    clips = read_corpus(src)[:limit]
    done = store.done()
    jobs = [(m, c) for m in models for c in clips if (m, c.clip_id) not in done]
    result = RunResult(store=store, skipped=len(models) * len(clips) - len(jobs), started=time.perf_counter())
    bar = tqdm(total=len(jobs), unit="clip", disable=not progress, file=sys.stderr,
               desc="audiolab corpus")
    pending: list[dict] = []

    def take(row: dict) -> None:
        result.arrivals.append(time.perf_counter())
        pending.append(row)
        if row.get("error"):
            result.failed += 1
            result.errors.append({"model": row["model"], "clip_id": row["clip_id"], "error": row["error"]})
        else:
            result.done += 1
        bar.update(1)
        bar.set_postfix(failed=result.failed, refresh=False)
        if len(pending) >= flush_every:
            store.write_rows(pending)
            pending.clear()

    try:
        if not jobs:
            pass
        elif ray_address:
            for row in _ray_rows(jobs, str(store.path), workers, ray_address, num_gpus, threads or 1):
                take(row)
        elif workers <= 1 and not processes:
            w = Worker(str(store.path))
            for m, c in jobs:
                take(w(m, c))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            threads = threads or max(1, (os.cpu_count() or 1) // max(1, workers))
            with ProcessPoolExecutor(max(1, workers), mp_context=mp.get_context("spawn"),
                                     initializer=_init_process,
                                     initargs=(str(store.path), threads, True)) as ex:
                futs = [ex.submit(_in_process, m, c) for m, c in jobs]
                for f in as_completed(futs):
                    take(f.result())
    finally:
        store.write_rows(pending)
        bar.close()
    return result
