"""Public mode (``audiolab app --public`` / ``AUDIOLAB_PUBLIC=1``): the model-id policy, the
settings, error text without server paths, the per-event deadline -- as units, then the app built
in public mode and driven with gradio_client (no model loads: the factory's loader is replaced)."""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import torch

from apps import common, deadline, factory, settings
from apps.settings import Settings
from lab import models
from lab.errors import LabError

ROOT = Path(__file__).resolve().parents[2]
FOX = ROOT / "assets" / "clips" / "quick_brown_fox.wav"
OUT = ["status", "text", "transcript", "step", "step_plot", "words_plot", "mel_plot", "enc_plot",
       "map_plot", "beam_plot", "wer", "describe", "heads", "layer", "head"]


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """A local HF-format directory (what ``locate`` would load from a path)."""
    d = tmp_path / "secret-models" / "mymodel"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"architectures": ["WhisperForConditionalGeneration"],
                                               "model_type": "whisper"}))
    return d


@pytest.fixture
def local_settings():
    prev = settings.configure(Settings.local())
    yield
    settings.configure(prev)


@pytest.fixture
def public_settings():
    prev = settings.configure(Settings.public_defaults())
    yield
    settings.configure(prev)


# -- the model-id policy (lab.models) ------------------------------------------------------------

def test_local_mode_still_loads_a_directory(model_dir):
    path, source, family = models.locate(str(model_dir))
    assert source.startswith("local:") and family == "whisper"


@pytest.mark.parametrize("bad, why", [
    ("{dir}", "absolute path"), ("~/models/x", "~"), ("../secret-models/mymodel", ".."),
    ("org/../../etc", ".."), ("models\\x", "backslash"), ("C:/models/x", "absolute path"),
    ("a//b", "relative path component"), ("", "empty")])
def test_public_policy_refuses_server_paths_without_echoing_them(model_dir, bad, why):
    bad = bad.format(dir=model_dir)
    with pytest.raises(LabError) as err:
        models.locate(bad, allow_paths=False)
    msg = str(err.value)
    assert "not a server path" in msg and why in msg
    assert str(model_dir.parent) not in msg and "secret-models" not in msg
    assert "whisper-tiny.en" in msg  # names what is accepted


def test_public_policy_refuses_a_relative_directory(model_dir, monkeypatch):
    monkeypatch.chdir(model_dir.parent)
    assert models.locate("mymodel")[1].startswith("local:")  # local mode: loads it
    with pytest.raises(LabError, match="not a listed id"):
        models.locate("mymodel", allow_paths=False)


def test_public_policy_a_hub_shaped_local_directory_is_not_loaded_from_disk(model_dir, monkeypatch):
    monkeypatch.chdir(model_dir.parent.parent)  # "secret-models/mymodel" is a local dir here
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert models.locate("secret-models/mymodel")[1].startswith("local:")
    path, source, _ = models.locate("secret-models/mymodel", allow_paths=False)
    assert source == "hub:secret-models/mymodel" and path == "secret-models/mymodel"


def test_public_policy_listed_and_hub_ids(monkeypatch):
    for mid in models.listed_ids():
        models.check_id(mid, allow_paths=False)  # every listed id passes
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    models.check_id("someone/some-model", allow_paths=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LabError, match="does not fetch from the hub"):
        models.check_id("someone/some-model", allow_paths=False)
    models.check_id("openai/whisper-base", allow_paths=False)  # listed: refused only if missing


def test_load_cached_applies_the_policy_even_to_a_cached_key(model_dir, monkeypatch):
    seen = []
    monkeypatch.setattr(models, "resolve", lambda mid, **kw: seen.append(mid) or object())
    models.clear_cache()
    try:
        models.load_cached(str(model_dir), family="whisper")
        with pytest.raises(LabError, match="not a server path"):
            models.load_cached(str(model_dir), family="whisper", allow_paths=False)
        assert seen == [str(model_dir)]
    finally:
        models.clear_cache()


