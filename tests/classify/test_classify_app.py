"""The Classify tab through gradio_client: tiny random models substituted with
``factory.set_loader``; bad input comes back as a message and the app keeps serving."""
import numpy as np
import pytest
import soundfile as sf

from apphelp import OUTPUTS, connected, serving, substituted, tabs_app

pytestmark = pytest.mark.app

# what the client sees of /classify: no State, no layout columns
OUT = OUTPUTS["classify"]


@pytest.fixture(scope="module")
def app(loaded):
    from apps import classify_tab

    ids = {"tiny-ast": "ast", "tiny-seq": "wav2vec2-seq", "tiny-frame": "wav2vec2-frame"}

    def loader(model_id, family, attention=True):
        assert family == "classify"
        if model_id not in ids:
            from lab.errors import LabError

            raise LabError(f"model {model_id!r} is not available here")
        return loaded[ids[model_id]]

    with substituted(loader), serving(tabs_app(classify_tab, tabs=False, queue=False)) as url, \
            connected(url) as client:
        yield client


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    p = tmp_path_factory.mktemp("app") / "tone.wav"
    t = np.arange(12000) / 16000
    sf.write(p, (0.3 * np.sin(2 * np.pi * (300 + 800 * t) * t)).astype("float32"), 16000)
    return str(p)


def call(client, *args, api):
    from gradio_client import handle_file

    args = [handle_file(a) if isinstance(a, str) and a.endswith(".wav") else a for a in args]
    return client.predict(*args, api_name=api)


def test_endpoints_are_named(app):
    names = set(app.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/classify", "/patch", "/overlay", "/contribution"} <= names


def test_ast_run_then_patch_picker(app, wav):
    res = dict(zip(OUT, call(app, wav, "tiny-ast", 3, api="/classify")))
    assert "ASTForAudioClassification" in res["status"] and "12 x 12 = 144" in res["status"]
    assert res["grid_plot"] is not None and res["pixels_plot"] is not None
    assert "Trace[classify]" in res["describe"] and "ast.rollout" in res["describe"]
    assert "CTC" in res["heads_md"]
    grid, pixels, attn = app.predict(4, 7, 0, api_name="/patch")
    assert "patch #55 (f=4, t=7)" in str(pixels)
    overlay = app.predict("CLS attention (one head)", 1, 1, api_name="/overlay")
    assert "CLS attention, layer 1, head 1" in str(overlay)


def test_sequence_and_frame_runs(app, wav):
    res = dict(zip(OUT, call(app, wav, "tiny-seq", 5, api="/classify")))
    assert "Wav2Vec2ForSequenceClassification" in res["status"]
    assert res["contrib_plot"] is not None and res["pool_plot"] is not None
    fig = app.predict("yes", api_name="/contribution")
    assert "logit(yes)" in str(fig)
    res = dict(zip(OUT, call(app, wav, "tiny-frame", 2, api="/classify")))
    assert "Wav2Vec2ForAudioFrameClassification" in res["status"]
    assert res["timeline_plot"] is not None


def test_bad_input_is_a_message_and_the_app_keeps_serving(app, wav, tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000, np.float32), 16000)
    res = dict(zip(OUT, call(app, str(silent), "tiny-ast", 3, api="/classify")))
    assert "silent" in res["status"]
    res = dict(zip(OUT, call(app, wav, "nobody/nothing", 3, api="/classify")))
    assert "not available" in res["status"]
    res = dict(zip(OUT, call(app, None, "tiny-ast", 3, api="/classify")))
    assert "no audio" in res["status"]
    res = dict(zip(OUT, call(app, wav, "tiny-ast", 3, api="/classify")))
    assert res["status"].startswith("✅")


def test_demo_models_build_offline(monkeypatch, tmp_path, wav):
    """The demo entries build a tiny random model in the lab cache and run through the real
    resolver (no substituted loader)."""
    from apps import classify_tab, factory

    monkeypatch.setenv("AUDIOLAB_CACHE", str(tmp_path))
    saved = factory._loader
    factory.set_loader(None)
    try:
        res = dict(zip(classify_tab.OUTPUTS, classify_tab.classify(wav, "demo: tiny random AST", 3)))
    finally:
        factory.set_loader(saved)
    assert "random weights" in res["status"] and "12 x 101 = 1212" in res["status"]
    assert (tmp_path / "classify-demo" / "ast" / "config.json").is_file()
