"""Concurrent clients on the running app: does each client get the result for ITS OWN input?

Launches the lab app (``apps.main.build_app()``, loopback only), computes one solo result per
input through the same gradio_client API, then lets ``--clients`` clients (threads, one
``gradio_client.Client`` each: its own session) send ``--requests`` requests per family at once,
each client its own clip (or TTS text), and compares every answer with the solo answer of that
input. Families: the Whisper tab, the CTC tab, the TTS tab, the Classify tab (AST and a wav2vec2
classifier). Counts failures (an exception or an error box) and wrong results (an answer that is
not its input's solo answer), and seconds per family.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/app_concurrency.py            # real offline models
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/app_concurrency.py --no-lock  # the lock disabled

``--no-lock`` replaces ``lab.capture.model_lock`` (and every ``lab`` module that imported it by
name) with a fresh RLock per call: what the app did before issue 17. Expect wrong results.

``tests/app/test_app_concurrency.py`` runs the same harness on tiny random models.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# what gradio_client returns from each endpoint (the gr.State outputs are not in the API)
OUT = {
    "whisper": ["status", "text", "transcript", "step", "step_plot", "words_plot", "mel_plot",
                "enc_plot", "map_plot", "beam_plot", "wer", "describe", "heads", "layer", "head"],
    "ctc": ["status", "text", "decoders", "wave", "grid", "chain", "logits", "strip", "collapse",
            "char", "char_audio", "words", "word", "word_audio", "layer", "attention", "describe"],
    "tts": ["status", "tokens", "live_plot", "growth_plot", "stop_plot", "postnet_plot",
            "align_plot", "diag_plot", "enc_plot", "hifigan_audio", "gl_audio", "step",
            "steps_table", "sentence", "align_layer", "align_head", "enc_layer", "describe"],
    "classify": ["status", "topk_plot", "grid_plot", "overlay_plot", "patch_f", "patch_t",
                 "layer", "head", "pixels_plot", "patch_attn_plot", "label", "contrib_plot",
                 "pool_plot", "timeline_plot", "heads_md", "describe"],
}
# the outputs compared with the solo run: everything that depends on the input and nothing that
# depends on the moment (statuses with timings, audio players' temporary file names)
KEYS = {
    "whisper": ["text", "transcript", "step", "step_plot", "words_plot", "mel_plot", "enc_plot",
                "map_plot", "describe"],
    "ctc": ["text", "decoders", "wave", "grid", "chain", "logits", "strip", "collapse", "char",
            "words", "word", "layer", "attention", "describe"],
    "tts": ["tokens", "live_plot", "growth_plot", "stop_plot", "postnet_plot", "align_plot",
            "diag_plot", "enc_plot", "step", "steps_table", "describe"],
    "classify": ["status", "topk_plot", "grid_plot", "overlay_plot", "pixels_plot",
                 "patch_attn_plot", "label", "contrib_plot", "pool_plot", "timeline_plot",
                 "describe"],
}
HANDLERS = {"whisper": ("apps.whisper_tab", "transcribe"), "ctc": ("apps.ctc_tab", "transcribe"),
            "tts": ("apps.tts_tab", "speak"), "classify": ("apps.classify_tab", "classify")}
API = {}  # tab -> api_name in the composed app, filled by launch() (Whisper and CTC both ask
# for "transcribe": gradio renames the second one "transcribe_1")


def api_names(demo) -> dict:
    """tab -> "/api_name" of its run handler in ``demo``, found by the handler function."""
    found = {}
    for fn in demo.fns.values():
        f = getattr(fn, "fn", None)
        for tab, (module, name) in HANDLERS.items():
            if f is not None and (f.__module__, f.__name__) == (module, name) and fn.api_name:
                found.setdefault(tab, "/" + fn.api_name)
    return found

REAL_MODELS = {"whisper": "whisper-tiny.en", "ctc": "whisper-tiny.en-ctc",
               "tts": "tiny-speecht5-tts-en", "classify-ast": "tiny-ast-sounds",
               "classify-wav2vec2": "tiny-wav2vec2-keywords"}

WORDS = ["red", "green", "blue", "seven", "open", "river", "window", "paper", "music", "garden",
         "silver", "winter", "yellow", "stone", "table", "orange", "purple", "mountain", "ocean",
         "forest"]


# -- inputs ---------------------------------------------------------------------------------------
def write_wav(path: Path, samples: np.ndarray, rate: int = 16000, channels: int = 1) -> Path:
    """16-bit PCM WAV at ``rate`` Hz; ``samples``: (frames,) or (frames, channels) floats in
    [-1, 1] (clipped). Returns ``path``."""
    x = np.asarray(samples, dtype=np.float64).reshape(len(samples), channels)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def clips(directory: Path, n: int) -> list[str]:
    """``n`` different clips: a tone sweep whose start, slope and length depend on the index,
    plus seeded noise (no two clips alike)."""
    out = []
    for i in range(n):
        seconds = 0.8 + 0.05 * i
        t = np.arange(int(16000 * seconds)) / 16000
        f0 = 180.0 + 45.0 * i
        x = 0.3 * np.sin(2 * np.pi * (f0 + 150.0 * t) * t)
        x += 0.02 * np.random.default_rng(i).standard_normal(len(t))
        out.append(str(write_wav(Path(directory) / f"client_{i:02d}.wav", x)))
    return out


def texts(n: int) -> list[str]:
    """``n`` different short texts for the TTS tab."""
    return [f"The {WORDS[i % len(WORDS)]} {WORDS[(3 * i + 1) % len(WORDS)]} is here."
            for i in range(n)]


# -- one request ----------------------------------------------------------------------------------
@dataclass
class Family:
    """One family's endpoint call: ``args(x)`` -> the endpoint's positional inputs for input x."""
    name: str          # whisper | ctc | tts | classify-ast | classify-wav2vec2 ...
    tab: str           # whisper | ctc | tts | classify (OUT / KEYS / API)
    model_id: str
    inputs: list
    args: Callable = field(repr=False, default=None)


def family(name: str, model_id: str, inputs: list, *, tts_maxlenratio: float = 20.0) -> Family:
    from gradio_client import handle_file

    tab = name.split("-")[0]
    if tab == "whisper":
        args = lambda x: (handle_file(x), model_id, "", 1, 5, "alignment")  # noqa: E731
    elif tab == "ctc":
        args = lambda x: (handle_file(x), model_id, "", "", 1, 5)  # noqa: E731
    elif tab == "tts":
        args = lambda x: (x, model_id, 0.5, 0.0, tts_maxlenratio, 0, "griffin-lim", None,  # noqa: E731
                          False, True)
    elif tab == "classify":
        args = lambda x: (handle_file(x), model_id, 3)  # noqa: E731
    else:
        raise ValueError(name)
    return Family(name, tab, model_id, inputs, args)


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def call(client, fam: Family, x) -> dict:
    """The final output of one request, by output name."""
    out = client.predict(*fam.args(x), api_name=API[fam.tab])
    return dict(zip(OUT[fam.tab], out))


def error_of(res: dict) -> str | None:
    status = str(res.get("status") or "")
    return status if "<b>Error:</b>" in status or "internal error" in status else None


def fingerprint(fam: Family, res: dict) -> str:
    return canonical({k: res.get(k) for k in KEYS[fam.tab]})


# -- the run --------------------------------------------------------------------------------------
@dataclass
class Result:
    family: str
    clients: int
    requests: int
    failures: list = field(default_factory=list)
    wrong: list = field(default_factory=list)
    seconds: float = 0.0
    distinct_solo: int = 0

    def row(self) -> str:
        return (f"| {self.family} | {self.clients} | {self.requests} | {len(self.failures)} | "
                f"{len(self.wrong)} | {self.seconds:.1f} |")


def solo(url: str, fam: Family) -> list[str]:
    """One fingerprint per input, each computed alone (one client, one request at a time)."""
    from gradio_client import Client

    c = Client(url, verbose=False)
    try:
        prints = []
        for x in fam.inputs:
            res = call(c, fam, x)
            err = error_of(res)
            if err:
                raise RuntimeError(f"{fam.name}: the solo run of {x!r} failed: {err}")
            prints.append(fingerprint(fam, res))
        return prints
    finally:
        c.close()


def concurrent(url: str, fam: Family, expected: list[str], *, clients: int, requests: int,
               clients_pool: list | None = None) -> Result:
    """``clients`` threads (one Client each) start together; client i sends input i
    ``requests`` times; every answer is compared with ``expected[i]``."""
    from gradio_client import Client

    res = Result(fam.name, clients, clients * requests)
    pool = clients_pool or [Client(url, verbose=False) for _ in range(clients)]
    barrier = threading.Barrier(clients)
    lock = threading.Lock()

    def work(i):
        x = fam.inputs[i % len(fam.inputs)]
        barrier.wait()
        for r in range(requests):
            try:
                out = call(pool[i], fam, x)
            except Exception as exc:  # noqa: BLE001 -- counted and reported
                with lock:
                    res.failures.append(f"client {i} request {r}: {type(exc).__name__}: {exc}")
                continue
            err = error_of(out)
            if err:
                with lock:
                    res.failures.append(f"client {i} request {r}: {err[:300]}")
            elif fingerprint(fam, out) != expected[i % len(expected)]:
                diff = [k for k in KEYS[fam.tab]
                        if canonical(out.get(k)) != canonical(json.loads(expected[i % len(expected)]).get(k))]
                with lock:
                    res.wrong.append(f"client {i} request {r}: differs from its solo run in {diff}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    res.seconds = time.perf_counter() - t0
    if clients_pool is None:
        for c in pool:
            c.close()
    return res


def check(url: str, fam: Family, *, clients: int, requests: int, clients_pool=None) -> Result:
    expected = solo(url, fam)
    out = concurrent(url, fam, expected, clients=clients, requests=requests,
                     clients_pool=clients_pool)
    out.distinct_solo = len(set(expected))
    return out


# -- the lock, for the "could it fail?" check ----------------------------------------------------
def lock_users() -> list:
    """Every loaded ``lab`` module holding ``lab.capture.model_lock`` under that name (imported
    by name, e.g. ``lab.tts.loop``): all must be patched to change the lock."""
    import lab.capture

    real = lab.capture.model_lock
    return [m for name, m in list(sys.modules.items())
            if (name == "lab" or name.startswith("lab.")) and getattr(m, "model_lock", None) is real]


def patch_lock(replacement) -> Callable[[], None]:
    """Replace ``model_lock`` everywhere it is used; returns the function that restores it."""
    import lab.capture

    real = lab.capture.model_lock
    users = lock_users()
    for m in users:
        m.model_lock = replacement
    return lambda: [setattr(m, "model_lock", real) for m in users]


def no_lock(model):
    """A fresh lock per call: nobody ever waits (the app before issue 17)."""
    return threading.RLock()


def tiny_models() -> dict:
    """The tiny random models the app tests serve (``lab/<family>/tiny.py``), by box id."""
    from dataclasses import replace

    from lab.classify import tiny as classify_tiny
    from lab.ctc import tiny as ctc_tiny
    from lab.tts import tiny as tts_tiny
    from lab.whisper import tiny as whisper_tiny

    return {"whisper": whisper_tiny.loaded(d_model=32, max_positions=12),
            "ctc": ctc_tiny.loaded("wav2vec2"),
            "tts": replace(tts_tiny.loaded(), model_id="speecht5-tiny-random"),
            "tiny-ast": classify_tiny.loaded("ast"),
            "tiny-wav2vec2-seq": classify_tiny.loaded("wav2vec2-seq")}


def use_tiny_models() -> dict:
    """Serve the test's tiny random models (``apps.factory.set_loader``); returns the ids."""
    import importlib.util

    path = ROOT / "tests" / "app" / "test_app_concurrency.py"
    spec = importlib.util.spec_from_file_location("test_app_concurrency", path)
    t = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = t
    spec.loader.exec_module(t)
    from apps import factory

    m = tiny_models()
    factory.set_loader(lambda model_id, family, attention=True:
                       m[model_id] if family == "classify" else m[family])
    return {name: model_id for name, (_, model_id, _) in t.CASES.items()}


