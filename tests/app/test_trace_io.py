"""Trace on a GPU, explore on a laptop: every tab downloads its trace as a .zip and loads a saved
one back with every view as after the live run (gradio_client, tiny random models); the zip is
read safely (lab/trace_io.py); a round trip per family in Python."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch

from lab.classify import tiny as classify_tiny
from lab.models import Loaded
from lab.tts import tiny as tts_tiny
from lab.whisper import tiny as whisper_tiny
from lab.errors import LabError
from lab.trace import CapturePolicy, Trace

from apphelp import FOX, connected, serving, substituted, tabs_app


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# -- tiny random models, one per family (in memory) -------------------------------------------

def _whisper() -> Loaded:
    return whisper_tiny.loaded(d_model=64, max_positions=16)


def _tts() -> Loaded:
    return tts_tiny.loaded()


def _classify(kind: str) -> Loaded:
    return classify_tiny.loaded(kind)


@pytest.fixture(scope="module")
def tiny():
    from lab.ctc import tiny as ctc_tiny

    return {"whisper": _whisper(), "ctc": ctc_tiny.loaded("wav2vec2"), "tts": _tts(),
            "ast": _classify("ast"), "seq": _classify("wav2vec2-seq")}


# -- the app ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(tiny):
    from apps import classify_tab, ctc_tab, tts_tab, whisper_tab

    def loader(model_id, family, attention=True, **kw):
        if family == "classify":
            return tiny["ast" if model_id == "tiny-ast" else "seq"]
        return tiny[family]

    with substituted(loader), serving(tabs_app(whisper_tab, ctc_tab, tts_tab, classify_tab)) as url, \
            connected(url) as c:
        yield c


def _names(module) -> list[str]:
    """The tab's outputs as the API returns them (no State, no layout columns)."""
    return [n for n in module.OUTPUTS
            if n not in ("trace", "state", "traces") and not n.endswith("_group")]


def _is_plot(v) -> bool:
    return isinstance(v, dict) and v.get("type") == "plotly" and bool(json.loads(v["plot"])["data"])


def _run_save_load(client, module, run_api: str, run_args: list, family: str):
    from gradio_client import handle_file

    names = _names(module)
    live = dict(zip(names, client.predict(*run_args, api_name=run_api)))
    path = client.predict(api_name=f"/{family}_save_trace")
    assert Path(path).suffix == ".zip" and zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as z:
        assert set(z.namelist()) == {"trace.json", "tensors.safetensors"}
    loaded = dict(zip(names, client.predict(handle_file(path), api_name=f"/{family}_load_trace")))
    return live, loaded, path


def _same_views(live: dict, loaded: dict, *, skip=("status",)) -> int:
    """Every output the live run filled is the same after loading; returns the plots compared."""
    plots = 0
    for name, v in live.items():
        if name in skip or v is None or v == {"__type__": "update"}:  # not filled (gr.skip())
            continue
        if _is_plot(v):
            assert _is_plot(loaded[name]), name
            assert json.loads(loaded[name]["plot"]) == json.loads(v["plot"]), name
            plots += 1
        else:
            assert loaded[name] == v, name
    return plots


def test_whisper_tab_saves_and_loads(client):
    from gradio_client import handle_file

    from apps import whisper_tab

    live, loaded, _ = _run_save_load(client, whisper_tab, "/transcribe",
                                     [handle_file(str(FOX)), "whisper-tiny.en", "", 1, 5, "alignment"],
                                     "whisper")
    assert live["text"] == loaded["text"] and "Done" in loaded["status"]
    assert "loaded a saved trace" in loaded["status"]
    assert _same_views(live, loaded) >= 3
    # the input views, drawn after the encoder in a live run, are drawn from the loaded trace
    for name in ("step_plot", "words_plot", "mel_plot", "enc_plot", "map_plot"):
        assert _is_plot(loaded[name]), name
    # the linked step views read the loaded trace from the State
    step = client.predict(0, "alignment", api_name="/step")
    assert _is_plot(step[0])


def test_ctc_tab_saves_and_loads(client):
    from gradio_client import handle_file

    from apps import ctc_tab

    live, loaded, _ = _run_save_load(client, ctc_tab, "/transcribe_1",
                                     [handle_file(str(FOX)), "tiny", "the quick brown fox", "",
                                      4, 5], "ctc")
    assert loaded["text"] == live["text"] and loaded["status"] == live["status"]
    assert _same_views(live, loaded) >= 8
    assert client.predict(1, api_name="/character")[0]["type"] == "plotly"


def test_tts_tab_saves_and_loads(client):
    from apps import tts_tab

    live, loaded, _ = _run_save_load(client, tts_tab, "/tts_speak",
                                     ["Hello world.", tts_tab.default_model(), 0.5, 0, 2.0, 0, "griffin-lim",
                                      None, False, True], "tts")
    assert loaded["status"] == live["status"] and loaded["tokens"] == live["tokens"]
    assert _same_views(live, loaded, skip=("status", "gl_audio", "hifigan_audio")) >= 4
    assert loaded["gl_audio"] is not None  # the Griffin-Lim audio is in the trace
    assert _is_plot(client.predict(1, 0, api_name="/tts_step"))


