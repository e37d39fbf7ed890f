"""The Gradio lab: an app shell composing one tab per model family.

Each tab module ``apps/<family>_tab.py`` exports ``TITLE`` and ``build()`` (creates its
components and wires its handlers inside the current Blocks). What the tabs share (the error box,
the guarded-handler decorator, outputs by name, model choices) is ``apps/common.py``; models come
from the cached factory ``apps/factory.py``. Nothing loads a model at import.
"""
from __future__ import annotations

import importlib

import gradio as gr

TAB_MODULES = ["apps.whisper_tab", "apps.ctc_tab", "apps.compare_tab", "apps.tts_tab",
               "apps.classify_tab"]

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


def build_app() -> gr.Blocks:
    with gr.Blocks(title="Audio transformer lab") as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            for mod in available_tabs():
                with gr.Tab(mod.TITLE):
                    mod.build()
    demo.queue(default_concurrency_limit=2)
    return demo


def launch(**kw):
    demo = build_app()
    kw.setdefault("max_file_size", "50mb")
    return demo.launch(theme=gr.themes.Soft(), **kw)


if __name__ == "__main__":
    launch()