# -- main -----------------------------------------------------------------------------------------
def launch():
    from apps.main import build_app

    demo = build_app()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    API.update(api_names(demo))
    return demo, url


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--families", default=",".join(REAL_MODELS))
    ap.add_argument("--no-lock", action="store_true", help="disable the per-model lock")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--tiny", action="store_true",
                    help="the tiny random models of tests/app/test_app_concurrency.py")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="app_concurrency_"))
    audio, words = clips(tmp, args.clients), texts(args.clients)
    ids = dict(REAL_MODELS)
    if args.tiny:
        ids = use_tiny_models()
    demo, url = launch()
    restore = None
    try:
        rows = []
        for name in args.families.split(","):
            fam = family(name, ids[name], words if name == "tts" else audio,
                         tts_maxlenratio=1.0 if args.tiny else 20.0)
            expected = solo(url, fam)  # the solo runs always hold the real lock
            if args.no_lock:
                restore = patch_lock(no_lock)
            r = concurrent(url, fam, expected, clients=args.clients, requests=args.requests)
            if restore:
                restore()
                restore = None
            r.distinct_solo = len(set(expected))
            rows.append(r)
            print(f"{name}: {len(r.failures)} failures, {len(r.wrong)} wrong of {r.requests} "
                  f"({r.seconds:.1f} s; {r.distinct_solo} distinct solo results of "
                  f"{len(expected)})", flush=True)
            for line in (r.failures + r.wrong)[:5]:
                print("   ", line[:400], flush=True)
        lock = "DISABLED (fresh RLock per call)" if args.no_lock else "on"
        print(f"\nlock {lock}; models {'tiny random' if args.tiny else 'real offline'}; torch "
              f"threads {args.threads}; app queue as built by apps.main.build_app()\n")
        print("| family | clients | requests | failures | wrong results | seconds |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(r.row())
        return 0 if all(not r.failures and not r.wrong for r in rows) else 1
    finally:
        if restore:
            restore()
        demo.close()


if __name__ == "__main__":
    sys.exit(main())
