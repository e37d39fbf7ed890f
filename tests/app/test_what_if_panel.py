"""The What-if panel of the Whisper, CTC, TTS and Classify tabs through gradio_client, with tiny
random models substituted by ``factory.set_loader``: one what-if per family returns original |
changed | diff figures and a diff that shows the change; bad input comes back as the tab's error
message and the app keeps serving. The browser test (real models, marked ``real``) screenshots
the Whisper and CTC panels after a run: ``assets/screens/what_if_{whisper,ctc}.png``."""
from __future__ import annotations

from pathlib import Path

import pytest

from apphelp import chromium_page, client, lab_app, plot, screens, serving, substituted  # noqa: F401 -- fixtures

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parents[2]
FOX = ROOT / "assets" / "clips" / "quick_brown_fox.wav"
SCREENS = ROOT / "assets" / "screens"
SKIPPED = {"__type__": "update"}  # gr.skip() as gradio_client returns it
OUT = ["status", "original", "changed", "diff", "text", "audio_a", "audio_b", "branch", "json"]
CONTROLS = dict(kind=None, target=None, heads="", mode="zero", step=0, token=None, token_text="",
                op="silence", word=None, start=0.0, end=0.5, snr_db=10.0, source=None, source_start=None,
                scale=1.0, offset=0.0, direction=None, amount=1.0, clamp_start=0, clamp_end=1, clamp_word="",
                patch_target=None, patch_source=None, patch_start=None, patch_end=None)


@pytest.fixture(scope="module")
def tiny():
    from lab.classify import tiny as classify_tiny
    from lab.ctc import tiny as ctc_tiny
    from lab.tts import tiny as tts_tiny
    from lab.whisper import tiny as whisper_tiny

    return {"whisper": whisper_tiny.loaded(), "ctc": ctc_tiny.loaded(),
            "classify": classify_tiny.loaded("ast"), "tts": tts_tiny.loaded()}


@pytest.fixture(scope="module")
def app_url(tiny):
    with substituted(lambda model_id, family, attention=True: tiny[family]), serving(lab_app()) as url:
        yield url


def _what_if(client, family: str, tab: list, **controls) -> dict:
    c = dict(CONTROLS, **controls)
    out = client.predict(*tab, *c.values(), api_name=f"/{family}_what_if")
    return dict(zip(OUT, out))


_plot = plot


def _three_figures(res: dict) -> None:
    figs = [_plot(res[k]) for k in ("original", "changed", "diff")]
    assert all(f["data"] for f in figs)


def _audio(path=FOX):
    from gradio_client import handle_file

    return handle_file(str(path))


def test_controls_parse_and_refuse():
    from apps import what_if_controls as wc
    from lab.errors import LabError

    assert wc.parse_heads(" 0, 3 ") == (0, 3) and wc.parse_heads("") is None
    with pytest.raises(LabError, match="separated by commas"):
        wc.parse_heads("0;3")
    clips = wc.swap_sources()  # the committed clips only, by name
    assert "open_the_door.wav" in clips and "lang/de_de.wav" in clips
    assert all(p.resolve().is_relative_to(FOX.parent) for p in clips.values())
    with pytest.raises(LabError, match="whole number"):
        wc._int("force: step", 1.5)


