"""The Corpus tab opens a store under the configured root, draws its figures, and a picked row
opens in its family's tab from the stored trace (the tab's own views, Tabs switched)."""
from types import SimpleNamespace

import pytest

from lab.corpus import Store, run_corpus
from lab.viz import corpus as vc

from .conftest import CTC_MODEL


@pytest.fixture(scope="module")
def root(corpus, tmp_path_factory):
    r = tmp_path_factory.mktemp("corpus-root")
    run_corpus(corpus, [CTC_MODEL], r / "speech", progress=False, limit=6)
    return r


@pytest.fixture(scope="module")
def app(root):
    mp = pytest.MonkeyPatch()
    mp.setenv("AUDIOLAB_CORPUS_ROOT", str(root))
    from apps.main import build_app

    demo = build_app()
    yield demo
    mp.undo()


def _fn(demo, api_name):
    return next(f.fn for f in demo.fns.values() if f.api_name == api_name)


def test_figures_from_table(root):
    df = Store(root / "speech").table()
    refs, hyps, counts = vc.confusion(df)
    assert refs and sum(map(sum, counts)) == sum(len(r) for r in df["reference"]) > 0
    assert vc.calibration(df)[CTC_MODEL]
    assert len(vc.wer_histogram_figure(df).data) == 1


def test_tab_opens_store_and_row(app, root):
    from apps import corpus_tab

    assert corpus_tab.stores() == ["speech"]
    from apps.corpus_tab import OUTPUTS as CO

    out = dict(zip(CO, _fn(app, "corpus_open")("speech", "all", "")))
    status, table = out["status"], out["table"]
    assert "6 clips" in status and len(table) == 6
    assert set(table.columns) >= {"wer", "conf_mean", "duration", "language", "model", "error"}
    # filters: WER at least x, transcript contains, model
    worst = table["wer"].max()
    t2, shown2 = _fn(app, "corpus_filter")("speech", CTC_MODEL, "", "all", worst)
    assert len(t2) == (table["wer"] >= worst).sum() and (t2["wer"] >= worst).all()
    assert len(_fn(app, "corpus_filter")("speech", "no-such-model", "", "all", None)[0]) == 0
    # a pick in a table the browser sorted: the clicked row's values decide, not its index
    shown = out["shown"]
    last = table.iloc[5]
    evt = SimpleNamespace(index=[0, 1], row_value=list(last.values))
    picked, note = corpus_tab.pick(shown, evt)
    assert picked["clip_id"] == last["clip_id"] and last["clip_id"] in note
    picked = {"model": CTC_MODEL, "clip_id": table["clip_id"][2], "family": "ctc"}
    values = _fn(app, "corpus_open_ctc")("speech", picked)
    tabs, note = values[-2], values[-1]
    assert tabs.selected == "CTC" and "Opened" in note
    from apps import ctc_tab

    vals = dict(zip(ctc_tab.OUTPUTS, values[:-2]))
    assert vals["text"] == table["text"][2]
    assert vals["state"].meta["corpus"]["clip_id"] == picked["clip_id"]
    # another family's listener leaves everything alone; a name off the list is refused
    import gradio as gr

    assert all(v == gr.skip() for v in _fn(app, "corpus_open_whisper")("speech", picked))
    with pytest.raises(Exception):
        corpus_tab.store_of("../etc")


def test_run_from_tab_stays_under_root(app, root):
    """A held-out set traced from the tab lands in <root>/<sanitised name>, never outside."""
    from apps import corpus_tab

    assert "speech-en" in corpus_tab.heldout_sets()
    status, dropdown = _fn(app, "corpus_run")("speech-en", [CTC_MODEL, "not-offered"], "../up")
    assert "traced 20" in status, status
    assert [p.name for p in root.parent.iterdir() if p.name == "up"] == []
    name = dropdown["value"]
    assert (root / name).is_dir() and name in corpus_tab.stores() and not name.startswith(".")
    err, _ = _fn(app, "corpus_run")("../../etc", [CTC_MODEL], "x")
    assert "held-out set" in str(err)


def test_pickers_choose_the_compared_models(app, root):
    """The disagreement figure compares the two models picked (not always the first two), the
    confusion matrix is of the CTC model picked; the same model twice is refused."""
    import pandas as pd

    from apps import corpus_tab

    rows = []
    for m, fam, texts in (("m1", "ctc", ["a cat", "a dog"]), ("m2", "ctc", ["a cat", "a fog"]),
                          ("m3", "whisper", ["the bat", "a dog"])):
        for i, t in enumerate(texts):
            rows.append({"model": m, "family": fam, "clip_id": f"c{i}", "text": t, "wer": 0.0, "error": None})
    df = pd.DataFrame(rows)
    assert corpus_tab._picks(df) == ("m1", "m2", "m1")
    assert corpus_tab._picks(df, "m3", "m2", "m2") == ("m3", "m2", "m2")
    assert corpus_tab._picks(df, "m3", "m3", "m3") == ("m3", "m1", "m1")  # b != a; m3 is not CTC
    fig = vc.disagreement_figure(df, *corpus_tab._picks(df, "m1", "m3")[:2])
    assert "m1 and m3" in fig.layout.title.text
    assert list(fig.data[0].y) == ["c1", "c0"]  # c0 differs most between m1 and m3 (drawn last = top)
    from apps.corpus_tab import OUTPUTS as CO

    out = dict(zip(CO, _fn(app, "corpus_open")("speech", "all", "")))
    assert out["ctc_pick"]["value"] == CTC_MODEL and out["pair_b"]["value"] is None
    err = _fn(app, "corpus_pairs")("speech", CTC_MODEL, CTC_MODEL, CTC_MODEL)
    assert "two different models" in str(err[2])
    conf, dis, note = _fn(app, "corpus_pairs")("speech", CTC_MODEL, None, CTC_MODEL)
    assert CTC_MODEL in conf.layout.title.text and "one model only" in note