def test_factory_refuses_paths_whichever_loader_is_set(model_dir, public_settings):
    calls = []
    factory.set_loader(lambda mid, family, attention=True: calls.append(mid))
    try:
        with pytest.raises(LabError, match="not a server path"):
            factory.get(str(model_dir), "whisper")
        factory.get("whisper-tiny.en", "whisper")
        factory.get(str(model_dir), "whisper", server_path=True)  # a tab's own demo directory
        assert calls == ["whisper-tiny.en", str(model_dir)]
    finally:
        factory.set_loader(None)


def test_factory_scrubs_the_weights_source_in_public_mode(public_settings):
    shown = models.Loaded(model=None, processor=None, model_id="m", family="ctc",
                          weights_source="zoo:m (shipped, /srv/lab/zoo/m)", path="/srv/lab/zoo/m",
                          device="cpu")
    factory.set_loader(lambda mid, family, attention=True: shown)
    try:
        got = factory.get("whisper-tiny.en", "ctc")
        assert got.weights_source == "zoo:m (shipped, .../m)" and got.path == "/srv/lab/zoo/m"
        settings.configure(Settings.local())
        assert factory.get("whisper-tiny.en", "ctc") is shown
    finally:
        factory.set_loader(None)


# -- settings ------------------------------------------------------------------------------------

def test_settings_from_env(monkeypatch):
    for k in ("AUDIOLAB_PUBLIC", "AUDIOLAB_MAX_UPLOAD", "AUDIOLAB_QUEUE_SIZE", "AUDIOLAB_TIME_LIMIT"):
        monkeypatch.delenv(k, raising=False)
    assert Settings.from_env() == Settings.local()
    monkeypatch.setenv("AUDIOLAB_PUBLIC", "1")
    pub = Settings.from_env()
    assert pub == Settings.public_defaults()
    assert (pub.allow_paths, pub.max_file_size, pub.queue_max_size, pub.time_limit_s,
            pub.scrub_paths, pub.show_error) == (False, "20mb", 16, 120.0, True, False)
    monkeypatch.setenv("AUDIOLAB_QUEUE_SIZE", "5")
    monkeypatch.setenv("AUDIOLAB_TIME_LIMIT", "none")
    monkeypatch.setenv("AUDIOLAB_MAX_UPLOAD", "5mb")
    s = Settings.from_env()
    assert (s.queue_max_size, s.time_limit_s, s.max_file_size) == (5, None, "5mb")
    assert Settings.from_env(public=False).allow_paths is True
    monkeypatch.setenv("AUDIOLAB_QUEUE_SIZE", "lots")
    with pytest.raises(LabError, match="AUDIOLAB_QUEUE_SIZE"):
        Settings.from_env()


def test_cli_public_flag_parses():
    from lab.cli import build_parser

    assert build_parser().parse_args(["app", "--public"]).public is True
    assert build_parser().parse_args(["app"]).public is False


# -- error text ----------------------------------------------------------------------------------

def test_scrub_paths():
    s = common.scrub_paths
    assert s("could not load '/srv/lab/models/x' (local:/srv/lab/models/x)") == \
        "could not load '.../x' (local:.../x)"
    assert s("see ~/.cache/audiolab/bundle.bin and C:\\Users\\me\\clip.wav") == \
        "see .../bundle.bin and .../clip.wav"
    keep = "hub id openai/whisper-base, 3/4 of the clip, a / b"
    assert s(keep) == keep


def test_message_scrubs_only_in_public_mode(local_settings):
    exc = FileNotFoundError(2, "No such file or directory", "/srv/lab/weights/config.json")
    assert "/srv/lab/weights" in common.message(exc)
    settings.configure(Settings.public_defaults())
    msg = common.message(exc)
    assert msg.startswith("internal error (FileNotFoundError)") and "/srv" not in msg
    assert ".../config.json" in msg
    assert common.message(LabError("bad clip /tmp/gradio/abc/clip.wav")) == "bad clip .../clip.wav"


# -- the per-event deadline ----------------------------------------------------------------------

