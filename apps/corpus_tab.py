"""The Corpus tab: open a corpus store (or trace a held-out set into one), browse its table and
aggregate figures, open any clip in its family's tab from the stored trace (no model runs).

Stores live under one root on the server (``AUDIOLAB_CORPUS_ROOT``, default
``<lab cache>/corpus``): the browser picks one from a dropdown, never types a path; a run from the
tab writes ``<root>/<name>`` with a sanitised name. Handlers (``api_name``): ``/corpus_stores``,
``/corpus_open``, ``/corpus_filter``, ``/corpus_run``, ``/corpus_pick``; opening a row is wired by
:func:`connect` (called by ``apps/main.py`` after every tab is built).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import gradio as gr

from apps import common, trace_io
from lab.corpus import Store, run_corpus
from lab.corpus.store import safe_name
from lab.errors import LabError
from lab.viz import corpus as vc

TITLE = "Corpus"
HELDOUT = Path(__file__).resolve().parent.parent / "assets" / "heldout"
MAX_TAB_CLIPS = 20  # a run from the tab traces at most this many clips
SHOWN = ["model", "clip_id", "duration", "text", "reference", "wer", "cer", "conf_mean",
         "conf_min", "blank_ratio", "language", "stop_reason", "steps", "seconds", "error"]
FAMILY_TABS = {"ctc": "apps.ctc_tab", "whisper": "apps.whisper_tab", "classify": "apps.classify_tab"}
_UI: dict = {}

ABOUT = """### Corpus: where does a model fail?
A corpus run traces every clip of a data set with every model (`audiolab corpus run CORPUS
--model ID --out STORE`): one Parquet table of per-clip summaries and each clip's trace. Open a
store (or trace a held-out set here), sort and filter the table, read the aggregate figures, then
**pick a row and open it** in its model's tab: every view is drawn from the stored trace."""


def root() -> Path:
    env = os.environ.get("AUDIOLAB_CORPUS_ROOT")
    if env:
        return Path(env).expanduser()
    from lab.cache import cache_dir

    return cache_dir() / "corpus"


def stores() -> list[str]:
    r = root()
    if not r.is_dir():
        return []
    return sorted(p.name for p in r.iterdir() if Store(p).exists())


def store_of(name) -> Store:
    """The store ``name`` under the root -- only a listed name (never a path from the browser)."""
    if not name or name not in stores():
        raise LabError(f"no corpus store {name!r} under the corpus root: pick one from the list")
    return Store(root() / name)


def heldout_sets() -> list[str]:
    return sorted(p.name for p in HELDOUT.iterdir() if p.is_dir() and
                  any(p.glob("*.flac"))) if HELDOUT.is_dir() else []


def asr_models() -> list[str]:
    return common.model_choices("ctc") + common.model_choices("whisper")


def _filter(df, model="all", text="", language="all", min_wer=None):
    """Rows of ``model`` (or all), in ``language`` (or all), with WER >= ``min_wer`` (when set),
    whose clip id or transcript contains ``text``."""
    if model and model != "all":
        df = df[df["model"] == model]
    if language and language != "all":
        df = df[df["language"] == language]
    if min_wer:
        df = df[df["wer"].fillna(-1) >= float(min_wer)]
    if text:
        t = text.lower()
        df = df[df["clip_id"].str.lower().str.contains(t, regex=False) |
                df["text"].fillna("").str.lower().str.contains(t, regex=False)]
    return df.reset_index(drop=True)


def _choices(df) -> tuple[list[str], list[str]]:
    """(every model, the CTC models) of a store's table."""
    return (sorted(df["model"].dropna().unique()),
            sorted(df.loc[df["family"] == "ctc", "model"].dropna().unique()))


def _picks(df, a=None, b=None, ctc_model=None) -> tuple:
    """The two models to compare and the CTC model of the confusion matrix: the user's picks when
    the store has them, else the first two / the first CTC model."""
    models, ctc = _choices(df)
    a = a if a in models else (models[0] if models else None)
    b = b if b in models and b != a else next((m for m in models if m != a), None)
    ctc_model = ctc_model if ctc_model in ctc else (ctc[0] if ctc else None)
    return a, b, ctc_model


def _pair_figures(df, a, b, ctc_model):
    dis = vc.disagreement_figure(df, a, b) if a and b else vc.disagreement_figure(df.iloc[0:0], "a", "b")
    return vc.confusion_figure(df, ctc_model), dis


def _figures(df, a=None, b=None, ctc_model=None):
    a, b, ctc_model = _picks(df, a, b, ctc_model)
    conf, dis = _pair_figures(df, a, b, ctc_model)
    return vc.wer_histogram_figure(df), conf, vc.calibration_figure(df), dis


