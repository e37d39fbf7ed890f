"""Server memory over many requests: the app launched in a child process on loopback, driven with
``gradio_client``; the child's resident memory (RSS) after a warm-up and after N requests per
tab. Each request comes from a new session by default (a class of students who each run once
and never close the page -- the case where ``gr.State`` traces pile up); ``--same-session`` reuses
one. The goal: flat after warm-up.

``python benchmarks/bench_app_memory.py [--requests 50] [--warmup 3] [--public] [--tabs ...]``
(``make bench`` runs it with the defaults). Offline models only (``HF_HUB_OFFLINE=1``).
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "clips" / "quick_brown_fox.wav"
TEXT = "The quick brown fox jumps over the lazy dog."

# tab -> (api name, argument overrides by parameter name); the other arguments take the
# endpoint's defaults, audio the fox clip. The CTC tab's "transcribe" comes after Whisper's, so
# Gradio names it "transcribe_1".
TABS = {
    "whisper": ("/transcribe", {}),
    "ctc": ("/transcribe_1", {}),
    "compare": ("/compare", {}),
    "tts": ("/tts_speak", {"text": TEXT}),
    "classify": ("/classify", {}),
}

SERVER = """
import sys, time
from apps.main import launch
launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), prevent_thread_lock=True, quiet=True)
print("READY", flush=True)
while True:
    time.sleep(3600)
"""


def rss_mb(pid: int) -> float:
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no RSS reading")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _endpoints(client) -> dict:
    """tab -> (api name, parameters, overrides) for the tabs this app has."""
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    return {tab: (name, api[name]["parameters"], over) for tab, (name, over) in TABS.items()
            if name in api}


def _args(params: list, over: dict) -> list:
    from gradio_client import handle_file

    args = []
    for p in params:
        name = p.get("parameter_name")
        if name in over:
            args.append(over[name])
        elif p.get("component") == "Audio":
            args.append(handle_file(str(CLIP)))
        elif p.get("parameter_has_default"):
            args.append(p.get("parameter_default"))
        else:
            args.append(None)
    return args


def run(requests: int, warmup: int, public: bool, tabs: list[str], same_session: bool) -> list[dict]:
    from gradio_client import Client

    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               AUDIOLAB_PUBLIC="1" if public else "0")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rows = []
    try:
        assert proc.stdout.readline().strip() == "READY", "the app did not start"
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        eps = _endpoints(client)
        print(f"server pid {proc.pid}, {'public' if public else 'local'} mode, RSS at start "
              f"{rss_mb(proc.pid):.0f} MB; {requests} requests per tab after {warmup} warm-up, "
              f"{'one session' if same_session else 'a new session per request'}", flush=True)
        for tab in tabs:
            if tab not in eps:
                print(f"{tab}: no endpoint in this app, skipped")
                continue
            api, params, over = eps[tab]
            args = _args(params, over)
            failures, t0 = 0, 0.0
            for i in range(warmup + requests):
                if i == warmup:
                    before, t0 = rss_mb(proc.pid), time.perf_counter()
                if not same_session:
                    client.reset_session()
                try:
                    job = client.submit(*args, api_name=api)
                    job.result(timeout=600)
                    status = str(job.outputs()[-1][0] if isinstance(job.outputs()[-1], (list, tuple))
                                 else job.outputs()[-1])
                    failures += ("Error:" in status) or ("internal error" in status)
                except Exception as exc:  # noqa: BLE001 -- count, keep going
                    failures += 1
                    if failures == 1:
                        print(f"  {tab} request {i} failed: {type(exc).__name__}: {exc}"[:300])
                if i >= warmup and (i - warmup + 1) % 10 == 0:
                    print(f"  {tab}: {i - warmup + 1:3d} requests, RSS {rss_mb(proc.pid):7.0f} MB",
                          flush=True)
            after = rss_mb(proc.pid)
            rows.append({"tab": tab, "warm": before, "after": after, "delta": after - before,
                         "per_request_kb": (after - before) * 1024 / requests,
                         "failures": failures, "seconds": time.perf_counter() - t0})
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| tab | RSS after warm-up (MB) | RSS after N (MB) | change (MB) | per request (kB) "
             "| failures | time (s) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['tab']} | {r['warm']:.0f} | {r['after']:.0f} | {r['delta']:+.0f} | "
                     f"{r['per_request_kb']:+.0f} | {r['failures']} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--public", action="store_true")
    ap.add_argument("--same-session", action="store_true")
    ap.add_argument("--tabs", nargs="*", default=list(TABS))
    a = ap.parse_args(argv if argv is not None else [])
    print(table(run(a.requests, a.warmup, a.public, a.tabs, a.same_session)))


if __name__ == "__main__":
    main(sys.argv[1:])
