"""The Whisper tab's "Whole recording" panel: audio over 30 s decoded by Whisper's own long-form
algorithm (``lab.whisper.long.trace_long``), every window drawn over the waveform, and any window
opened in the tab's step-by-step debugger.

Handlers (``api_name``): ``/long_form`` (runs after ``/transcribe`` on the same Run click; does
nothing for audio of 30 s or less), ``/long_window`` (open window k), ``/long_save`` (a .zip of
every window's trace). Progress: one ``gr.Progress`` update per window. The public-mode time
limit (``apps/deadline.py``) is checked before every window and inside the model.
"""
from __future__ import annotations

import html

import gradio as gr

from apps import common, deadline, factory, trace_io
from lab import models
from lab.audio import load_audio
from lab.viz import whisper_long as lv
from lab.whisper.constants import WINDOW_SECONDS

FAMILY = "whisper"
OUTPUTS = common.Outputs("long_status", "long_plot", "long_window", "long_table", "long_text",
                         "long_state")
SELECT = common.Outputs("long_plot", "long_table")


def is_long(path) -> bool:
    """True when the clip at ``path`` is longer than one 30 s window."""
    if not path:
        return False
    return load_audio(path).seconds > WINDOW_SECONDS + 1e-6


def _progress_callback(progress, total_s: float):
    """``trace_long``'s ``progress`` as a ``gr.Progress`` update; the deadline is checked
    between windows. Accepts ``(k, n)`` or ``(k, seek_s, total_s)``."""
    def report(k, *rest):
        deadline.check()
        if len(rest) >= 2:
            seek, total = float(rest[0]), float(rest[1]) or total_s
            progress(min(seek / total, 1.0) if total else None,
                     desc=f"window {int(k) + 1}: from {seek:.1f} s of {total:.1f} s")
        elif len(rest) == 1:
            progress((int(k), int(rest[0])), desc="windows", unit="window")
        else:
            progress(None, desc=f"window {int(k) + 1}")
    return report


def long_state_value(result, clip) -> dict:
    """What the panel keeps in its ``gr.State``: the result, the clip's samples and rate, and
    the traces listed on their own so ``apps/budget.py`` counts their bytes (it walks dicts and
    lists, not dataclasses)."""
    return {"traces": list(result.traces), "result": result, "samples": clip.samples,
            "rate": clip.sample_rate}


def _choices(rows) -> list[tuple[str, int]]:
    return [(lv.window_label(w), w["index"]) for w in rows]


def _trace_of(result, index: int):
    """The trace of window ``index`` (by ``meta["window"]["index"]``, else by position)."""
    for pos, tr in enumerate(result.traces):
        if int((tr.meta.get("window") or {}).get("index", pos)) == int(index):
            return tr
    return None


def _status(result, seconds: float, model_id: str) -> str:
    rows = lv.window_rows(result.windows, result.traces)
    fb = [w["index"] for w in rows if w["fallbacks"]]
    skipped = [w["index"] for w in rows if w["skipped"]]
    wer = f" · WER {result.wer['wer']:.1%}" if result.wer and "wer" in result.wer else ""
    return (f"**Whole recording done**: {seconds:.1f} s in **{len(rows)} windows** · "
            f"{len(result.words or [])} words · {len(getattr(result, 'segments', None) or [])} "
            f"segments · fell back: {fb or 'none'} · skipped as no speech: {skipped or 'none'}"
            f"{wer} · model `{html.escape(model_id)}`. Pick a window below to open it in the "
            "step-by-step debugger.")


