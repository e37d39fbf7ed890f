"""The Whisper tab on audio over 30 s: ``/transcribe`` only notes it, ``/long_form`` decodes the
whole recording window by window (Whisper's long-form algorithm) with a tiny random Whisper
injected through ``apps.factory``; ``/long_window`` opens a window in the debugger; the public
time limit stops a long run with the usual message."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from apphelp import OUTPUTS, substituted
from apphelp import app_url, client  # noqa: F401 -- fixtures
from apphelp import plot as _plot, write_wav as _wav

pytestmark = pytest.mark.app

LONG_OUT = ["long_status", "long_plot", "long_window", "long_table", "long_text"]
TAB_OUT = OUTPUTS["whisper"] + ["seg_plot"]  # States are not in the API


@pytest.fixture(scope="module")
def tiny(app_url):
    from lab.whisper import tiny

    loaded = tiny.loaded(max_positions=24)
    with substituted(lambda model_id, family, attention=True: loaded):
        yield loaded


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory):
    rng = np.random.default_rng(0)
    return _wav(tmp_path_factory.mktemp("long") / "long.wav",
                0.1 * rng.standard_normal(16000 * 45))


def _long(client, path):
    from gradio_client import handle_file

    out = client.predict(handle_file(str(path)), "whisper-tiny.en", "", 1, 3, api_name="/long_form")
    return dict(zip(LONG_OUT + TAB_OUT, out))


def test_long_audio_goes_to_the_whole_recording_panel(tiny, client, long_wav):
    from gradio_client import handle_file

    job = client.submit(handle_file(str(long_wav)), "whisper-tiny.en", "", 1, 3, "alignment",
                        False, api_name="/transcribe")
    job.result(timeout=120)
    status = dict(zip(TAB_OUT[:15], job.outputs()[-1]))["status"]
    assert "Whole recording" in status and "45.0 s" in status, status

    out = _long(client, long_wav)
    assert out["long_status"].startswith("**Whole recording done**"), out["long_status"]
    fig = _plot(out["long_plot"])
    n = int(out["long_status"].split("in **")[1].split(" windows")[0])
    assert n >= 2  # 45 s cannot fit one window
    hover = next(d for d in fig["data"] if d.get("name") == "windows")
    assert len(hover["x"]) == n and all(0 <= x <= 45 for x in hover["x"])
    assert fig["layout"]["xaxis2"]["title"]["text"] == "time (s)"
    assert len(out["long_window"]["choices"]) == n and out["long_window"]["value"] == 0
    assert out["long_table"].count("<tr") == n + 1
    # the first window is open in the debugger
    assert out["status"].startswith("**Done**") and "window 0 of the whole recording" in out["status"]

    # open the last window: the debugger and the outline follow
    sel = client.predict(n - 1, api_name="/long_window")
    sel = dict(zip(["long_plot", "long_table"] + TAB_OUT, sel))
    assert f"window {n - 1} of the whole recording" in sel["status"]
    shapes = _plot(sel["long_plot"])["layout"]["shapes"]
    assert any(s.get("line", {}).get("color") == "#2ca02c" for s in shapes)
    assert "outline:2px solid" in sel["long_table"]

    path = client.predict(api_name="/long_save")
    import zipfile

    assert zipfile.is_zipfile(path)


def test_short_audio_leaves_the_panel_empty(tiny, client, tmp_path):
    rng = np.random.default_rng(1)
    short = _wav(tmp_path / "short.wav", 0.1 * rng.standard_normal(16000 * 2))
    out = _long(client, short)
    assert out["long_status"] == "" and out["long_plot"] is None


def test_public_time_limit_stops_a_long_run(tiny, client, long_wav):
    from apps import settings

    prev = settings.configure(dataclasses.replace(settings.current(), time_limit_s=0.01))
    try:
        out = _long(client, long_wav)
    finally:
        settings.configure(prev)
    assert "<b>Error:</b>" in out["long_status"] and "limits each run" in out["long_status"], \
        out["long_status"]
    # still serving
    assert _long(client, long_wav)["long_status"].startswith("**Whole recording done**")


def test_timestamp_tokens_box_draws_segments(tiny, client, tmp_path):
    from gradio_client import handle_file

    rng = np.random.default_rng(1)
    short = _wav(tmp_path / "short.wav", 0.1 * rng.standard_normal(16000 * 2))
    job = client.submit(handle_file(str(short)), "whisper-tiny.en", "", 1, 3, "alignment", True,
                        api_name="/transcribe")
    job.result(timeout=120)
    final = dict(zip(TAB_OUT[:15] + ["seg_plot"], job.outputs()[-1]))
    assert final["status"].startswith("**Done**"), final["status"]
    assert "<|notimestamps|>" not in final["transcript"]
    seg = final["seg_plot"]
    assert seg["visible"] is True
    fig = _plot(seg["value"])
    bars = [d for d in fig["data"] if d["type"] == "bar"]
    assert bars and bars[0]["name"] == "segment" and len(bars[0]["base"]) >= 1
    end = fig["layout"]["xaxis2"]["range"][1]
    assert all(0 <= b <= end for b in bars[0]["base"])


def test_the_long_state_counts_in_the_trace_budget(tiny):
    from apps import budget
    from lab.audio import Audio
    from lab.whisper.long import trace_long

    rng = np.random.default_rng(2)
    clip = Audio(0.1 * rng.standard_normal(16000 * 35).astype("float32"), 16000, "x", [])
    result = trace_long(clip, tiny, top_k=2)
    from apps.whisper_long_panel import long_state_value

    state = long_state_value(result, clip)
    assert budget.value_bytes(state) >= sum(t.nbytes() for t in result.traces) > 0