def _summary(store: Store, df) -> str:
    ok = df["error"].isna()
    parts = [f"**{store.path.name}**: {df['clip_id'].nunique()} clips x {df['model'].nunique()} "
             f"model(s), {int(ok.sum())} traced, {int((~ok).sum())} failed."]
    for m, g in df[ok].groupby("model"):
        w = g["wer"].dropna()
        parts.append(f"`{m}`: mean WER {w.mean():.3f} over {len(w)} clips" if len(w) else f"`{m}`")
    return "  \n".join(parts)


OUTPUTS = common.Outputs("status", "model_filter", "language_filter", "table", "wer_hist",
                         "confusion", "calibration", "disagree", "shown", "pair_a", "pair_b", "ctc_pick")


@common.guarded(OUTPUTS, box="status")
def open_store(name, model="all", text="", language="all", min_wer=None):
    store = store_of(name)
    df = store.table()
    models = ["all"] + sorted(df["model"].unique())
    languages = ["all"] + sorted(df["language"].dropna().unique())
    model = model if model in models else "all"
    language = language if language in languages else "all"
    shown = _filter(df, model, text, language, min_wer)
    a, b, ctc_model = _picks(df)
    figs = _figures(df, a, b, ctc_model)
    all_models, ctc = _choices(df)
    return OUTPUTS.values(status=_summary(store, df),
                          pair_a=gr.update(choices=all_models, value=a),
                          pair_b=gr.update(choices=all_models, value=b),
                          ctc_pick=gr.update(choices=ctc, value=ctc_model),
                          model_filter=gr.update(choices=models, value=model),
                          language_filter=gr.update(choices=languages, value=language),
                          table=shown[SHOWN], wer_hist=figs[0], confusion=figs[1], calibration=figs[2],
                          disagree=figs[3], shown=shown[["model", "clip_id", "family"]])


@common.guarded(3, box=2)
def redraw_pairs(name, a, b, ctc_model):
    """The confusion matrix and the disagreement figure for the picked models, and a note."""
    df = store_of(name).table()
    if a and b and a == b:
        raise LabError(f"pick two different models to compare (both are {a})")
    a, b, ctc_model = _picks(df, a, b, ctc_model)
    return (*_pair_figures(df, a, b, ctc_model),
            f"Confusion of **{ctc_model or '(no CTC model)'}**; disagreement of **{a}** and **{b or '(one model only)'}**.")


@common.guarded(2)
def filter_table(name, model, text, language="all", min_wer=None):
    shown = _filter(store_of(name).table(), model, text, language, min_wer)
    return shown[SHOWN], shown[["model", "clip_id", "family"]]


@common.guarded(2, box=0)
def run_heldout(heldout, models, name, progress=gr.Progress(track_tqdm=True)):
    if heldout not in heldout_sets():
        raise LabError(f"pick a held-out set from the list (got {heldout!r})")
    models = [m for m in (models or []) if m in asr_models()]
    if not models:
        raise LabError("pick at least one model from the list")
    name = safe_name((name or "").strip() or f"{heldout}")
    res = run_corpus(HELDOUT / heldout, models, root() / name, workers=1, progress=True,
                     limit=MAX_TAB_CLIPS)  # the tqdm bar shows in the tab (track_tqdm)
    return (f"traced {res.done}, failed {res.failed}, skipped {res.skipped} (done before) into "
            f"**{name}**; open it above.", gr.update(choices=stores(), value=name))


def pick(shown, evt: gr.SelectData):
    """The (model, clip id, family) of the selected table row: found by the row's model and clip
    id (``evt.row_value``), so a table the browser sorted picks the row that was clicked; the
    row index only when no row value came."""
    if shown is None or evt is None or evt.index is None or not len(shown):
        return None, "Pick a row of the table."
    rv = getattr(evt, "row_value", None)
    if rv and len(rv) >= 2:
        hit = shown[(shown["model"] == rv[SHOWN.index("model")]) &
                    (shown["clip_id"] == rv[SHOWN.index("clip_id")])]
        if not len(hit):
            return None, "Pick a row of the table."
        r = hit.iloc[0]
    else:
        i = evt.index[0] if isinstance(evt.index, (list, tuple)) else int(evt.index)
        if not 0 <= i < len(shown):
            return None, "Pick a row of the table."
        r = shown.iloc[i]
    p = {"model": r["model"], "clip_id": r["clip_id"], "family": r["family"]}
    return p, f"Picked **{p['clip_id']}** ({p['model']}, {p['family']}): press **Open in its tab**."


def open_row(store_name, picked, family: str):
    """The family tab's outputs for the picked row's stored trace, and the Tabs switched there;
    ``None`` when the row is not of ``family`` (another family's handler opens it)."""
    if not picked or picked.get("family") != family:
        return None
    store = store_of(store_name)
    tdir = store.trace_dir(picked["model"], picked["clip_id"])
    if not (tdir / "trace.json").is_file():
        raise LabError(f"no stored trace for {picked['clip_id']} ({picked['model']}): the clip "
                       "failed (see its error) or the store was cut short")
    return store.load_trace(picked["model"], picked["clip_id"])