@pytest.mark.parametrize("model_id", ["tiny-ast", "tiny-seq"])
def test_classify_tab_saves_and_loads(client, model_id):
    from gradio_client import handle_file

    from apps import classify_tab

    live, loaded, _ = _run_save_load(client, classify_tab, "/classify",
                                     [handle_file(str(FOX)), model_id, 3], "classify")
    assert loaded["status"] == live["status"] and loaded["heads_md"] == live["heads_md"]
    assert "|" in loaded["heads_md"]  # the three-heads table, from the trace's encoder_config
    assert _same_views(live, loaded) >= (5 if model_id == "tiny-ast" else 3)


def test_a_trace_of_another_family_is_refused_with_its_tab(client, tmp_path):
    from gradio_client import handle_file

    tr = Trace(family="ctc", model_id="m")
    tr.add("x", torch.zeros(2), ("sample",))
    out = client.predict(handle_file(str(tr.save_zip(tmp_path / "ctc.zip"))),
                         api_name="/whisper_load_trace")
    assert "ctc trace" in out[0] and "CTC tab" in out[0]


def test_a_bad_upload_is_a_message_and_the_tab_keeps_serving(client, tmp_path):
    from gradio_client import handle_file

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"this is not a zip")
    out = client.predict(handle_file(str(bad)), api_name="/ctc_load_trace")
    assert "not a zip archive" in out[0]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../trace.json", "{}")
        z.writestr("../../tensors.safetensors", b"")
    out = client.predict(handle_file(str(evil)), api_name="/ctc_load_trace")
    assert "climbs out of the archive" in out[0]
    bare = Trace(family="ctc", model_id="m")  # a ctc trace without what the views read
    bare.add("input.waveform", torch.zeros(16000), ("sample",))
    out = client.predict(handle_file(str(bare.save_zip(tmp_path / "bare.zip"))),
                         api_name="/ctc_load_trace")
    assert "this ctc trace lacks what the tab draws (KeyError" in out[0]
    live = client.predict(handle_file(str(FOX)), "tiny", "", "", 1, 5, api_name="/transcribe_1")
    assert "frames" in live[0]  # still serving


def test_figures_export_as_offline_html(client, tmp_path):
    from gradio_client import handle_file

    client.predict(handle_file(str(FOX)), "tiny", "", "", 1, 5, api_name="/transcribe_1")
    path = client.predict(api_name="/ctc_figures_html")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"plotly.min.js", "index.html", "logits.html", "wave.html"} <= names
        page = z.read("logits.html").decode()
    assert 'src="plotly.min.js"' in page and "Plotly.newPlot" in page


def test_plots_carry_the_png_button_config(client, tmp_path):
    """Also after a failed load left every plot unchanged (gr.skip(): Gradio re-creates the
    session's components from their class)."""
    from gradio_client import handle_file

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK not really")
    assert "not a zip archive" in client.predict(handle_file(str(bad)), api_name="/ctc_load_trace")[0]
    out = client.predict(handle_file(str(FOX)), "tiny", "", "", 1, 5, api_name="/transcribe_1")
    cfg = json.loads(out[3]["plot"])["config"]  # "wave"
    assert cfg["toImageButtonOptions"] == {"format": "png", "filename": "ctc-wave", "scale": 2}


# -- Python: a round trip per family, and the safe reader --------------------------------------

def _trace(family: str, tiny) -> Trace:
    from lab.audio import load_audio

    clip = load_audio(FOX)
    full = CapturePolicy.full()
    if family == "whisper":
        from lab.whisper import trace_whisper

        return trace_whisper(clip, tiny["whisper"], policy=full, max_steps=3)
    if family == "ctc":
        from lab.ctc import trace_ctc

        return trace_ctc(clip, tiny["ctc"], policy=full, reference="the quick brown fox")
    if family == "tts":
        from lab.tts import trace_tts

        return trace_tts("hello world", tiny["tts"], policy=full, vocoder=None, maxlenratio=2.0)
    from lab.classify import trace_classify

    return trace_classify(clip, tiny[family], policy=full)


def _json(x):
    return json.loads(json.dumps(x, default=str))


