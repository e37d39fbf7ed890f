"""Corpus input beyond the audiofolder: a ``datasets`` Dataset with an Audio column (read
undecoded, so no torchcodec) and plain dict rows (arrays, bytes)."""
import soundfile as sf

from lab.corpus import read_corpus, run_corpus, Store

from .conftest import CTC_MODEL


def test_datasets_audio_column(corpus, solo_texts, tmp_path):
    from datasets import Audio, Dataset

    paths = sorted(corpus.glob("*.flac"))[:3]
    refs = ["a b", "c d", "e f"]
    by_path = Dataset.from_dict({"audio": [str(p) for p in paths], "transcription": refs})
    by_bytes = Dataset.from_dict({"audio": [{"bytes": p.read_bytes(), "path": None} for p in paths],
                                  "sentence": refs})
    for ds in (by_path, by_bytes):
        ds = ds.cast_column("audio", Audio())  # decode=True: datasets itself would need torchcodec
        clips = read_corpus(ds)
        assert [c.reference for c in clips] == refs
        out = tmp_path / f"s{len(list(tmp_path.iterdir()))}"
        res = run_corpus(ds, [CTC_MODEL], out, progress=False)
        assert (res.done, res.failed) == (3, 0)
        df = Store(out).table().sort_values("clip_id")
        assert list(df["text"]) == [solo_texts[p.name] for p in paths]
        assert list(df["reference"]) == refs and df["wer"].notna().all()


def test_rows_with_arrays_and_no_audio(corpus, solo_texts):
    p = sorted(corpus.glob("*.flac"))[0]
    x, rate = sf.read(p, dtype="float32")
    clips = read_corpus([{"audio": {"array": x, "sampling_rate": rate}, "text": "hi"}])
    assert clips[0].reference == "hi" and clips[0].source()[0] == rate
    import pytest

    from lab.errors import LabError

    with pytest.raises(LabError, match="no Audio column"):
        read_corpus([{"text": "no audio here"}])
    with pytest.raises(LabError, match="not a directory"):
        read_corpus(str(p))


def test_classify_rows_use_the_tab_policy(tmp_path):
    """A keyword corpus: the top label scored against labels.json, traces as the Classify tab
    keeps them."""
    from apps.classify_tab import APP_POLICY
    from lab.corpus.clip import CLASSIFY_NAMES

    from .conftest import HELDOUT

    assert list(APP_POLICY.names) == CLASSIFY_NAMES
    res = run_corpus(HELDOUT.parent / "tiny-wav2vec2-keywords", ["tiny-wav2vec2-keywords"],
                     tmp_path / "s", limit=4, progress=False)
    assert (res.done, res.failed) == (4, 0)
    df = Store(tmp_path / "s").table()
    assert df["reference"].notna().all() and df["wer"].isin([0.0, 1.0]).all()
    assert (df["wer"] == 0).sum() >= 2  # the shipped keyword model gets most held-out clips right
    assert df["conf_mean"].between(0, 1).all()