def test_deadline_stops_a_model_run_at_the_next_module_call():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    x = torch.ones(1, 2)
    with deadline.running(None):
        net(x)
    with deadline.running(60):
        net(x)  # within the limit
    started = time.monotonic() - 10  # a run that began 10 s ago
    with pytest.raises(deadline.TimeLimitExceeded, match="stopped after 5 s"):
        with deadline.running(5, started):
            pass  # checked on entry
    with deadline.running(60, started):
        net(x)
        deadline._local.deadline = (time.monotonic() - 1, 5)  # the limit passes mid-run
        with pytest.raises(deadline.TimeLimitExceeded):
            net(x)
    net(x)  # the deadline is gone after the block: no limit outside a handler
    out = []
    t = threading.Thread(target=lambda: out.append(net(x)))  # another thread: not affected
    with deadline.running(60):
        deadline._local.deadline = (time.monotonic() - 1, 5)  # this thread is over its limit
        t.start()
        t.join(30)
        with pytest.raises(deadline.TimeLimitExceeded):
            net(x)
    assert len(out) == 1


def test_guarded_generator_stops_at_the_deadline(monkeypatch):
    monkeypatch.setattr(settings, "_CURRENT", dataclasses.replace(Settings.public_defaults(),
                                                                  time_limit_s=0.05))
    closed = []

    @common.guarded(["status", "n"], box="status")
    def slow():
        try:
            for i in range(100):
                time.sleep(0.1)  # each step takes longer than the whole limit
                yield ["running", i]
        finally:
            closed.append(True)

    outs = list(slow())
    assert outs[-1][0].startswith('<div') and "stopped after 0.05 s" in outs[-1][0]
    assert len(outs) <= 2 and closed == [True]  # the generator was closed, the worker freed


def test_guarded_function_stops_at_the_deadline(monkeypatch):
    monkeypatch.setattr(settings, "_CURRENT", dataclasses.replace(Settings.public_defaults(),
                                                                  time_limit_s=0.05))
    net = torch.nn.Linear(2, 2)

    @common.guarded(1, box=0)
    def run():
        time.sleep(0.1)
        return str(net(torch.ones(1, 2)))

    assert "this server limits each run" in run()
    monkeypatch.setattr(settings, "_CURRENT", Settings.local())
    assert run().startswith("tensor")


# -- the app in public mode, through gradio_client -----------------------------------------------

TEST_PUBLIC = dataclasses.replace(Settings.public_defaults(), max_file_size="200kb",
                                  queue_max_size=1, concurrency=1)


@pytest.fixture(scope="module")
def public_app():
    from apps.main import build_app

    prev = settings.current()
    demo = build_app(TEST_PUBLIC)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **TEST_PUBLIC.launch_kw())
    yield demo, url
    demo.close()
    settings.configure(prev)


@pytest.fixture
def client(public_app):
    from gradio_client import Client

    c = Client(public_app[1], verbose=False)
    yield c
    c.close()


def _transcribe(client, path, model_id, timeout=120):
    from gradio_client import handle_file

    job = client.submit(handle_file(str(path)), model_id, "", 1, 5, "alignment",
                        api_name="/transcribe")
    job.result(timeout=timeout)
    return [dict(zip(OUT, o)) for o in job.outputs()]


def test_public_app_reads_back_its_settings(public_app):
    demo, _ = public_app
    assert demo._queue.max_size == 1
    assert demo.max_file_size == 200 * 1024
    assert demo.show_error is False
    assert demo.state_session_capacity == demo.state_holder.capacity == TEST_PUBLIC.sessions
    assert demo.delete_cache == TEST_PUBLIC.delete_cache
    states = [b for b in demo.blocks.values() if type(b).__name__ == "State"]
    assert states and all(s.time_to_live == TEST_PUBLIC.state_ttl_s for s in states)
    assert settings.current() is TEST_PUBLIC


def _ctc_status(demo, client, path, model_id) -> str:
    """The CTC tab's status for one run (its model box takes custom values)."""
    from gradio_client import handle_file

    api = next(f.api_name for f in demo.fns.values()
               if getattr(f.fn, "__module__", "") == "apps.ctc_tab" and f.fn.__name__ == "transcribe")
    out = client.predict(handle_file(str(path)), model_id, "", "", 1, 5, api_name=f"/{api}")
    return out[0]


def test_public_app_refuses_a_path_in_the_model_box(public_app, client, model_dir):
    calls = []
    factory.set_loader(lambda mid, family, attention=True: calls.append(mid))
    try:
        for bad in (str(model_dir), "../" + model_dir.name, "~/" + model_dir.name):
            status = _ctc_status(public_app[0], client, FOX, bad)
            assert "not a server path" in status, status
            assert str(model_dir.parent) not in status and "secret-models" not in status
        assert calls == []  # the loader never saw them
    finally:
        factory.set_loader(None)