@pytest.mark.parametrize("family", ["whisper", "ctc", "tts", "ast", "seq"])
def test_round_trip_per_family(family, tiny, tmp_path):
    """save_zip -> load_zip, and a zipped ``Trace.save`` directory (what ``audiolab trace ...
    --out DIR`` writes, zipped with its folder), give back the same trace."""
    from lab import trace_io

    tr = _trace(family, tiny)
    a = Trace.load_zip(tr.save_zip(tmp_path / "a.zip"), family=tr.family)
    d = tr.save(tmp_path / "out" / "trace")
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as z:
        z.write(d / "trace.json", "out/trace/trace.json")
        z.write(d / "tensors.safetensors", "out/trace/tensors.safetensors")
        z.writestr("out/tts.wav", b"RIFF....")  # other files beside the trace are ignored
    (b,) = trace_io.load_zip(tmp_path / "b.zip")
    for back in (a, b):
        assert back.describe() == tr.describe()
        assert all(torch.equal(back[n], tr[n]) for n in tr.tensors)
        assert back.meta == _json(tr.meta) and back.steps == _json(tr.steps)
        assert back.tokens == tr.tokens and back.time_bases == tr.time_bases


def test_several_traces_keep_their_order(tmp_path):
    from lab import trace_io

    traces = []
    for i in range(3):
        t = Trace(family="tts", model_id=f"m{i}")
        t.add("x", torch.full((2,), float(i)), ("sample",))
        traces.append(t)
    back = trace_io.load_zip(trace_io.save_zip(traces, tmp_path / "s.zip"), family="tts")
    assert [t.model_id for t in back] == ["m0", "m1", "m2"]
    with pytest.raises(LabError, match="holds 3 traces: at most 2"):
        trace_io.load_zip(tmp_path / "s.zip", max_traces=2)


def _zip(path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _good(tmp_path) -> dict:
    from lab.trace_io import trace_bytes

    t = Trace(family="ctc")
    t.add("input.waveform", torch.randn(1000), ("sample",))
    return trace_bytes(t)


@pytest.mark.parametrize("name, message", [
    ("../trace.json", "climbs out"), ("a/../../trace.json", "climbs out"),
    ("/etc/trace.json", "absolute path"), ("C:/x/trace.json", "absolute path"),
    ("..\\trace.json", "absolute path")])
def test_member_names_that_leave_the_archive_are_refused(tmp_path, name, message):
    from lab import trace_io

    members = _good(tmp_path)
    path = _zip(tmp_path / "x.zip", {name: members["trace.json"],
                                     "tensors.safetensors": members["tensors.safetensors"]})
    with pytest.raises(LabError, match=message):
        trace_io.load_zip(path)


def test_pickle_and_broken_members_are_refused(tmp_path):
    import io

    from lab import trace_io

    members = _good(tmp_path)
    buf = io.BytesIO()
    torch.save({"input.waveform": torch.zeros(3)}, buf)  # a pickle under the tensors' name
    path = _zip(tmp_path / "p.zip", {"trace.json": members["trace.json"],
                                     "tensors.safetensors": buf.getvalue()})
    with pytest.raises(LabError, match="not a safetensors file"):
        trace_io.load_zip(path)
    path = _zip(tmp_path / "j.zip", {"trace.json": b"{not json",
                                     "tensors.safetensors": members["tensors.safetensors"]})
    with pytest.raises(LabError, match="not valid JSON"):
        trace_io.load_zip(path)
    doc = json.loads(members["trace.json"])
    doc["axes"] = {"input.waveform": ["sample", "extra"]}
    path = _zip(tmp_path / "a.zip", {"trace.json": json.dumps(doc),
                                     "tensors.safetensors": members["tensors.safetensors"]})
    with pytest.raises(LabError, match="1 dimensions but 2 axes"):
        trace_io.load_zip(path)
    doc["axes"] = {}
    path = _zip(tmp_path / "m.zip", {"trace.json": json.dumps(doc),
                                     "tensors.safetensors": members["tensors.safetensors"]})
    with pytest.raises(LabError, match="disagree"):
        trace_io.load_zip(path)
    path = _zip(tmp_path / "n.zip", {"README.md": "hi", "tensors.safetensors": b""})
    with pytest.raises(LabError, match="holds no trace"):
        trace_io.load_zip(path)


def test_size_limits_hold(tmp_path):
    from lab import trace_io

    members = _good(tmp_path)  # 1000 float32 samples: ~4 kB of tensors
    path = _zip(tmp_path / "big.zip", members)
    assert trace_io.load_zip(path, max_bytes=10_000)
    with pytest.raises(LabError, match="over the"):
        trace_io.load_zip(path, max_bytes=3_000)
    # a deflated run of zeros far larger than its archive: refused by its declared size
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("trace.json", members["trace.json"])
        z.writestr("tensors.safetensors", b"\0" * 20_000_000)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(LabError, match="over the"):
        trace_io.load_zip(bomb, max_bytes=1_000_000)


def test_wrong_family_names_the_tab(tmp_path):
    from lab import trace_io

    path = _zip(tmp_path / "c.zip", _good(tmp_path))
    with pytest.raises(LabError, match="this is a ctc trace .* load it in the CTC tab"):
        trace_io.load_zip(path, family="tts")
