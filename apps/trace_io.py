"""Save, load and export from any tab: the trace as a ``.zip``, a saved trace back into its tab,
the tab's figures as HTML; and (re-exported from ``apps/plot.py``) :class:`Plot`, the ``gr.Plot``
whose modebar camera button saves a PNG named after the figure.

A tab adds one line at the end of ``build()``::

    trace_io.panel(FAMILY, state, OUTPUTS.components(ui), views)

``views(traces) -> list`` is the function that fills the tab's outputs after a run (``OUTPUTS``
order), fed the traces read from an upload: the loaded trace is drawn by the same code, from the
Trace only -- no model is loaded. ``state`` is the tab's ``gr.State`` (one Trace, or a list of
them for the TTS tab's sentences).

Reading an upload is ``lab.trace_io.load_zip``: only ``trace.json`` / ``tensors.safetensors``
members, in memory, size-limited, safetensors (never pickle); a trace of another family is
refused with a message naming its tab.
"""
from __future__ import annotations

import io
import re
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

import gradio as gr

from apps import common
from apps.plot import Plot  # noqa: F401 (re-exported: the tabs' plots)
from lab import trace_io
from lab.errors import LabError
from lab.trace import Trace

KEEP_FILES = 16  # zips this process keeps in its download directory (oldest deleted first)
MAX_TRACE_MB = {False: 2048, True: 256}  # uncompressed trace bytes read from one upload, by public mode
_DIR: Path | None = None
# family -> (the tab's outputs, views(traces) guarded): filled by panel(), read by apps/corpus_tab.py
OPENERS: dict[str, tuple[list, Callable]] = {}


# -- files ---------------------------------------------------------------------------------------

def _out_dir() -> Path:
    """This process's download directory, keeping the newest ``KEEP_FILES`` files."""
    global _DIR
    if _DIR is None or not _DIR.is_dir():
        _DIR = Path(tempfile.mkdtemp(prefix="audiolab-downloads-"))
    files = sorted(_DIR.glob("*.zip"), key=lambda p: p.stat().st_mtime)
    for p in files[:max(0, len(files) - KEEP_FILES + 1)]:
        p.unlink(missing_ok=True)
    return _DIR


def _name(traces: list[Trace], what: str) -> str:
    tr = traces[0]
    model = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(tr.model_id or "model").name)[:40]
    return f"{tr.family}-{model}-{what}-{time.strftime('%Y%m%d-%H%M%S')}.zip"


def as_list(state) -> list[Trace]:
    """The tab's state as a list of traces (empty before a run)."""
    if state is None:
        return []
    items = state if isinstance(state, (list, tuple)) else [state]
    return [t for t in items if isinstance(t, Trace)]


def max_trace_bytes() -> int:
    try:
        from apps import settings

        public = bool(settings.current().public)
    except ImportError:
        public = False
    return MAX_TRACE_MB[public] * 1024 ** 2


def save_traces(state) -> str:
    """The tab's trace(s) as a zip in the download directory; its path."""
    traces = as_list(state)
    if not traces:
        raise LabError("no trace yet: run the model (or load a trace) first")
    return str(trace_io.save_zip(traces, _out_dir() / _name(traces, "trace")))


def load_traces(path, family: str) -> list[Trace]:
    if not path:
        raise LabError("no file: upload a trace .zip (made by this app's download button, "
                       "Trace.save_zip, or a zipped `audiolab trace ... --out` directory)")
    return trace_io.load_zip(path, family=family, max_bytes=max_trace_bytes())


def figures(values) -> dict[str, object]:
    """The plotly figures among a tab's output values (a figure or an update holding one)."""
    import plotly.graph_objects as go

    out = {}
    for name, v in values.items():
        fig = v.get("value") if isinstance(v, dict) else v
        if isinstance(fig, go.Figure):
            out[name] = fig
    return out


