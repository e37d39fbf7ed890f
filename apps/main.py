"""The Gradio lab: an app shell composing one tab per model family.

Each tab module ``apps/<family>_tab.py`` exports ``TITLE`` and ``build()`` (creates its
components and wires its handlers inside the current Blocks). What the tabs share (the error box,
the guarded-handler decorator, outputs by name, model choices) is ``apps/common.py``; models come
from the cached factory ``apps/factory.py``. Nothing loads a model at import.
"""
from __future__ import annotations

import importlib

import gradio as gr

from apps import budget, settings
from apps.settings import BUSY, Settings

TAB_MODULES = ["apps.whisper_tab", "apps.ctc_tab", "apps.compare_tab", "apps.tts_tab",
               "apps.classify_tab", "apps.corpus_tab"]

INTRO = """# Audio transformer lab
Watch audio transformers work: every intermediate tensor of a real model, step by step.
Pick a tab, give it audio (upload, microphone or an example clip) and press **Run**."""


def available_tabs() -> list:
    mods = []
    for name in TAB_MODULES:
        try:
            mods.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return mods


def _busy_message(demo: gr.Blocks) -> None:
    """Word the queue-full refusal (HTTP 503) as "busy, try again in a minute". (The Gradio page
    shows its own "This application is currently busy. Please try again." for a 503.)"""
    q = demo._queue
    push = q.push

    async def polite_push(*args, **kw):
        ok, detail, state = await push(*args, **kw)
        if not ok and state == "queue_full":
            detail = BUSY.format(n=len(q))
        return ok, detail, state

    q.push = polite_push


def build_app(config: Settings | None = None) -> gr.Blocks:
    """The app under ``config`` (default: ``Settings.from_env()``, i.e. ``AUDIOLAB_PUBLIC``);
    the handlers read it from :func:`apps.settings.current`. Launch with
    ``demo.launch(**config.launch_kw())`` (:func:`launch` does)."""
    config = config or Settings.from_env()
    settings.configure(config)
    with gr.Blocks(title="Audio transformer lab", delete_cache=config.delete_cache) as demo:
        gr.Markdown(INTRO)
        mods = available_tabs()
        with gr.Tabs() as tabs:
            for mod in mods:
                with gr.Tab(mod.TITLE, id=mod.TITLE):
                    mod.build()
        for mod in mods:  # wiring across tabs (the Corpus tab opens a clip in its family's tab)
            if hasattr(mod, "connect"):
                mod.connect(tabs)
    demo.queue(default_concurrency_limit=config.concurrency, max_size=config.queue_max_size)
    _busy_message(demo)
    budget.register(demo)
    demo.audiolab_settings = config
    return demo


def launch(config: Settings | None = None, **kw):
    demo = build_app(config)
    for k, v in demo.audiolab_settings.launch_kw().items():
        kw.setdefault(k, v)
    return demo.launch(theme=gr.themes.Soft(), **kw)


if __name__ == "__main__":
    launch()
