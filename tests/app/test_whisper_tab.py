"""The Whisper tab driven through gradio_client: a tiny random Whisper substituted with
``factory.set_loader`` (fast), one real call on the offline tiny.en, and bad input that must come
back as a message while the app keeps serving."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from apphelp import CLIPS, FOX, OUTPUTS, recording, streamed, substituted
from apphelp import app_url, client  # noqa: F401 -- fixtures
from apphelp import plot as _plot, write_wav as _wav

pytestmark = pytest.mark.app

OUT = OUTPUTS["whisper"]  # State is not in the API


def _tiny_whisper(out: Path) -> Path:
    """A random 2-layer Whisper (d_model 64) with the offline bundle's processor."""
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration, WhisperProcessor

    from lab.models import locate

    bundle, _, _ = locate("whisper-tiny.en")
    torch.manual_seed(0)
    cfg = WhisperConfig(vocab_size=51864, num_mel_bins=80, d_model=64, encoder_layers=2,
                        decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
                        encoder_ffn_dim=128, decoder_ffn_dim=128, max_source_positions=1500,
                        max_target_positions=24, decoder_start_token_id=50257, bos_token_id=50256,
                        eos_token_id=50256, pad_token_id=50256)
    model = WhisperForConditionalGeneration(cfg).eval()
    gen = GenerationConfig(decoder_start_token_id=50257, bos_token_id=50256, eos_token_id=50256,
                           pad_token_id=50256, max_length=24)
    gen.alignment_heads = [[1, 0], [1, 1]]
    gen.no_timestamps_token_id = 50362
    gen.is_multilingual = False
    model.generation_config = gen
    model.save_pretrained(out)
    WhisperProcessor.from_pretrained(bundle).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_loaded(tmp_path_factory):
    from lab.models import resolve

    return resolve(str(_tiny_whisper(tmp_path_factory.mktemp("tiny_whisper_app"))), family="whisper")


@pytest.fixture
def tiny_app(app_url, tiny_loaded):
    loader, calls = recording(lambda model_id, family, attention: tiny_loaded)
    with substituted(loader):
        yield app_url, calls


def _run(client, path, *, reference="", beam=1, top_k=5):
    from gradio_client import handle_file

    return streamed(client, OUT, handle_file(str(path)) if path else None, "whisper-tiny.en", reference,
                    beam, top_k, "alignment", api_name="/transcribe", timeout=300)


def test_api_names(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/transcribe", "/step", "/encoder_attention"} <= names


def test_transcribe_streams_then_links_steps(tiny_app, client):
    _, calls = tiny_app
    outs = _run(client, FOX, reference="<img src=x onerror=alert(1)> the quick brown fox", beam=2)
    assert calls and calls[0][1] == "whisper"
    final = outs[-1]
    assert final["status"].startswith("**Done**"), final["status"]
    n_steps = final["describe"].count("cross_attn.pattern") - 1  # minus the prompt's
    assert n_steps >= 2
    # streamed: the encoder yield, then one per decoder step, then the finished trace
    assert len(outs) >= n_steps + 2
    assert "Encoder done" in outs[0]["status"]
    mel = _plot(outs[0]["mel_plot"])
    assert mel["layout"]["xaxis"]["title"]["text"] == "time (s)"
    assert outs[1]["status"].startswith("**Decoding**")
    step_fig = _plot(final["step_plot"])
    assert [d["type"] for d in step_fig["data"]] == ["heatmap", "scatter", "bar"]
    assert final["step"]["value"] == final["step"]["maximum"] == n_steps - 1
    assert 'data-step="%d" style="' % (n_steps - 1) in final["transcript"]
    assert "WER" in final["wer"] and "<img" not in final["wer"]  # hostile text is escaped
    assert final["beam_plot"]["visible"] is True and "**Beam search** (size 2)" in final["status"]
    beam = _plot(final["beam_plot"]["value"])
    assert any(d.get("name") == "finished" for d in beam["data"])
    sent = [o[k]["plot"] for o in outs for k in OUT if isinstance(o[k], dict) and "plot" in o[k]]
    assert len(sent) >= 5 and max(map(len, sent)) < 1_500_000  # every figure stays small

    # the slider's handler: another step, every linked view follows (state kept server-side)
    step_plot, transcript, words, cross_map = client.predict(1, "alignment", api_name="/step")
    assert _plot(cross_map)["layout"]["shapes"][0]["y0"] == 0.5  # the box around row 1
    assert 'data-step="1" style="background' in transcript and "outline" in transcript.split('data-step="1"')[1][:80]
    assert "Step 1:" in _plot(step_plot)["layout"]["title"]["text"]
    assert _plot(words)["layout"]["xaxis"]["title"]["text"] == "time (s)"
    enc = _plot(client.predict(1, 1, "all", api_name="/encoder_attention"))
    assert "layer 1 head 1" in enc["layout"]["title"]["text"]


def test_bad_input_is_a_message_and_app_keeps_serving(tiny_app, client, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 20)
    silent = _wav(tmp_path / "silent.wav", np.zeros(16000))
    expected = {empty: "empty", corrupt: "could not read", silent: "silent"}
    for path, words in expected.items():
        out = _run(client, path)[-1]
        assert "<b>Error:</b>" in out["status"] and words in out["status"], (path.name, out["status"])
        assert "Traceback" not in out["status"]
    out = _run(client, None)[-1]
    assert "no audio" in out["status"]
    # still serving: the next good call works
    assert _run(client, FOX)[-1]["status"].startswith("**Done**")


def test_long_audio_goes_to_the_whole_recording_panel(tiny_app, client, tmp_path):
    # the window-by-window run itself: tests/app/test_whisper_long_tab.py
    rng = np.random.default_rng(0)
    long = _wav(tmp_path / "long.wav", 0.1 * rng.standard_normal(16000 * 31), rate=16000)
    out = _run(client, long)[-1]
    assert out["status"].startswith("**Whole recording** (31.0 s"), out["status"]


def test_unavailable_model_is_a_message(app_url, client):
    from apps import factory

    factory.set_loader(None)
    from gradio_client import handle_file

    out = client.predict(handle_file(str(FOX)), "openai/whisper-base", "", 1, 5, "alignment",
                         api_name="/transcribe")
    status = dict(zip(OUT, out))["status"]
    assert "<b>Error:</b>" in status and "not available here" in status, status


def test_step_before_any_run_is_harmless(client):
    step_plot, transcript, words, cross_map = client.predict(1, "alignment", api_name="/step")
    for v in (step_plot, transcript, words, cross_map):  # gr.skip(): nothing changes
        assert isinstance(v, dict) and v["__type__"] == "update" and "value" not in v


@pytest.mark.real
def test_real_tiny_en_transcribes_a_clip(app_url, client):
    from apps import factory

    factory.set_loader(None)
    final = _run(client, CLIPS / "open_the_door.wav",
                 reference="Please open the door and close the window.")[-1]
    assert final["status"].startswith("**Done**"), final["status"]
    assert final["text"].strip() == "Please open the door and close the window."
    assert "WER 0.0%" in final["wer"]
    words = _plot(final["words_plot"])
    labels = [a["text"] for a in words["layout"]["annotations"]]
    assert labels[:3] == ["Please", "open", "the"]
