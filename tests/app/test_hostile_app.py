"""Hostile input through the running app (gradio_client, loopback), a fast subset of
``scripts/hostile_app.py``'s table on tiny random models: every upload, text and model id gets a
clear message naming the problem (or a result), never a traceback or a server path, and the app
keeps serving afterwards."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parents[2]


def _harness():
    spec = importlib.util.spec_from_file_location("hostile_app", ROOT / "scripts" / "hostile_app.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


H = _harness()
TABS = ["whisper", "ctc", "classify-ast"]


@pytest.fixture(scope="module")
def app():
    import torch
    from gradio_client import Client

    from apps import factory

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    ids = H.use_tiny_models()
    demo, url, api = H.launch()
    client = Client(url, verbose=False)
    yield client, api, ids
    client.close()
    demo.close()
    factory.set_loader(None)
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory):
    return H.hostile_audio(tmp_path_factory.mktemp("hostile"), long_minutes=11)


# upload -> words the message must hold, per tab (None: a result is fine)
UPLOADS = {
    "empty file (0 bytes)": {t: ["empty"] for t in TABS},
    "random bytes (.wav)": {t: ["could not read"] for t in TABS},
    "truncated WAV (first 200 bytes)": {t: ["truncated", "promises"] for t in TABS},
    "text renamed .mp3": {t: ["could not read", "text.mp3"] for t in TABS},
    "NaN/inf float WAV": {t: ["NaN/inf"] for t in TABS},
    "10 ms clip": {"whisper": None, "ctc": ["too short", "at least"],
                   "classify-ast": ["too short", "at least"]},
    "5-frame 6-channel clip": {"whisper": None, "ctc": ["too short", "at least"],
                               "classify-ast": ["too short", "at least"]},
    "1-frame stereo clip": {"whisper": None, "ctc": ["too short", "at least"],
                            "classify-ast": ["too short", "at least"]},
}


def _check(cell, words, label):
    assert cell.kind in ("message", "result", "refused"), (label, cell)
    assert not cell.problems, (label, cell.problems, cell.text)
    if words is None:
        return
    assert cell.kind == "message", (label, cell.text)
    for w in words:
        assert w in cell.text, (label, w, cell.text)


@pytest.mark.parametrize("tab", TABS)
def test_hostile_uploads_get_a_message_and_the_tab_keeps_serving(app, uploads, tab):
    client, api, ids = app
    for label, expect in UPLOADS.items():
        cell = H.ask(client, api, tab, uploads[label], ids[tab])
        _check(cell, expect[tab], label)
    assert H.serving(client, api, tab, ids[tab])


def test_over_long_upload_is_refused_with_the_limit(app, uploads):
    client, api, ids = app
    cell = H.ask(client, api, "ctc", uploads["over-long (11 min)"], ids["ctc"])
    _check(cell, ["660.0 s long", "600 s limit"], "over-long")
    assert H.serving(client, api, "ctc", ids["ctc"])


def test_hostile_texts_get_a_message(app):
    client, api, ids = app
    texts = H.hostile_texts()
    expect = {"empty text": ["empty"], "emoji": ["U+1F600"], "control chars": ["U+0007"],
              "HTML/script tags": ["U+003C"]}
    for label, words in expect.items():
        cell = H.ask(client, api, "tts", None, ids["tts"], text=texts[label], user_input=texts[label])
        _check(cell, words, label)
        assert "<script>" not in cell.raw and "<img" not in cell.raw  # escaped in the box
    assert H.serving(client, api, "tts", ids["tts"])


def test_hostile_model_ids_get_a_message(app, tmp_path):
    client, api, ids = app
    model_ids = H.hostile_model_ids(tmp_path)
    for tab in ("ctc", "classify-ast"):  # the boxes that take any text (the others: a dropdown)
        for label in ("/etc/passwd", "../../etc", "javascript:alert(1)", "a local dir with config.json"):
            cell = H.ask(client, api, tab, H.FOX, model_ids[label], user_input=model_ids[label])
            assert cell.kind == "message", (tab, label, cell.text)
            assert not cell.problems, (tab, label, cell.problems, cell.text)
            assert "internal error" not in cell.text, (tab, label, cell.text)
        assert H.serving(client, api, tab, ids[tab])
    cell = H.ask(client, api, "whisper", H.FOX, "/etc/passwd", user_input="/etc/passwd")
    assert cell.kind == "refused" and "not in the list of choices" in cell.text
