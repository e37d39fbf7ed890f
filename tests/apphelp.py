"""Scaffolding shared by the app tests (imported by name, like ``nbrun`` and ``short_clips``:
pytest puts ``tests/`` on ``sys.path`` because ``tests/conftest.py`` has no package above it).

- serving an app in this process: :func:`lab_app` (the whole lab, ``apps.main.build_app()``),
  :func:`tabs_app` (a few tabs), :func:`serving` (launch, yield the URL, close);
- talking to it: :func:`connected` (a ``gradio_client.Client``), :func:`streamed` (every
  streamed output of one ``submit``), :func:`plot` (a ``gr.Plot`` value as its plotly figure);
- substituting models: :func:`substituted` (``apps.factory.set_loader`` for a block, reset
  after), :func:`recording` (a loader that notes what the tab asked for);
- a browser: :func:`chromium_page` (playwright on Debian chromium);
- fixtures, imported by name into a test module (``from apphelp import app_url, client``):
  ``app_url`` (the whole lab, module scope) and ``client`` (one Client per test on the module's
  ``app_url``, whichever fixture of that name the module has).

What the API returns per tab (``OUTPUTS``) and the WAV writer are the concurrency harness's
(``scripts/app_concurrency.py``): one copy for the scripts and the tests.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

from scripts.app_concurrency import OUT as OUTPUTS, write_wav  # noqa: F401 -- re-exported

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT / "assets" / "clips"
FOX = CLIPS / "quick_brown_fox.wav"

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium (FACTS.md), not playwright's download
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


# -- serving ----------------------------------------------------------------------------------
def lab_app():
    """The whole lab app as ``audiolab app`` builds it (``apps.main.build_app()``), not launched."""
    from apps.main import build_app

    return build_app()


def tabs_app(*modules, tabs: bool = True, queue: bool = True):
    """A ``gr.Blocks`` holding each tab module's ``build()``: in its own ``gr.Tab(module.TITLE)``
    (``tabs=False``: laid out one after the other, no tab); ``queue`` calls ``demo.queue()``."""
    import gradio as gr

    with gr.Blocks() as demo:
        for mod in modules:
            if tabs:
                with gr.Tab(mod.TITLE):
                    mod.build()
            else:
                mod.build()
    if queue:
        demo.queue()
    return demo


@contextmanager
def serving(demo, **launch_kw) -> Iterator[str]:
    """Launch ``demo`` in this process without blocking (``prevent_thread_lock``, quiet) and
    yield its URL; the server is closed on leaving. ``launch_kw`` go to ``demo.launch``."""
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **launch_kw)
    try:
        yield url
    finally:
        demo.close()


@contextmanager
def connected(url: str):
    """A ``gradio_client.Client`` on ``url`` (its own session), closed on leaving."""
    from gradio_client import Client

    c = Client(url, verbose=False)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def app_url():
    """URL of the whole lab app (:func:`lab_app`), served for the test module."""
    with serving(lab_app()) as url:
        yield url


@pytest.fixture
def client(app_url):
    """A fresh client (session) per test on the module's ``app_url`` fixture."""
    with connected(app_url) as c:
        yield c


# -- calling ----------------------------------------------------------------------------------
def streamed(client, names: list[str], *args, api_name: str, timeout: float = 300) -> list[dict]:
    """Submit one request and wait (``timeout`` in seconds); every output the generator
    streamed, in order, each as {output name: value} (``names``: the endpoint's API outputs)."""
    job = client.submit(*args, api_name=api_name)
    job.result(timeout=timeout)
    return [dict(zip(names, o)) for o in job.outputs()]


def plot(value) -> dict:
    """The plotly figure (a dict: data, layout) of a ``gr.Plot`` value as gradio_client
    returns it; fails the test when the value is not a plotly plot."""
    assert isinstance(value, dict) and value.get("type") == "plotly", value
    return json.loads(value["plot"])


# -- models -----------------------------------------------------------------------------------
@contextmanager
def substituted(loader: Callable | None):
    """``apps.factory.set_loader(loader)`` for the block; the real resolver again on leaving.
    ``loader(model_id, family, attention=True) -> Loaded``."""
    from apps import factory

    factory.set_loader(loader)
    try:
        yield
    finally:
        factory.set_loader(None)


def recording(pick: Callable) -> tuple[Callable, list]:
    """A factory loader that notes each ``(model_id, family)`` the app asks for, then answers
    ``pick(model_id, family, attention)``; returns ``(loader, calls)``."""
    calls: list = []

    def loader(model_id, family, attention=True):
        calls.append((model_id, family))
        return pick(model_id, family, attention)

    return loader, calls


# -- browser ----------------------------------------------------------------------------------
@contextmanager
def chromium_page(width: int = 1280, height: int = 900):
    """A playwright page in Debian chromium (headless, ``ARGS``), viewport ``width`` x
    ``height`` CSS pixels; the browser is closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


@pytest.fixture(scope="module")
def screens(tmp_path_factory) -> Path:
    """Where the screenshots go: ``$AUDIOLAB_SCREENS`` if set (``assets/screens`` regenerates the
    committed ones), else a temporary directory."""
    import os

    d = Path(os.environ["AUDIOLAB_SCREENS"]) if os.environ.get("AUDIOLAB_SCREENS") else \
        tmp_path_factory.mktemp("screens")
    d.mkdir(parents=True, exist_ok=True)
    return d