def test_public_app_error_message_has_no_server_path(public_app, client):
    def broken(mid, family, attention=True):
        raise FileNotFoundError(2, "No such file or directory", "/srv/lab/private/config.json")

    factory.set_loader(broken)
    try:
        status = _transcribe(client, FOX, "whisper-tiny.en")[-1]["status"]
    finally:
        factory.set_loader(None)
    assert "internal error (FileNotFoundError)" in status and ".../config.json" in status
    assert "/srv" not in status and "Traceback" not in status


def test_public_app_refuses_an_oversized_upload(public_app, tmp_path):
    from gradio_client import Client

    _, url = public_app
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (300 * 1024))
    small = tmp_path / "small.wav"
    small.write_bytes(FOX.read_bytes()[:100 * 1024])
    with httpx.Client(timeout=30) as h:
        r = h.post(f"{url}gradio_api/upload", files={"files": ("big.wav", big.read_bytes())})
        assert r.status_code == 413, r.text
        assert "maximum allowed size of 204800 bytes" in r.text
        ok = h.post(f"{url}gradio_api/upload", files={"files": ("small.wav", small.read_bytes())})
        assert ok.status_code == 200
    c = Client(url, verbose=False)
    try:
        with pytest.raises(Exception, match="413|size"):
            _transcribe(c, big, "whisper-tiny.en")
    finally:
        c.close()


def test_public_app_queue_full_says_busy(public_app):
    """concurrency 1, queue size 1: one request runs (held in the loader), one waits, the third
    is refused with the "busy, try again" message (HTTP 503)."""
    from gradio_client import Client, handle_file

    demo, url = public_app
    started, release = threading.Event(), threading.Event()

    def held(mid, family, attention=True):
        started.set()
        release.wait(60)
        raise LabError("released by the test")

    factory.set_loader(held)
    clients = [Client(url, verbose=False) for _ in range(2)]
    try:
        args = (handle_file(str(FOX)), "whisper-tiny.en", "", 1, 5, "alignment")
        first = clients[0].submit(*args, api_name="/transcribe")
        assert started.wait(60)
        second = clients[1].submit(*args, api_name="/transcribe")
        for _ in range(600):
            if len(demo._queue) >= 1:
                break
            time.sleep(0.05)
        assert len(demo._queue) == 1
        fn_index = next(i for i, f in demo.fns.items() if f.api_name == "transcribe")
        r = httpx.post(f"{url}gradio_api/queue/join",
                       json={"data": [], "fn_index": fn_index, "session_hash": "probe"}, timeout=30)
        assert r.status_code == 503
        assert r.json()["detail"] == settings.BUSY.format(n=1)
        assert "try again in a minute" in r.json()["detail"]
        release.set()
        for job in (first, second):
            job.result(timeout=60)
            assert "released by the test" in job.outputs()[-1][0]
    finally:
        release.set()
        factory.set_loader(None)
        for c in clients:
            c.close()


