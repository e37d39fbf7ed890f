"""Corpus input: the Hugging Face ``audiofolder`` layout, or a ``datasets`` Dataset.

A directory of audio files (wav/flac/ogg/mp3, sub-directories included) with an optional
``metadata.csv`` (columns ``file_name`` and ``transcription``; ``text`` / ``sentence`` accepted)
giving the references. The layout is read here with the csv module (the lab does not depend on
``datasets``); the lab's held-out sets (``texts.json`` / ``labels.json`` beside the clips) are
read too. A ``datasets.Dataset`` with an Audio column is accepted as an object: its Audio column
is read undecoded (file bytes or path, decoded by ``lab.audio``), so torchcodec is not needed --
on this machine ``load_dataset("audiofolder", ...)`` itself fails without it (datasets 5.2; the
PyPI torchcodec 0.17 wheel links CUDA's libnvrtc), while a Dataset built otherwise (e.g.
``Dataset.from_dict({"audio": paths}).cast_column("audio", Audio())``) reads fine.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LabError

AUDIO_EXT = {".wav", ".flac", ".ogg", ".mp3"}
REF_COLUMNS = ("transcription", "text", "sentence", "label")


@dataclass
class Clip:
    """One corpus item: ``clip_id`` (its path relative to the corpus root, or the row index),
    ``path`` (a file) or ``array`` + ``sample_rate`` (decoded samples), ``reference`` text."""

    clip_id: str
    path: str | None = None
    reference: str | None = None
    array: Any = field(default=None, repr=False)
    sample_rate: int | None = None
    data: bytes | None = field(default=None, repr=False)  # an encoded file's bytes (wav, flac ...)

    def source(self):
        """What :func:`lab.audio.load_audio` takes."""
        if self.array is not None:
            import numpy as np

            if not self.sample_rate:
                raise LabError(f"{self.clip_id}: an audio array without its sampling_rate")
            return (int(self.sample_rate), np.asarray(self.array, dtype="float32"))
        if self.data is not None:
            return self.data
        return self.path


def _refs_from_json(root: Path) -> dict[str, str]:
    refs = {}
    for name, key in (("texts.json", "text"), ("labels.json", "label")):
        f = root / name
        if f.is_file():
            for k, v in json.loads(f.read_text()).items():
                refs[k] = v.get(key) if isinstance(v, dict) else str(v)
    return refs


def _refs_from_csv(root: Path) -> dict[str, str]:
    f = root / "metadata.csv"
    if not f.is_file():
        return {}
    with f.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and "file_name" not in rows[0]:
        raise LabError(f"{f}: no file_name column (audiofolder metadata.csv needs file_name)")
    out = {}
    for r in rows:
        ref = next((r[c] for c in REF_COLUMNS if r.get(c)), None)
        out[r["file_name"]] = ref
    return out


def read_folder(root: str | Path) -> list[Clip]:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise LabError(f"corpus {root} is not a directory (an audiofolder: audio files + metadata.csv)")
    refs = {**_refs_from_json(root), **_refs_from_csv(root)}
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXT and p.is_file())
    if not files:
        raise LabError(f"corpus {root} holds no audio file ({', '.join(sorted(AUDIO_EXT))})")
    return [Clip(clip_id=p.relative_to(root).as_posix(), path=str(p),
                 reference=refs.get(p.relative_to(root).as_posix())) for p in files]


def _audio_columns(ds) -> list[str]:
    """Names of ``datasets.Audio`` columns of a Dataset (none for a plain sequence)."""
    feats = getattr(ds, "features", None) or {}
    return [k for k, f in feats.items() if type(f).__name__ == "Audio"]


def _undecoded(ds, cols: list[str]):
    """The Dataset with its Audio columns cast to ``decode=False`` (rows give ``{"bytes",
    "path"}``): ``datasets`` >= 4 decodes audio with torchcodec, which the lab does not need --
    soundfile / librosa decode the bytes or the file (lab.audio.load_audio)."""
    from datasets import Audio

    for c in cols:
        ds = ds.cast_column(c, Audio(decode=False))
    return ds


def _clip_of(i: int, a, ref) -> Clip:
    """One Audio cell: a dict (``array`` + ``sampling_rate``, ``bytes`` and/or ``path``) or a
    torchcodec ``AudioDecoder`` (a Dataset decoded by ``datasets`` itself)."""
    if hasattr(a, "get_all_samples"):  # torchcodec AudioDecoder
        s = a.get_all_samples()
        return Clip(f"{i:06d}", reference=ref, array=s.data.numpy(), sample_rate=int(s.sample_rate))
    if not isinstance(a, dict):
        raise LabError(f"row {i}: the audio cell is a {type(a).__name__}, not an Audio value")
    path = a.get("path")
    name = Path(path).name if path else ""
    clip_id = f"{i:06d}-{name}" if name else f"{i:06d}"
    if a.get("array") is not None:
        return Clip(clip_id, reference=ref, array=a["array"], sample_rate=a.get("sampling_rate"))
    if a.get("bytes"):
        return Clip(clip_id, reference=ref, data=bytes(a["bytes"]))
    if path:
        return Clip(clip_id, path=str(path), reference=ref)
    raise LabError(f"row {i}: the audio cell has no array, bytes or path")


def read_dataset(ds, audio_column: str | None = None) -> list[Clip]:
    """A ``datasets.Dataset`` with an Audio column (read undecoded: bytes or path; decoded by
    lab.audio) or any sequence of dicts whose audio cell is ``{"array", "sampling_rate"}``,
    ``{"bytes"}`` or ``{"path"}``. The reference is the first of :data:`REF_COLUMNS` present.
    Clip ids are the row index (+ the file name when the cell has a path)."""
    cols = _audio_columns(ds)
    if cols:
        ds = _undecoded(ds, [audio_column] if audio_column else cols)
    clips = []
    for i, row in enumerate(ds):
        col = audio_column or (cols[0] if cols else None) or next(
            (k for k, v in row.items() if isinstance(v, dict) and ({"array", "bytes", "path"} & set(v))
             or hasattr(v, "get_all_samples")), None)
        if col is None or col not in row:
            raise LabError("the data set has no Audio column (a datasets.Audio feature, or a dict "
                           "with 'array' + 'sampling_rate', 'bytes' or 'path')")
        ref = next((row[c] for c in REF_COLUMNS if isinstance(row.get(c), str)), None)
        clips.append(_clip_of(i, row[col], ref))
    if not clips:
        raise LabError("the data set has no rows")
    return clips


def read_corpus(src) -> list[Clip]:
    """Clips of ``src``: a directory path, a ``datasets`` Dataset, or a list of :class:`Clip`."""
    if isinstance(src, (str, Path)):
        return read_folder(src)
    if isinstance(src, list) and all(isinstance(c, Clip) for c in src):
        return src
    return read_dataset(src)
