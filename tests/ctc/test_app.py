"""The CTC and Compare tabs driven through gradio_client with tiny models substituted via
``apps.factory.set_loader``; bad input comes back as a message and the app keeps serving."""
from __future__ import annotations

import numpy as np
import pytest

from apphelp import FOX, OUTPUTS, recording, serving, substituted, tabs_app
from apphelp import client  # noqa: F401 -- a fixture
from apphelp import plot as _plot, write_wav as _wav

pytestmark = pytest.mark.app

OUT = OUTPUTS["ctc"]  # State not in the API


@pytest.fixture(scope="module")
def app_url():
    from apps import compare_tab, ctc_tab

    with serving(tabs_app(ctc_tab, compare_tab)) as url:
        yield url


@pytest.fixture
def tiny_app(app_url):
    from lab.ctc import tiny
    from lab.models import load_cached

    ctc = tiny.loaded("wav2vec2")
    loader, calls = recording(lambda model_id, family, attention:
                              ctc if family == "ctc" else load_cached(model_id, family=family,
                                                                      attention=attention))
    with substituted(loader):
        yield app_url, calls


def _run(client, path, reference="", lm_text="", beam=8):
    from gradio_client import handle_file

    out = client.predict(handle_file(str(path)) if path else None, "tiny", reference, lm_text, beam, 5,
                         api_name="/transcribe")
    return dict(zip(OUT, out))


def test_api_names(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/transcribe", "/character", "/word", "/attention", "/frame_grid", "/compare"} <= names


def test_transcribe_then_linked_character_and_word(tiny_app, client):
    _, calls = tiny_app
    o = _run(client, FOX, reference="The quick brown fox jumps over the lazy dog.",
             lm_text="the quick brown fox jumps over the lazy dog")
    assert calls[0] == ("tiny", "ctc")
    assert "50/s" in o["status"] and "frames" in o["status"]
    assert "beam + 3-gram LM" in o["decoders"] and "reference" in o["decoders"]
    for k in ("wave", "grid", "chain", "logits", "strip", "collapse", "words", "attention"):
        assert len(_plot(o[k])["data"]) >= 1, k
    assert o["words"] and o["char_audio"] and o["word_audio"]
    # pick character 3: the stepper highlights its frames, the audio is its slice
    fig, audio = client.predict(3, api_name="/character")
    assert len(_plot(fig)["layout"]["shapes"]) == 1
    fig, audio = client.predict(2, api_name="/word")
    assert _plot(fig)["data"]
    assert _plot(client.predict(0, "mean", api_name="/attention"))["data"][0]["type"] == "heatmap"
    assert _plot(client.predict(1.0, "0", api_name="/frame_grid"))["data"]


def test_bad_input_is_a_message_and_the_app_keeps_serving(tiny_app, client, tmp_path):
    o = _run(client, _wav(tmp_path / "silent.wav", np.zeros(16000)))
    assert "silent" in o["status"]
    o = _run(client, FOX, lm_text="1234 ???")
    assert "no word" in o["status"]
    o = _run(client, FOX)  # still serving
    assert "frames" in o["status"] and o["text"]


@pytest.mark.real
def test_compare_tiny_ctc_with_real_whisper(tiny_app, client):
    from gradio_client import handle_file

    table, fig, ctc_wer, whisper_wer = client.predict(
        handle_file(str(FOX)), "tiny", "whisper-tiny.en", "The quick brown fox jumps over the lazy dog.",
        api_name="/compare")
    assert "decoder passes" in table and "whisper-tiny.en" in table and "tiny-random-wav2vec2" in table
    names = [d["name"] for d in _plot(fig)["data"]]
    assert names[0].startswith("ctc") and names[1].startswith("whisper")
    assert "WER" in whisper_wer