def build(*, audio, model_id, reference, beam_size, top_k, run_event, tab_outputs: list,
          tab_names: common.Outputs, views, language=None, task=None) -> dict:
    """The panel's components and listeners. ``run_event``: the tab's Run event (the long run
    is chained after it); ``tab_outputs``/``tab_names``: the tab's outputs (with its trace
    state), filled by ``views(trace)`` when a window is opened. ``language``/``task``: the
    tab's language picker and task radio (the language step runs on the first window)."""
    long_state = common.trace_state()
    with gr.Accordion("Whole recording (audio over 30 s: Whisper's long-form algorithm)",
                      open=True, elem_id="whisper-long"):
        gr.Markdown(
            "Audio over 30 s is decoded window by window as `transcribe()` / `generate()` do: "
            "each window decodes with timestamp tokens, the next one starts at the last complete "
            "timestamp (so windows differ in length), it is prompted with the previous window's "
            "text, a window whose text repeats itself (compression ratio) or is unsure "
            "(average log-prob) is decoded again at a higher temperature (**red border**), and a "
            "window with no speech is skipped (**grey**). Hover a window for why it ended. "
            "Options: openai `transcribe()`'s defaults (temperatures 0, 0.2 ... 1.0, compression "
            "ratio 2.4, log-prob -1.0, no-speech 0.6, conditioned on the previous text).")
        long_status = gr.Markdown("", elem_id="whisper-long-status")
        long_plot = trace_io.Plot(label="Windows over the waveform", elem_id="whisper-long-plot")
        long_window = gr.Dropdown([], value=None, label="Open a window in the debugger above",
                                  interactive=True, elem_id="whisper-long-window")
        long_text = gr.Textbox(label="Whole transcript", interactive=False, lines=3,
                               elem_id="whisper-long-text")
        long_table = gr.HTML(elem_id="whisper-long-table")
        with gr.Row():
            save_all = gr.Button("Download every window's trace (.zip)", size="sm")
            save_file = gr.File(label="All windows", interactive=False, height=70)
    ui = locals()
    all_names = common.Outputs(*OUTPUTS, *tab_names)
    select_names = common.Outputs(*SELECT, *tab_names)

    @common.guarded(all_names, box="long_status")
    def long_form(path, model, ref, beam, k, lang=None, task_=None, progress=gr.Progress()):
        """Decode a recording over 30 s window by window; the first window opens in the tab."""
        if not path or not is_long(path):
            return all_names.values(long_status="", long_plot=None, long_table="", long_text="",
                                    long_window=gr.update(choices=[], value=None))
        from lab.whisper.long import trace_long

        clip = load_audio(path)
        model = model or models.DEFAULTS[FAMILY]
        loaded = factory.get(model, FAMILY)
        from lab.whisper.language import choose

        lang, task_, lang_note = choose(loaded.model, lang, task_)
        progress(0, desc=f"decoding {clip.seconds:.1f} s window by window")
        from lab.whisper.long import OPENAI_DEFAULTS

        result = trace_long(clip, loaded, reference=(ref or "").strip() or None, top_k=int(k),
                            language=lang, task=task_,
                            progress=_progress_callback(progress, clip.seconds), **OPENAI_DEFAULTS)
        deadline.check()
        rows = lv.window_rows(result.windows, result.traces)
        first = next((w["index"] for w in rows if _trace_of(result, w["index"]) is not None), None)
        state = long_state_value(result, clip)
        beam_note = (f"\n\n*Note: long-form decodes greedily with temperature fallback (as "
                     f"`transcribe()`); beam size {int(beam)} applies to clips of 30 s or less.*"
                     if int(beam) > 1 else "")
        lang_note = f"\n\n*Note: {lang_note}.*" if lang_note else ""
        m0 = result.traces[0].meta if result.traces else {}
        if m0.get("language"):
            lang_note = (f"\n\nLanguage `{m0['language']}` ({m0.get('language_source')} on the first "
                         f"window) · task `{m0.get('task')}`") + lang_note
        out = dict(long_status=_status(result, clip.seconds, model) + beam_note + lang_note,
                   long_text=result.text,
                   long_plot=lv.long_result_figure(result, clip.samples, sample_rate=clip.sample_rate,
                                                   selected=first),
                   long_table=lv.windows_html(result.windows, result.traces, selected=first),
                   long_window=gr.update(choices=_choices(rows), value=first),
                   long_state=state)
        if first is not None:
            out.update(dict(zip(tab_names, views(_trace_of(result, first), rows[first]))))
        return all_names.values(**out)

    @common.guarded(select_names)
    def open_window(state, index):
        """Window ``index`` in the tab's debugger, outlined in the window view."""
        if not state or index is None:
            return select_names.skip()
        result = state["result"]
        tr = _trace_of(result, int(index))
        rows = lv.window_rows(result.windows, result.traces)
        out = dict(long_plot=lv.long_result_figure(result, state["samples"],
                                                   sample_rate=state["rate"], selected=int(index)),
                   long_table=lv.windows_html(result.windows, result.traces, selected=int(index)))
        if tr is not None:
            row = next((w for w in rows if w["index"] == int(index)), None)
            out.update(dict(zip(tab_names, views(tr, row))))
        return select_names.values(**out)

    @common.guarded(1)
    def save(state):
        if not state:
            from lab.errors import LabError

            raise LabError("no whole-recording run yet: pick a clip over 30 s and press Run")
        return trace_io.save_traces(list(state["result"].traces))

    run_event.then(long_form, [audio, model_id, reference, beam_size, top_k]
                   + [c for c in (language, task) if c is not None],
                   all_names.components({**ui, **dict(zip(tab_names, tab_outputs))}),
                   api_name="long_form")
    long_window.input(open_window, [long_state, long_window],
                      select_names.components({**ui, **dict(zip(tab_names, tab_outputs))}),
                      api_name="long_window")
    save_all.click(save, [long_state], save_file, api_name="long_save")
    return ui
