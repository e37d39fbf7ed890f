"""The Whisper tab's language step, task and prompt through gradio_client, on tiny random
Whispers substituted with ``factory.set_loader``: a "multilingual" one (three language tokens)
and an English-only one (no language step: a note, never an error); and the real whisper-base
on the committed German clip (``@pytest.mark.real``)."""
from __future__ import annotations

import pytest

from apphelp import CLIPS, FOX, OUTPUTS, plot, streamed
from apphelp import app_url, client  # noqa: F401 -- fixtures

pytestmark = pytest.mark.app

GERMAN = CLIPS / "lang" / "de_de.wav"
# /transcribe's outputs as the API sends them (the trace State is not in the API)
OUT = OUTPUTS["whisper"] + ["seg_plot", "prompt_html", "lang_plot"]


def _multilingual(loaded):
    gen = loaded.model.generation_config
    gen.is_multilingual = True
    gen.lang_to_id = {"<|en|>": 50258, "<|de|>": 50260, "<|fr|>": 50264}
    gen.task_to_id = {"transcribe": 50358, "translate": 50357}
    return loaded


@pytest.fixture(scope="module")
def tinies():
    from lab.whisper import tiny

    return {"english": tiny.loaded(max_positions=16, seed=0),
            "multi": _multilingual(tiny.loaded(max_positions=16, seed=1))}


@pytest.fixture
def use(tinies):
    from apps import factory

    def pick(kind):
        factory.set_loader(lambda model_id, family, attention=True: tinies[kind])

    yield pick
    factory.set_loader(None)


def _run(client, path, model="whisper-base", language="detect", task="transcribe"):
    from gradio_client import handle_file

    return streamed(client, OUT, handle_file(str(path)), model, "", 1, 5, "alignment", False, language,
                    task, api_name="/transcribe", timeout=300)


def _plot(value) -> dict:
    """A plot sent as is or inside an update (``gr.update(value=..., visible=True)``)."""
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return plot(value)


def test_detect_and_translate_show_prompt_and_language_step(use, client):
    use("multi")
    final = _run(client, FOX, task="translate")[-1]
    assert final["status"].startswith("**Done**"), final["status"]
    prompt = final["prompt_html"]
    assert "&lt;|startoftranscript|&gt;" in prompt and "&lt;|translate|&gt;" in prompt
    assert "&lt;|notimestamps|&gt;" in prompt and "detected" in prompt
    fig = _plot(final["lang_plot"])
    bar = fig["data"][0]
    assert bar["type"] == "bar" and len(bar["y"]) == 3 and abs(sum(bar["x"]) - 1) < 1e-4
    assert bar["marker"]["color"][0] == "#d62728"  # the chosen (most likely) language in red
    assert fig["layout"]["title"]["text"].startswith("Language step:")


def test_forced_language_is_in_the_prompt(use, client):
    use("multi")
    final = _run(client, FOX, language="fr")[-1]
    assert "&lt;|fr|&gt;" in final["prompt_html"] and "forced" in final["prompt_html"]
    fig = _plot(final["lang_plot"])
    assert "Language forced: French (fr)" in fig["layout"]["title"]["text"]
    red = [y for y, c in zip(fig["data"][0]["y"], fig["data"][0]["marker"]["color"]) if c == "#d62728"]
    assert red and red[0].startswith("French (fr)")


def test_words_are_coloured_by_probability(use, client):
    use("english")
    final = _run(client, FOX)[-1]
    words = _plot(final["words_plot"])
    hover = [d for d in words["data"] if d.get("hovertemplate", "").count("word probability")]
    assert hover, words["data"]  # the random model writes a few text tokens: words
    assert hover[0]["marker"]["showscale"] is True and hover[0]["marker"]["cmax"] == 1
    assert all(0 <= p <= 1 for p in hover[0]["marker"]["color"])


def test_english_only_model_has_no_language_step(use, client):
    use("english")
    final = _run(client, FOX, language="de", task="translate")[-1]
    assert final["status"].startswith("**Done**") and "Error" not in final["status"]
    assert "English-only model: no language step" in final["status"]
    assert "English-only model: no language step" in final["prompt_html"]
    assert "&lt;|de|&gt;" not in final["prompt_html"] and "&lt;|translate|&gt;" not in final["prompt_html"]
    lang = final["lang_plot"]
    assert lang is None or (isinstance(lang, dict) and lang.get("visible") is False)


def test_language_controls_follow_the_model(client):
    _, _, note = client.predict("whisper-tiny.en", api_name="/language_controls")
    assert "English-only model: no language step" in note
    _, _, note = client.predict("whisper-base", api_name="/language_controls")
    assert "detect" in note and "English-only" not in note


@pytest.mark.real
def test_real_base_german_detect_then_translate(client):
    from apps import factory

    factory.set_loader(None)
    final = _run(client, GERMAN, model="whisper-base", task="translate")[-1]
    assert final["status"].startswith("**Done**"), final["status"]
    assert "&lt;|de|&gt;" in final["prompt_html"] and "&lt;|translate|&gt;" in final["prompt_html"]
    fig = _plot(final["lang_plot"])
    assert fig["data"][0]["y"][0].startswith("German (de)") and len(fig["data"][0]["y"]) == 10
    assert "morning" in final["text"].lower()
