"""The Corpus tab in a real browser (playwright + Debian chromium) and through gradio_client:
open a store, the table and figures draw, a clicked row opens in the CTC tab.
``AUDIOLAB_SCREENS=assets/screens`` keeps the screenshot (corpus_tab.png)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.corpus import run_corpus

from .conftest import CTC_MODEL

pytestmark = [pytest.mark.browser, pytest.mark.app]


@pytest.fixture(scope="module")
def app_url(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus-root")
    run_corpus(corpus, [CTC_MODEL], root / "speech-en", progress=False)
    mp = pytest.MonkeyPatch()
    mp.setenv("AUDIOLAB_CORPUS_ROOT", str(root))
    from apps.main import build_app

    demo = build_app()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()
    mp.undo()


def test_client_opens_store(app_url):
    from gradio_client import Client

    c = Client(app_url, verbose=False)
    try:
        out = c.predict("speech-en", "all", "", "all", None, api_name="/corpus_open")
    finally:
        c.close()
    assert "20 clips" in out[0] and len(out[3]["data"]) == 20


def test_browser_open_pick_and_open_row(app_url):
    from playwright.sync_api import sync_playwright

    screens = Path(os.environ.get("AUDIOLAB_SCREENS") or "/tmp")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(app_url)
        page.get_by_role("tab", name="Corpus").click()
        page.locator("#corpus-store input").click()
        page.get_by_role("option", name="speech-en").click()
        page.locator("#corpus-open").click()
        page.wait_for_function("() => (document.querySelector('#corpus-status')?.innerText || '')"
                               ".match(/20 clips|Error/)", timeout=60_000)
        assert "20 clips" in page.locator("#corpus-status").inner_text()
        page.locator("#corpus-wer .js-plotly-plot").first.wait_for(timeout=30_000)
        assert page.locator("#corpus-confusion .js-plotly-plot .main-svg *").count() > 20
        page.locator("#corpus-table").get_by_text("heldout-010.flac", exact=True).first.click()
        page.wait_for_function("() => (document.querySelector('#corpus-picked')?.innerText || '')"
                               ".includes('Picked')", timeout=30_000)
        assert "heldout-010.flac" in page.locator("#corpus-picked").inner_text()
        page.screenshot(path=str(screens / "corpus_tab.png"), full_page=True)
        page.locator("#corpus-open-row").click()
        page.get_by_role("tab", name="CTC", selected=True).wait_for(timeout=30_000)
        browser.close()
