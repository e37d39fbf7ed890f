"""The TTS tab driven through gradio_client with tiny random models (factory.set_loader):
streaming, linked views, MOS ratings to a CSV, intelligibility, errors as messages."""
from __future__ import annotations

import csv

import pytest

from apphelp import OUTPUTS, recording, serving, streamed, substituted, tabs_app
from apphelp import client  # noqa: F401 -- a fixture
from apphelp import plot as _plot

pytestmark = pytest.mark.app

OUT = OUTPUTS["tts"]  # the State is not in the API


@pytest.fixture(scope="module")
def app_url():
    import apps.tts_tab as tab

    with serving(tabs_app(tab, tabs=False)) as url:
        yield url


def _tts_only(model_id, family, attention, tts):
    if family != "tts":
        from lab.errors import LabError

        raise LabError(f"no {family} model in this test")
    return tts


@pytest.fixture
def tiny_app(app_url, tts_long, tmp_path, monkeypatch):
    loader, calls = recording(lambda model_id, family, attention:
                              _tts_only(model_id, family, attention, tts_long))
    monkeypatch.setenv("AUDIOLAB_MOS_CSV", str(tmp_path / "mos.csv"))
    with substituted(loader):
        yield calls


def _speak(client, text="Hello, world!", *, threshold=0.5, maxlenratio=4.0, split=True,
           drop_unknown=False):
    return streamed(client, OUT, text, "speecht5-tiny-random", threshold, 0.0, maxlenratio, 0,
                    "griffin-lim", None, drop_unknown, split, api_name="/tts_speak", timeout=300)


def test_api_names(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/tts_speak", "/tts_step", "/tts_play", "/tts_alignment", "/tts_encoder", "/tts_sentence",
            "/tts_intelligibility", "/tts_rate", "/tts_ratings_csv"} <= names


def test_speak_streams_and_links(tiny_app, client):
    outs = _speak(client)
    assert tiny_app and tiny_app[0][1] == "tts"
    final = outs[-1]
    assert "decoder steps" in final["status"] and "max_length" in final["status"], final["status"]
    assert "Encoder done" in outs[0]["status"] and any("Decoding" in o["status"] for o in outs[1:-1])
    n = final["step"]["maximum"] + 1
    assert n == int(15 * 4.0 / 2)  # 15 tokens, maxlenratio 4, reduction factor 2
    growth = _plot(final["growth_plot"])  # slider restyles (gr.Plot drops animation frames)
    steps = growth["layout"]["sliders"][0]["steps"]
    assert len(steps) == n and {s["method"] for s in steps} == {"restyle"}
    assert [d["type"] for d in _plot(final["live_plot"])["data"]] == ["heatmap", "bar"]
    stop = _plot(final["stop_plot"])
    assert any("stopped: max_length" == d.get("name") for d in stop["data"])
    assert final["gl_audio"] is not None and "griffin-lim" in final["status"]
    sent = [o[k]["plot"] for o in outs for k in OUT if isinstance(o[k], dict) and "plot" in o[k]]
    assert max(map(len, sent)) < 1_500_000
    step_fig = _plot(client.predict(1, 3, api_name="/tts_step"))
    assert step_fig["layout"]["title"]["text"].startswith("step 3 / ")
    job = client.submit(1, api_name="/tts_play")
    job.result(timeout=120)
    played = job.outputs()
    assert len(played) >= 10 and played[-1][1] == n - 1
    assert _plot(played[0][0])["layout"]["title"]["text"].startswith("step 0 / ")
    al = _plot(client.predict(1, "1", "0", api_name="/tts_alignment"))
    assert "layer 1, head 0" in al["layout"]["title"]["text"]


def test_mos_ratings_go_to_csv(tiny_app, client, tmp_path):
    _speak(client, maxlenratio=1.0)
    msg, table = client.predict(1, "ann", None, 4, "fine", api_name="/tts_rate")
    assert "saved 1 rating" in msg
    rows = list(csv.DictReader((tmp_path / "mos.csv").open()))
    assert [(r["rater"], r["vocoder"], r["score"], r["comment"]) for r in rows] == [
        ("ann", "griffin-lim", "4", "fine")]
    assert (tmp_path / "mos_clips" / f"{rows[0]['clip_id']}.wav").is_file()
    assert table["data"][0][1:4] == ["griffin-lim", 1, 4.0]
    # no HiFi-GAN clip on screen (offline): rating it is a message, not a crash
    msg, _ = client.predict(1, "bob", 5, None, "", api_name="/tts_rate")
    assert "no hifigan clip" in msg
    path = client.predict(api_name="/tts_ratings_csv")
    assert open(path).read() == (tmp_path / "mos.csv").read_text()


def test_bad_text_is_a_message_and_app_keeps_serving(tiny_app, client):
    outs = _speak(client, "Hi \U0001F600")
    assert "U+1F600" in outs[-1]["status"] and "Error" in outs[-1]["status"]
    outs = _speak(client, "")
    assert "empty" in outs[-1]["status"]
    outs = _speak(client, "Hi \U0001F600", drop_unknown=True, maxlenratio=1.0)
    assert "decoder steps" in outs[-1]["status"]


def test_long_text_split_into_sentences(tiny_app, client):
    text = "This sentence is short. This one is a little longer than that. End."
    outs = _speak(client, text, maxlenratio=1.0)
    assert "3 sentences" in outs[-1]["status"] and outs[-1]["sentence"]["visible"] is True
    again = dict(zip(OUT, client.predict(2, api_name="/tts_sentence")))
    assert "sentence 2" in again["status"]
    outs = _speak(client, text, maxlenratio=1.0, split=False)
    assert "max_text_positions" in outs[-1]["status"]


def test_intelligibility_without_whisper_is_a_message(tiny_app, client):
    _speak(client, maxlenratio=1.0)
    out = client.predict(1, api_name="/tts_intelligibility")
    assert "no whisper model in this test" in out