def figures_zip(figs: dict, path: str | Path) -> Path:
    """Every figure as ``<name>.html`` beside one ``plotly.min.js`` (offline), plus
    ``index.html`` linking them."""
    import plotly
    from plotly.offline import get_plotlyjs

    if not figs:
        raise LabError("no figure to export yet: run the model (or load a trace) first")
    path = Path(path)
    links = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("plotly.min.js", get_plotlyjs())
        for name, fig in figs.items():
            buf = io.StringIO()
            fig.write_html(buf, include_plotlyjs="directory", full_html=True)
            z.writestr(f"{name}.html", buf.getvalue())
            links.append(f'<li><a href="{name}.html">{name}</a></li>')
        z.writestr("index.html", "<!doctype html><meta charset=utf-8><title>figures</title>"
                   f"<p>plotly {plotly.__version__}; open a figure:</p><ul>{''.join(links)}</ul>")
    return path


# -- the panel -----------------------------------------------------------------------------------

def panel(family: str, state: gr.State, outputs: list, views: Callable[[list[Trace]], list],
          *, names: common.Outputs | None = None, prefix: str | None = None) -> dict:
    """The "Save, load, export" accordion of a tab: download the trace (.zip), load a saved one
    into the tab (fills ``outputs`` with ``views(traces)``), download the figures as HTML.

    ``names``: the tab's ``Outputs`` (the names of ``outputs``); it must include the state, so
    the loaded trace becomes the tab's trace. Endpoints: ``/<prefix>_save_trace``,
    ``/<prefix>_load_trace``, ``/<prefix>_figures_html`` (prefix: the family)."""
    prefix = prefix or family
    names = names or common.Outputs(*[str(i) for i in range(len(outputs))])
    if state not in outputs:
        raise ValueError("the tab's outputs must include its state (the loaded trace goes there)")
    box = next((n for n in names if n == "status"), None)

    @common.guarded(1)
    def save(st):
        return save_traces(st)

    @common.guarded(names, box=box)
    def load(path):
        traces = load_traces(path, family)
        try:
            return views(traces)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            common.log.warning("a loaded %s trace does not draw", family, exc_info=True)
            raise LabError(f"this {family} trace lacks what the tab draws ({type(exc).__name__}: "
                           f"{exc}): save one with this app, Trace.save_zip or `audiolab trace "
                           f"{family} ... --out DIR`") from None

    @common.guarded(names, box=box)
    def open_traces(traces):
        return views(traces)

    OPENERS[prefix] = (outputs, open_traces)  # the Corpus tab opens a stored trace here

    @common.guarded(1)
    def export(st):
        traces = as_list(st)
        if not traces:
            raise LabError("no trace yet: run the model (or load a trace) first")
        figs = figures(dict(zip(names, views(traces))))
        return str(figures_zip(figs, _out_dir() / _name(traces, "figures")))

    with gr.Accordion("Save, load, export", open=False, elem_id=f"{prefix}-save-load"):
        gr.Markdown(
            "**Download** this run's trace (a .zip of `trace.json` + `tensors.safetensors`), "
            "**load** a saved one (from this app, `Trace.save_zip`, or a zipped "
            "`audiolab trace ... --out` directory: every view is drawn from the trace, no model "
            "runs), or download the **figures as HTML** (offline). Each figure's camera button "
            "(top right, on hover) saves it as PNG.")
        with gr.Row():
            save_btn = gr.Button("Download the trace (.zip)", elem_id=f"{prefix}-save-trace")
            html_btn = gr.Button("Figures as HTML (.zip)", elem_id=f"{prefix}-figures-html")
        with gr.Row():
            saved = gr.File(label="Trace", interactive=False, elem_id=f"{prefix}-trace-file")
            html_file = gr.File(label="Figures", interactive=False, elem_id=f"{prefix}-html-file")
            upload = gr.File(label="Load a saved trace (.zip)", file_types=[".zip"],
                             type="filepath", elem_id=f"{prefix}-load-trace")
    save_btn.click(save, [state], saved, api_name=f"{prefix}_save_trace")
    html_btn.click(export, [state], html_file, api_name=f"{prefix}_figures_html")
    upload.upload(load, [upload], outputs, api_name=f"{prefix}_load_trace")
    return dict(save=save_btn, figures=html_btn, upload=upload, saved=saved, html=html_file)