def test_api_names(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    for family in ("whisper", "ctc", "classify", "tts"):
        assert {f"/{family}_what_if", f"/{family}_what_if_refresh"} <= names
    assert "/whisper_head_sweep" in names


def test_no_trace_yet_is_a_message(client):
    res = _what_if(client, "ctc", ["whisper-tiny.en-ctc", _audio(), "", "", 1, 3],
                   kind="ablate heads / a part", target="encoder.layers.0.ffn")
    assert "run the tab first" in res["status"]
    assert res["original"] == SKIPPED and res["json"] == SKIPPED  # the views are left as they were


def test_whisper_force_token_branches(client):
    a = _audio()
    client.predict(a, "whisper-tiny.en", "", 1, 5, "alignment", False, "detect", "transcribe",
                   api_name="/transcribe")
    tab = ["whisper-tiny.en", a, "", 5, "detect", "transcribe", False]
    targets, step = client.predict(*tab, api_name="/whisper_what_if_refresh")[1:3]
    assert "decoder.layers.1.cross_attn" in [c[0] for c in targets["choices"]]
    res = _what_if(client, "whisper", tab, kind="force a token", step=1, token_text="7586")
    _three_figures(res)
    d = res["json"]
    assert d["steps"]["forced"] == [1] and d["steps"]["first_divergent_step"] == 1
    assert d["changed"] and "brown" in d["text"]["b"]
    assert "not reused" not in res["status"]  # the tab's trace was the original
    assert "brown" in res["text"]  # the word diff names the new word
    branch = _plot(res["branch"])
    assert any("brown" in str(t.get("text")) for t in branch["data"])
    typed = _what_if(client, "whisper", tab, kind="force a token", step=1, token_text=" brown")
    assert typed["json"]["intervention"]["force"] == {"1": 7586}  # typed text -> its one token
    two = _what_if(client, "whisper", tab, kind="force a token", step=1, token_text=" brownish fox")
    assert "tokens" in two["status"] and "type one token" in two["status"]
    choices = client.predict(2, *tab[1:], api_name="/whisper_what_if_tokens")["choices"]
    assert len(choices) == 5 and all(isinstance(v, int) for _, v in choices)  # step 2's top-5 ids
    picked = _what_if(client, "whisper", tab, kind="force a token", step=2, token=choices[1][1])
    assert picked["json"]["intervention"]["force"] == {"2": choices[1][1]}
    other_k = _what_if(client, "whisper", tab[:3] + [3] + tab[4:], kind="force a token", step=1, token_text="7586")
    assert "top-k changed" in other_k["status"]  # not the tab's run: the original is run again
    assert other_k["json"]["steps"]["first_divergent_step"] == 1
    # bad input: a step beyond the run, a head out of range -- messages, and the app keeps serving
    n = d["steps"]["n_steps"][0]
    bad = _what_if(client, "whisper", tab, kind="force a token", step=n + 5, token_text="7586")
    assert "beyond the run" in bad["status"] and f"has {n} decoder steps" in bad["status"]
    bad = _what_if(client, "whisper", tab, kind="ablate heads / a part", target="decoder.layers.0.cross_attn",
                   heads="0,7")
    assert "heads 0..1" in bad["status"] and "[7]" in bad["status"]
    res = _what_if(client, "whisper", tab, kind="ablate heads / a part", target="decoder.layers.1.cross_attn",
                   heads="0,1")
    assert res["json"]["changed"] and res["audio_b"]["value"] is None  # the input was not edited


def test_whisper_head_sweep(client):
    a = _audio()
    client.predict(a, "whisper-tiny.en", "", 1, 3, "alignment", False, "detect", "transcribe",
                   api_name="/transcribe")
    status, fig = client.predict("whisper-tiny.en", "decoder.layers.{i}.self_attn",
                                 api_name="/whisper_head_sweep")
    assert fig["visible"] is True  # hidden until a sweep ran
    z = _plot(fig["value"])["data"][0]["z"]
    assert len(z) == 2 and len(z[0]) == 2 and any(v != 0 for row in z for v in row), z
    assert "intact log p" in status


def test_ctc_edit_changes_frames_and_plays_both(client):
    a = _audio()
    client.predict(a, "whisper-tiny.en-ctc", "", "", 1, 3, api_name="/transcribe_1")
    tab = ["whisper-tiny.en-ctc", a, "", "", 1, 3]
    res = _what_if(client, "ctc", tab, kind="edit the audio", op="noise", start=0.5, end=1.0, snr_db=0.0)
    _three_figures(res)
    fr = res["json"]["frames"]
    assert fr["n_changed"] > 0 and fr["max_logit_change"] > 0
    assert "not reused" not in res["status"]
    shaded = [s for s in _plot(res["diff"])["layout"].get("shapes", []) if s.get("type") == "rect"]
    assert len(shaded) == 2 * len(fr["changed_seconds"])  # each changed span, in both rows
    assert {(round(s["x0"], 4), round(s["x1"], 4)) for s in shaded} == {tuple(x) for x in fr["changed_seconds"]}
    assert res["audio_a"] and res["audio_b"]["value"]  # the original and the edited clip
    words = client.predict(*tab, api_name="/ctc_what_if_refresh")[4]["choices"]
    assert words, "the run's words fill the word picker"
    start, end = client.predict(len(words) - 1, *tab[1:], api_name="/ctc_what_if_word")
    shown = words[-1][0].split("(")[-1][:-3].split("-")  # "k: WORD (0.86-1.10 s)" -> the span
    assert (start, end) == pytest.approx(tuple(float(x) for x in shown), abs=0.006)
    bad = _what_if(client, "ctc", tab, kind="edit the audio", op="silence", start=0.5, end=99.0)
    assert "outside the clip" in bad["status"]
    bad = _what_if(client, "ctc", tab, kind="edit the audio", op="swap", start=0.5, end=1.0,
                   source="/etc/passwd")
    assert "committed clips" in bad["status"]
    res = _what_if(client, "ctc", tab, kind="edit the audio", op="swap", start=0.5, end=1.0,
                   source="open_the_door.wav")
    assert res["json"]["same_input"] is False and res["json"]["frames"]["n_changed"] > 0


def test_ctc_patch_from_a_committed_clip(client):
    """Clip B's encoder.output over 0.5-1.0 s replaces the tab clip's: only frames in that span
    change (the CTC head is per frame); clip B is a committed clip by name, never a path."""
    a = _audio()
    client.predict(a, "whisper-tiny.en-ctc", "", "", 1, 3, api_name="/transcribe_1")
    tab = ["whisper-tiny.en-ctc", a, "", "", 1, 3]
    targets = client.predict(*tab, api_name="/ctc_what_if_refresh")[7]["choices"]
    assert [t[0] for t in targets][:2] == ["encoder.output", "encoder.layers.0"]
    res = _what_if(client, "ctc", tab, kind="patch from another clip", patch_target="encoder.output",
                   patch_source="open_the_door.wav", patch_start=0.5, patch_end=1.0)
    _three_figures(res)
    fr = res["json"]["frames"]
    assert fr["n_changed"] > 0 or fr["max_logit_change"] > 0
    fps = 1 / 0.02
    assert all(0.5 - 1 / fps <= s and e <= 1.0 + 1 / fps for s, e in fr["changed_seconds"]), fr["changed_seconds"]
    bad = _what_if(client, "ctc", tab, kind="patch from another clip", patch_target="encoder.output",
                   patch_source="/etc/passwd")
    assert "committed clips" in bad["status"]
    bad = _what_if(client, "ctc", tab, kind="patch from another clip", patch_target="encoder.output",
                   patch_source="open_the_door.wav")  # whole clips of different lengths
    assert "frames" in bad["status"], bad["status"]


def test_ctc_lens_view(client):
    a = _audio()
    client.predict(a, "whisper-tiny.en-ctc", "", "", 1, 3, api_name="/transcribe_1")
    status, fig = client.predict("whisper-tiny.en-ctc", a, "", "", 1, 3, api_name="/ctc_lens")
    assert "lens:" in status and fig["visible"] is True
    z = _plot(fig["value"])["data"][0]["z"]
    assert len(z) == 3  # the tiny wav2vec2: embeddings + 2 layers


def test_classify_ablation_moves_probabilities(client):
    a = _audio()
    client.predict(a, "demo: tiny random AST", 5, api_name="/classify")
    tab = ["demo: tiny random AST", a, 5]
    res = _what_if(client, "classify", tab, kind="ablate heads / a part", target="encoder.layers.0.attn",
                   heads="0")
    _three_figures(res)
    assert "not reused" not in res["status"]
    lab = res["json"]["labels"]
    assert lab["max_prob_change"] > 0 and len(lab["top_k"][0]) == 5
    bar_names = {t["name"] for t in _plot(res["diff"])["data"]}
    assert bar_names == {"original", "changed"}


def test_tts_stop_scale_stops_earlier(client):
    speak = ["Hi there.", "tiny-speecht5-tts-en", 0.5, 0.0, 2.0, 0, "griffin-lim", None, False, True]
    client.predict(*speak, api_name="/tts_speak")
    tab = ["tiny-speecht5-tts-en", "Hi there.", 0.5, 0.0, 2.0, 0, "griffin-lim", None, False, 1]
    res = _what_if(client, "tts", tab, kind="scale the stop logit", scale=0.0)
    _three_figures(res)
    st = res["json"]["stop"]
    assert st["changed"] and st["n_steps"][1] < st["n_steps"][0]
    assert "not reused" not in res["status"]
    assert res["audio_a"] and res["audio_b"]["value"]  # both syntheses
    refreshed = client.predict(*tab, api_name="/tts_what_if_refresh")
    directions = [c[0] for c in refreshed[5]["choices"]]
    assert "sv1" in directions and "`0:" in refreshed[6]  # the speaker directions, the token list
    turned = _what_if(client, "tts", tab, kind="edit the speaker", direction="sv1", amount=1.0)
    assert turned["json"]["stop"]["mel_mean_abs_diff"] > 0
    bad = _what_if(client, "tts", tab, kind="clamp cross-attention", clamp_start=3, clamp_end=99)
    assert "outside the text" in bad["status"]


# -- in a real browser, real models: the panels after a run (screenshots) ---------------------
@pytest.fixture(scope="module")
def real_url():
    with substituted(None), serving(lab_app()) as url:
        yield url


@pytest.fixture(scope="module")
def page():
    with chromium_page(1400, 1000) as pg:
        yield pg


def _wait_text(page, elem_id: str, pattern: str, timeout: int = 120_000) -> str:
    page.wait_for_function(f"() => (document.querySelector('#{elem_id}')?.innerText || '').match(/{pattern}/)",
                           timeout=timeout)
    return page.locator(f"#{elem_id}").inner_text()


def _run_tab(page, url: str, tab: str, prefix: str, done: str) -> None:
    page.goto(url)
    page.get_by_role("tab", name=tab).click()
    page.locator(f"#{prefix}-audio").scroll_into_view_if_needed()
    page.get_by_text("Please open the door and close the window.").locator("visible=true").first.click()
    page.locator(f"#{prefix}-audio button[aria-label=Play]").wait_for(timeout=30_000)
    page.locator(f"#{prefix}-run").click()
    _wait_text(page, f"{prefix}-status", done)


@pytest.mark.real
@pytest.mark.browser
def test_whisper_and_ctc_panels_in_a_browser(real_url, page, screens):
    from apps import factory

    factory.set_loader(None)  # the tiny app's loader may still be set: this test runs real models
    _run_tab(page, real_url, "Whisper", "whisper", "Done|Error")
    # the pickers filled after the run (run_event.then): force " car" at step 3 ("door")
    page.locator("#whisper-whatif-kind").get_by_text("force a token").click()
    page.locator("#whisper-whatif-step input").fill("3")
    page.locator("#whisper-whatif-token-text textarea").fill(" car")
    page.locator("#whisper-whatif-run").click()
    status = _wait_text(page, "whisper-whatif-status", "changed|Error")
    assert "changed" in status and "Error" not in status, status
    assert "car" in page.locator("#whisper-whatif-text").inner_text()
    for elem in ("whisper-whatif-original", "whisper-whatif-changed", "whisper-whatif-diff",
                 "whisper-whatif-branch"):
        page.locator(f"#{elem} .js-plotly-plot").first.wait_for(timeout=30_000)
    page.locator("#whisper-whatif-sweep").click()  # the head-importance grid, with progress
    page.locator("#whisper-whatif-sweep-plot .js-plotly-plot").first.wait_for(timeout=60_000)
    assert "intact log p" in _wait_text(page, "whisper-whatif-sweep-status", "intact log p|Error")
    page.locator("#whisper-whatif").screenshot(path=str(screens / "what_if_whisper.png"))

    _run_tab(page, real_url, "CTC", "ctc", "frames|Error")
    page.locator("#ctc-whatif-kind").get_by_text("edit the audio").click()
    page.locator("#ctc-whatif-op").get_by_text("noise").click()
    page.locator("#ctc-whatif-word input").click()
    page.get_by_role("option", name="door").first.click()  # fills the word's span
    page.locator("#ctc-whatif-run").click()
    status = _wait_text(page, "ctc-whatif-status", "changed|Error")
    assert "changed" in status and "Error" not in status, status
    page.locator("#ctc-whatif-diff .js-plotly-plot").first.wait_for(timeout=30_000)
    page.locator("#ctc-whatif-lens").click()  # every layer through the CTC head
    page.locator("#ctc-whatif-lens-plot .js-plotly-plot").first.wait_for(timeout=60_000)
    page.locator("#ctc-whatif").screenshot(path=str(screens / "what_if_ctc.png"))