def _tiny_whisper_loaded():
    """A random 2-layer Whisper (d_model 64, in memory) with the offline bundle's processor."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration, WhisperProcessor

    from lab.models import Loaded, locate

    torch.manual_seed(0)
    cfg = WhisperConfig(vocab_size=51864, num_mel_bins=80, d_model=64, encoder_layers=2,
                        decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
                        encoder_ffn_dim=128, decoder_ffn_dim=128, max_source_positions=1500,
                        max_target_positions=24, decoder_start_token_id=50257, bos_token_id=50256,
                        eos_token_id=50256, pad_token_id=50256, attn_implementation="eager")
    model = WhisperForConditionalGeneration(cfg).eval()
    processor = WhisperProcessor.from_pretrained(locate("whisper-tiny.en")[0])
    return Loaded(model=model, processor=processor, model_id="tiny-random", family="whisper",
                  weights_source="random (test)", path="", device=torch.device("cpu"))


def test_public_app_time_limit_stops_a_run_inside_the_model(public_app, client):
    """The deadline trips in Gradio's worker thread at the first module call after it passed
    (the loader takes longer than the whole limit), and the app keeps serving."""
    loaded = _tiny_whisper_loaded()
    forwards = []
    hook = loaded.model.model.encoder.register_forward_hook(lambda *a: forwards.append(1))

    def slow_loader(mid, family, attention=True):
        time.sleep(1.0)
        return loaded

    factory.set_loader(slow_loader)
    prev = settings.configure(dataclasses.replace(TEST_PUBLIC, time_limit_s=0.5))
    try:
        status = _transcribe(client, FOX, "whisper-tiny.en")[-1]["status"]
        assert "stopped after 0.5 s" in status and "limits each run" in status, status
        assert forwards == []  # the encoder never ran to its end
        settings.configure(TEST_PUBLIC)  # 120 s: the same run completes
        outs = _transcribe(client, FOX, "whisper-tiny.en")
        assert outs[-1]["status"].startswith("**Done**"), outs[-1]["status"]
        assert forwards
    finally:
        hook.remove()
        settings.configure(prev)
        factory.set_loader(None)


# -- the trace budget over all sessions ----------------------------------------------------------

def test_value_bytes_counts_tensors_arrays_and_traces():
    import numpy as np

    from apps.budget import value_bytes
    from lab.trace import Trace

    t = torch.zeros(10, 10)  # 400 bytes
    tr = Trace(family="ctc", model_id="x", weights_source="y")
    tr.add("a", torch.zeros(5, dtype=torch.float16), ["time"])
    assert value_bytes(t) == 400 and value_bytes(np.zeros(3)) == 24
    assert value_bytes([t, {"k": t}, (t,)]) == 400  # the same tensor counts once
    assert value_bytes(tr) == tr.nbytes() == 5 * 4  # stored as float32
    assert value_bytes([tr, None, "text", 3]) == 20


def test_public_app_trace_budget_drops_the_oldest_sessions_traces(public_app):
    """Three sessions each run the Whisper tab (tiny random model); with a budget of about two
    traces, the oldest session's trace is dropped, the two newest stay."""
    from gradio_client import Client

    demo, url = public_app
    loaded = _tiny_whisper_loaded()
    factory.set_loader(lambda mid, family, attention=True: loaded)
    clients = [Client(url, verbose=False) for _ in range(3)]
    prev = settings.configure(dataclasses.replace(TEST_PUBLIC, trace_budget_mb=None))
    try:
        _transcribe(clients[0], FOX, "whisper-tiny.en")

        def held():
            return {sid: budget_bytes(s) for sid, s in demo.state_holder.session_data.items()}
        one = held()[clients[0].session_hash]
        assert one > 1_000_000  # the tiny model's trace (encoder attention of a 30 s window)
        settings.configure(dataclasses.replace(TEST_PUBLIC, trace_budget_mb=2.5 * one / 2**20))
        for c in clients[1:]:
            _transcribe(c, FOX, "whisper-tiny.en")
        # the sweep runs before each event: the third client's run dropped nothing yet (2 held
        # before it); one more event from the newest session sweeps with 3 held
        _transcribe(clients[2], FOX, "whisper-tiny.en")
        sizes = held()
        assert sizes[clients[0].session_hash] == 0
        assert sizes[clients[1].session_hash] > 0 and sizes[clients[2].session_hash] > 0
        assert sum(sizes.values()) <= 2.5 * one
        # the dropped session's views change nothing; its next Run traces anew
        outs = _transcribe(clients[0], FOX, "whisper-tiny.en")
        assert outs[-1]["status"].startswith("**Done**")
    finally:
        settings.configure(prev)
        factory.set_loader(None)
        for c in clients:
            c.close()


def budget_bytes(session) -> int:
    from apps.budget import value_bytes

    return sum(value_bytes(v) for v in session.state_data.values())


def test_trim_heap_is_throttled(monkeypatch):
    from apps import budget

    monkeypatch.setattr(budget, "_last_trim", [0.0])
    first = budget.trim_heap()  # True on glibc (Linux), False elsewhere
    assert budget._last_trim[0] > 0
    assert budget.trim_heap() is False  # within _TRIM_EVERY_S: not again
    assert isinstance(first, bool)
