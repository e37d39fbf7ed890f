"""The lab in a real browser (playwright + Debian chromium): load the app, run an example clip
on the offline Whisper tiny.en, check the plots rendered, move the step slider, screenshot.

Screenshots go to a temporary directory; ``AUDIOLAB_SCREENS=assets/screens`` keeps them (to
regenerate the README's)."""
from __future__ import annotations


import pytest

from apphelp import chromium_page, lab_app, screens, serving  # noqa: F401 -- screens: a fixture


pytestmark = [pytest.mark.browser, pytest.mark.real, pytest.mark.app]


@pytest.fixture(scope="module")
def app_url():
    from apps import factory

    factory.set_loader(None)
    with serving(lab_app()) as url:
        yield url


@pytest.fixture(scope="module")
def page():
    with chromium_page(1280, 900) as pg:
        yield pg


def _plot_ok(page, elem_id: str) -> int:
    """Number of SVG elements drawn inside the plotly plot of component ``elem_id``."""
    plot = page.locator(f"#{elem_id} .js-plotly-plot")
    plot.first.wait_for(state="attached", timeout=30_000)
    return page.locator(f"#{elem_id} .js-plotly-plot .main-svg *").count()


def test_whisper_tab_runs_an_example_and_draws(app_url, page, screens):
    page.goto(app_url)
    page.get_by_role("tab", name="Whisper").click()
    page.get_by_text("Please open the door and close the window.").first.click()
    page.locator("#whisper-audio button[aria-label=Play]").wait_for(timeout=30_000)  # clip loaded
    page.locator("#whisper-run").click()
    status = page.locator("#whisper-status")
    try:
        page.wait_for_function("() => (document.querySelector('#whisper-status')?.innerText || '')"
                               ".match(/Done|Error/)", timeout=180_000)
    finally:
        page.screenshot(path=str(screens / "whisper_tab_after_run.png"), full_page=True)
    assert "end_of_text" in status.inner_text(), status.inner_text()

    for elem in ("whisper-step-plot", "whisper-words-plot"):
        assert _plot_ok(page, elem) > 20, elem
    step_plot = page.locator("#whisper-step-plot")
    assert step_plot.locator(".heatmaplayer image, .hm image, image").count() >= 1  # the log-mel
    assert step_plot.locator(".barlayer .point").count() >= 5  # the top-k bars
    tokens = page.locator("#whisper-tokens")
    assert "open" in tokens.inner_text()

    # move the step slider to its start: the linked views follow the first token
    slider = page.locator("#whisper-step input[type=range]")
    slider.click(position={"x": 1, "y": slider.bounding_box()["height"] / 2})  # scrolls, clicks
    step_plot.get_by_text("Step 0:").wait_for(timeout=30_000)
    assert page.locator('#whisper-tokens span[data-step="0"]').get_attribute("style").count("outline") == 1

    for elem in ("whisper-mel-plot", "whisper-enc-plot", "whisper-map-plot"):
        assert _plot_ok(page, elem) > 10, elem
    assert "WER" in page.locator("#whisper-wer").inner_text()
    page.screenshot(path=str(screens / "whisper_tab.png"), full_page=True)
