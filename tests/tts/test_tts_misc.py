"""Speaker embeddings, MOS CSV, alignment score."""
import csv

import numpy as np
import pytest

from lab.errors import LabError
from lab.tts import mos
from lab.tts.alignment import diagonality, head_diagonality
from lab.tts.speaker import DEFAULT_SPEAKER, load_speaker


def test_default_speaker():
    t, desc = load_speaker(None, 512)
    assert t.shape == (1, 512) and "not a real speaker" in desc
    assert np.array_equal(t[0].numpy(), np.load(DEFAULT_SPEAKER))


def test_speaker_from_file(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.arange(512, dtype=np.float64)[None])
    t, desc = load_speaker(str(p), 512)
    assert t.shape == (1, 512) and desc == "file x.npy" and float(t[0, 5]) == 5.0


@pytest.mark.parametrize("src, msg", [
    ("/no/such.npy", "not found"), (np.zeros(512), "all zeros"), (np.ones(10), "512-d"),
    (np.full(512, np.inf), "NaN/inf"), (np.array(["a"] * 512), "numbers"),
])
def test_bad_speakers(src, msg):
    with pytest.raises(LabError, match=msg):
        load_speaker(src, 512)


def test_speaker_not_npy(tmp_path):
    p = tmp_path / "x.npy"
    p.write_text("not numpy")
    with pytest.raises(LabError, match="could not read"):
        load_speaker(str(p), 512)


def test_mos_append_read_summary(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "ratings.csv"
    monkeypatch.setenv("AUDIOLAB_MOS_CSV", str(path))
    assert mos.mos_csv_path() == path
    for score, rater in [(4, "ann"), (5, "bob"), ("3", "cy")]:
        mos.append_rating(clip_id="abc123", text="Hi", model="m", vocoder="hifigan", score=score,
                          rater=rater, comment="ok")
    mos.append_rating(clip_id="abc124", text="=HYPERLINK(1)", model="m", vocoder="griffin-lim",
                      score=2, rater="", comment="-boom")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == mos.COLUMNS and len(rows) == 4
    assert rows[3]["text"] == "'=HYPERLINK(1)" and rows[3]["comment"] == "'-boom"
    assert rows[3]["rater"] == "anonymous"
    s = mos.summary()
    assert [(r["vocoder"], r["n"], r["mos"]) for r in s] == [("hifigan", 3, 4.0), ("griffin-lim", 1, 2.0)]
    assert s[0]["ci95"] == pytest.approx(1.96 * 1.0 / 3 ** 0.5)


@pytest.mark.parametrize("score", [0, 6, 3.5, "x", None])
def test_mos_bad_scores(tmp_path, score):
    with pytest.raises(LabError, match="score"):
        mos.append_rating(clip_id="a1", text="t", model="m", vocoder="v", score=score,
                          path=tmp_path / "r.csv")
    assert not (tmp_path / "r.csv").exists()


def test_mos_clip_saved_once(tmp_path):
    wav = np.zeros(1600, np.float32)
    cid = mos.clip_id(wav, "m", "v", "t")
    p = mos.save_clip(wav, 16000, cid, path=tmp_path / "r.csv")
    assert p == tmp_path / "mos_clips" / f"{cid}.wav" and p.is_file()
    with pytest.raises(LabError):
        mos.save_clip(wav, 16000, "../evil", path=tmp_path / "r.csv")


def test_diagonality_scores():
    n = 20
    eye = np.eye(n)
    uniform = np.full((n, n), 1 / n)
    anti = eye[::-1]
    assert diagonality(eye) == pytest.approx(1.0)
    assert diagonality(uniform) == pytest.approx(0.42, abs=0.02)
    assert diagonality(anti) < 0.3
    stack = np.stack([eye, uniform], axis=1)[:, :, None, :]  # (step, layer=2, head=1, text)
    assert head_diagonality(stack)[:, 0] == pytest.approx([1.0, diagonality(uniform)])