def build() -> None:
    gr.Markdown(ABOUT)
    with gr.Row():
        store = gr.Dropdown(stores(), label=f"Store (under the corpus root)", elem_id="corpus-store")
        refresh = gr.Button("Refresh the list", elem_id="corpus-refresh")
        open_btn = gr.Button("Open", variant="primary", elem_id="corpus-open")
    with gr.Accordion("Trace a held-out set into a new store", open=False):
        with gr.Row():
            heldout = gr.Dropdown(heldout_sets(), value=(heldout_sets() or [None])[0], label="Held-out set")
            models = gr.Dropdown(asr_models(), multiselect=True, label="Models", elem_id="corpus-models")
            name = gr.Textbox(label="Store name", placeholder="e.g. speech-en")
            run = gr.Button("Run", elem_id="corpus-run")
        run_status = gr.Markdown()
    status = common.status_box("Pick a store and press **Open**.", elem_id="corpus-status")
    with gr.Row():
        model_filter = gr.Dropdown(["all"], value="all", label="Model", elem_id="corpus-model-filter")
        language_filter = gr.Dropdown(["all"], value="all", label="Language")
        min_wer = gr.Number(None, label="WER at least", minimum=0, elem_id="corpus-min-wer")
        text = gr.Textbox(label="Filter: clip id or transcript contains", elem_id="corpus-text")
    table = gr.Dataframe(headers=SHOWN, interactive=False, wrap=True, elem_id="corpus-table",
                         label="Per-clip summaries (click a header to sort, a row to pick it)")
    shown = common.trace_state()
    picked = common.trace_state()
    with gr.Row():
        picked_box = gr.Markdown("Pick a row of the table.", elem_id="corpus-picked")
        open_row_btn = gr.Button("Open in its tab", elem_id="corpus-open-row")
    with gr.Row():
        wer_hist = trace_io.Plot(label="WER per model", elem_id="corpus-wer")
        calibration = trace_io.Plot(label="Calibration", elem_id="corpus-calibration")
    with gr.Row():
        ctc_pick = gr.Dropdown([], label="Confusion of the CTC model", elem_id="corpus-ctc-pick")
        pair_a = gr.Dropdown([], label="Disagreement: model A", elem_id="corpus-pair-a")
        pair_b = gr.Dropdown([], label="… and model B", elem_id="corpus-pair-b")
        pair_note = gr.Markdown(elem_id="corpus-pair-note")
    with gr.Row():
        confusion = trace_io.Plot(label="CTC character confusion", elem_id="corpus-confusion")
        disagree = trace_io.Plot(label="Where two models disagree", elem_id="corpus-disagree")

    outs = OUTPUTS.components(locals())
    refresh.click(lambda: gr.update(choices=stores()), None, store, api_name="corpus_stores")
    filters = [store, model_filter, text, language_filter, min_wer]
    open_btn.click(open_store, filters, outs, api_name="corpus_open")
    gr.on([model_filter.input, language_filter.input, min_wer.submit, text.submit], filter_table,
          filters, [table, shown], api_name="corpus_filter")
    gr.on([ctc_pick.input, pair_a.input, pair_b.input], redraw_pairs, [store, pair_a, pair_b, ctc_pick],
          [confusion, disagree, pair_note], api_name="corpus_pairs")
    run.click(run_heldout, [heldout, models, name], [run_status, store], api_name="corpus_run")
    table.select(pick, [shown], [picked, picked_box], api_name="corpus_pick")
    _UI.update(store=store, picked=picked, open_row=open_row_btn, status=status)


def _opener(family: str, views, n: int, title: str):
    def handler(store_name, picked):
        try:
            tr = open_row(store_name, picked, family)
        except LabError as exc:
            return [gr.skip()] * n + [gr.skip(), common.error_box(exc)]
        if tr is None:
            return [gr.skip()] * n + [gr.skip(), gr.skip()]
        return list(views([tr])) + [gr.Tabs(selected=title),
                                    f"Opened **{picked['clip_id']}** in the {title} tab."]
    handler.__name__ = f"open_{family}"
    return handler


def connect(tabs: gr.Tabs) -> None:
    """Wire "Open in its tab": one listener per family tab built in this app."""
    if not _UI:
        return
    for family, mod_name in FAMILY_TABS.items():
        if family not in trace_io.OPENERS:
            continue
        title = importlib.import_module(mod_name).TITLE
        outputs, views = trace_io.OPENERS[family]
        _UI["open_row"].click(_opener(family, views, len(outputs), title), [_UI["store"], _UI["picked"]],
                              list(outputs) + [tabs, _UI["status"]], api_name=f"corpus_open_{family}")
