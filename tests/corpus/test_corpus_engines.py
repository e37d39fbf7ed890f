"""Corpus runs: processes and local Ray give the per-clip texts of solo traces; a corrupt clip is
recorded with its error (exit code 1) and the rest done; an interrupted run resumes."""
import pytest

from lab.corpus import Store, read_corpus, run_corpus
from lab.corpus import engine as E

from .conftest import CTC_MODEL, make_corpus


def test_audiofolder_read(corpus):
    clips = read_corpus(corpus)
    assert len(clips) == 20
    assert all(c.reference for c in clips)


def test_processes_match_solo(corpus, solo_texts, tmp_path):
    res = run_corpus(corpus, [CTC_MODEL], tmp_path / "store", workers=2, progress=False)
    assert (res.done, res.failed, res.exit_code) == (20, 0, 0)
    df = Store(tmp_path / "store").table()
    assert dict(zip(df["clip_id"], df["text"])) == solo_texts
    assert df["wer"].notna().all() and df["blank_ratio"].between(0, 1).all()
    tr = Store(tmp_path / "store").load_trace(CTC_MODEL, df["clip_id"][0])
    assert tr.meta["text"] == df["text"][0] and "ctc.probs" in tr


def test_ray_matches_solo(corpus, solo_texts, tmp_path):
    ray = pytest.importorskip("ray", reason="the [scale] extra (ray[data])")
    try:
        res = run_corpus(corpus, [CTC_MODEL], tmp_path / "store", workers=2, ray_address="local",
                         progress=False)
    finally:
        ray.shutdown()
    assert (res.done, res.failed) == (20, 0)
    df = Store(tmp_path / "store").table()
    assert dict(zip(df["clip_id"], df["text"])) == solo_texts


def test_corrupt_clip_recorded_exit_1(corpus, tmp_path):
    from lab.cli import main

    src = make_corpus(tmp_path / "c", corrupt=True)
    code = main(["corpus", "run", str(src), "--model", CTC_MODEL, "--out", str(tmp_path / "s"),
                 "--limit", "6", "--no-progress"])
    assert code == 1
    df = Store(tmp_path / "s").table()
    bad = df[df["clip_id"] == "corrupt.wav"]
    assert len(bad) == 1 and "corrupt.wav" in bad["error"].iloc[0]
    good = df[df["clip_id"] != "corrupt.wav"]
    assert len(good) == 5 and good["error"].isna().all() and good["text"].notna().all()
    # a clean corpus exits 0
    assert main(["corpus", "run", str(corpus), "--model", CTC_MODEL, "--out", str(tmp_path / "s2"),
                 "--limit", "2", "--no-progress"]) == 0


def test_interrupted_run_resumes(corpus, tmp_path, monkeypatch):
    calls = []
    real = E.trace_clip

    def counting(clip, loaded):
        if len(calls) == 7 and stop["on"]:
            raise KeyboardInterrupt  # the run is cut short mid-corpus
        calls.append(clip.clip_id)
        return real(clip, loaded)

    stop = {"on": True}
    monkeypatch.setattr(E, "trace_clip", counting)
    with pytest.raises(KeyboardInterrupt):
        run_corpus(corpus, [CTC_MODEL], tmp_path / "s", workers=1, flush_every=3, progress=False)
    store = Store(tmp_path / "s")
    first = set(calls)
    assert store.done() == {(CTC_MODEL, c) for c in first}  # every finished clip was kept
    mtimes = {c: (store.trace_dir(CTC_MODEL, c) / "trace.json").stat().st_mtime_ns for c in first}
    stop["on"] = False
    calls.clear()
    res = run_corpus(corpus, [CTC_MODEL], tmp_path / "s", workers=1, progress=False)
    assert (res.skipped, res.done) == (7, 13)
    assert not first & set(calls) and len(calls) == 13
    assert {c: (store.trace_dir(CTC_MODEL, c) / "trace.json").stat().st_mtime_ns for c in first} == mtimes
    assert len(store.table()) == 20


def test_store_parts_never_overwrite(tmp_path):
    """Two writers on one store (a resumed run, another process) in the same second keep every
    row: part names are unique, not a per-Store counter; the newest row of a pair wins."""
    from lab.corpus.clip import empty_row
    from lab.corpus.source import Clip

    def rows(ids, err=None):
        out = []
        for i in ids:
            r = empty_row(Clip(f"c{i}"), "m")
            r["error"] = err
            out.append(r)
        return out

    Store(tmp_path).write_rows(rows(range(3), err="boom"))
    Store(tmp_path).write_rows(rows(range(3, 6)))
    Store(tmp_path).write_rows(rows(range(2)))  # c0, c1 retried, now without error
    df = Store(tmp_path).table()
    assert sorted(df["clip_id"]) == [f"c{i}" for i in range(6)]
    assert df.set_index("clip_id")["error"].isna().to_dict() == {
        "c0": True, "c1": True, "c2": False, "c3": True, "c4": True, "c5": True}
