"""``Plot``: the tabs' ``gr.Plot``, with a plotly config. The modebar (on hover) keeps its camera
button, which saves the figure as a PNG at ``PNG_SCALE`` x, named after the component's
``elem_id`` (else "figure"); the plotly logo goes.

A subclass, so the config survives Gradio re-creating a component in a session after a property
update (``block.__class__(**kwargs)``). Gradio writes a stub ``apps/plot.pyi`` beside any module
that subclasses a component: this module holds only the class, so the stub is this file plus
the event listeners' signatures.
"""
from __future__ import annotations

import re

import gradio as gr

PNG_SCALE = 2


class Plot(gr.Plot):
    def get_block_name(self) -> str:
        return "plot"  # the frontend's plot component

    def postprocess(self, value):
        data = super().postprocess(value)
        if data is None or data.type != "plotly" or not data.plot.startswith("{"):
            return data
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", self.elem_id or "figure")
        config = ('{"config":{"displaylogo":false,"toImageButtonOptions":{"format":"png",'
                  f'"filename":"{name}","scale":{PNG_SCALE}}}}},')
        data.plot = config + data.plot[1:]
        return data
