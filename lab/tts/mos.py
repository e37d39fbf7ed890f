"""MOS listening panel storage: ratings appended to one CSV file the teacher collects.

Mean Opinion Score: listeners rate clips from 1 (bad) to 5 (excellent); the mean per system
(model + vocoder) with its 95% confidence interval is the classic TTS quality measure.

The CSV lives at ``$AUDIOLAB_MOS_CSV`` or ``<user data dir>/audio-transformer-lab/mos_ratings.csv``
(never a path from a browser). Columns: ``timestamp`` (UTC ISO 8601), ``rater``, ``clip_id``,
``text``, ``model``, ``vocoder``, ``score`` (1-5), ``comment``. Rated clips are saved next to it
(``mos_clips/<clip_id>.wav``) so the teacher can listen to what was rated.
"""
from __future__ import annotations

import csv
import hashlib
import math
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from lab.errors import LabError

COLUMNS = ["timestamp", "rater", "clip_id", "text", "model", "vocoder", "score", "comment"]
MAX_FIELD = 500
SCALE = {1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "excellent"}
_LOCK = threading.Lock()


def mos_csv_path() -> Path:
    env = os.environ.get("AUDIOLAB_MOS_CSV")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("audio-transformer-lab")) / "mos_ratings.csv"


def _clean(value, name: str) -> str:
    s = " ".join(str(value if value is not None else "").split())[:MAX_FIELD]
    if s[:1] in ("=", "+", "-", "@"):  # a spreadsheet would run it as a formula
        s = "'" + s
    return s


def clip_id(waveform: np.ndarray, model: str, vocoder: str, text: str) -> str:
    """A short stable id: the same audio from the same system gets the same id."""
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(waveform, dtype=np.float32).tobytes())
    h.update(f"{model}|{vocoder}|{text}".encode())
    return h.hexdigest()[:12]


def save_clip(waveform: np.ndarray, sample_rate: int, cid: str, path: Path | None = None) -> Path:
    """Write the rated clip as ``mos_clips/<clip_id>.wav`` beside the CSV (once)."""
    import soundfile as sf

    if not cid.isalnum():
        raise LabError(f"bad clip id {cid!r}")
    d = (path or mos_csv_path()).parent / "mos_clips"
    d.mkdir(parents=True, exist_ok=True)
    out = d / f"{cid}.wav"
    if not out.exists():
        w = np.asarray(waveform)
        if w.dtype != np.int16:  # float audio in [-1, 1]
            w = w.astype(np.float32)
        sf.write(str(out), w, int(sample_rate), subtype="PCM_16")
    return out


def append_rating(*, clip_id: str, text: str, model: str, vocoder: str, score, rater: str = "",
                  comment: str = "", path: Path | None = None) -> Path:
    """Append one rating (``score`` an integer 1-5) to the CSV; returns the CSV path."""
    try:
        score_i = int(score)
    except (TypeError, ValueError):
        raise LabError(f"score must be a whole number from 1 to 5, got {score!r}") from None
    if score_i != score and not (isinstance(score, str) and score.strip() == str(score_i)):
        raise LabError(f"score must be a whole number from 1 to 5, got {score!r}")
    if not 1 <= score_i <= 5:
        raise LabError(f"score must be from 1 (bad) to 5 (excellent), got {score_i}")
    if not clip_id:
        raise LabError("nothing to rate yet: generate a clip first")
    p = Path(path) if path is not None else mos_csv_path()
    row = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "rater": _clean(rater, "rater") or "anonymous", "clip_id": _clean(clip_id, "clip_id"),
           "text": _clean(text, "text"), "model": _clean(model, "model"),
           "vocoder": _clean(vocoder, "vocoder"), "score": score_i,
           "comment": _clean(comment, "comment")}
    with _LOCK:
        p.parent.mkdir(parents=True, exist_ok=True)
        new = not p.is_file() or p.stat().st_size == 0
        with p.open("a", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            if new:
                w.writeheader()
            w.writerow(row)
    return p


def read_ratings(path: Path | None = None) -> list[dict]:
    p = Path(path) if path is not None else mos_csv_path()
    if not p.is_file():
        return []
    with p.open(newline="", encoding="utf-8") as f:
        return [dict(r, score=int(r["score"])) for r in csv.DictReader(f)
                if str(r.get("score", "")).strip().isdigit()]


def summary(path: Path | None = None) -> list[dict]:
    """Per system (model, vocoder): ``n``, ``mos`` (mean), ``ci95`` (1.96 * sd / sqrt(n), 0 for
    n < 2), ``raters``; sorted by MOS, best first."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in read_ratings(path):
        groups.setdefault((r["model"], r["vocoder"]), []).append(r)
    out = []
    for (model, vocoder), rows in groups.items():
        s = np.array([r["score"] for r in rows], dtype=float)
        ci = 1.96 * s.std(ddof=1) / math.sqrt(len(s)) if len(s) > 1 else 0.0
        out.append({"model": model, "vocoder": vocoder, "n": len(s), "mos": float(s.mean()),
                    "ci95": float(ci), "raters": len({r["rater"] for r in rows})})
    return sorted(out, key=lambda d: -d["mos"])
