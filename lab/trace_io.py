"""Traces as one ``.zip``: trace on a GPU box, explore on a laptop.

A trace zip holds what :meth:`lab.trace.Trace.save` writes -- ``trace.json`` and
``tensors.safetensors`` -- either at the top of the archive (:func:`save_zip` of one trace) or in
sub-directories, one per trace (``trace/``, ``trace_00/``, ``window_000/`` ...: what
``zip -r x.zip OUT`` makes of an ``audiolab trace ... --out OUT`` directory, or :func:`save_zip`
of several traces). Anything else in the archive (``tts.wav``, a README) is ignored.

Reading is safe for an archive from anywhere: nothing is extracted to disk; only members whose
last path part is exactly ``trace.json`` or ``tensors.safetensors`` are read, into memory, and a
member name that is absolute or climbs (``..``) rejects the archive; sizes are checked against
limits (declared and actually read); tensors are parsed by ``safetensors`` (no pickle, no code);
``trace.json`` must have the fields and shapes :meth:`Trace.save` writes. Every problem is one
:class:`lab.errors.LabError` naming it.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from .errors import LabError
from .trace import Trace

JSON_NAME, TENSORS_NAME = "trace.json", "tensors.safetensors"
MEMBERS = (JSON_NAME, TENSORS_NAME)
MAX_BYTES = 2 * 1024 ** 3      # all trace members together, uncompressed
MAX_JSON_BYTES = 256 * 1024 ** 2
MAX_TRACES = 64                # trace directories read from one archive
MAX_ENTRIES = 10_000           # archive members listed at all
FAMILY_TITLES = {"whisper": "Whisper", "ctc": "CTC", "tts": "TTS", "classify": "Classify"}


# -- writing ------------------------------------------------------------------------------------

def trace_bytes(trace: Trace) -> dict[str, bytes]:
    """The two members of one trace, as :meth:`Trace.save` writes them."""
    from safetensors.torch import save

    tensors = save({k: v.contiguous() for k, v in trace.tensors.items()})
    return {JSON_NAME: trace.json_document().encode(), TENSORS_NAME: tensors}


def save_zip(traces: Trace | Sequence[Trace], path: str | Path) -> Path:
    """Write one trace (members at the top) or several (``trace_00/``, ``trace_01/`` ...) to
    ``path`` (a ``.zip``). Deflated: the JSON well, the tensors quickly (level 1: a
    whisper-tiny.en trace, 134 MB of tensors, zips to 93 MB in about 3 s)."""
    items = [traces] if isinstance(traces, Trace) else list(traces)
    if not items:
        raise LabError("no trace to save: run the model first")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    single = len(items) == 1
    with zipfile.ZipFile(path, "w") as z:
        for i, tr in enumerate(items):
            prefix = "" if single else f"trace_{i:02d}/"
            for name, data in trace_bytes(tr).items():
                z.writestr(prefix + name, data, compress_type=zipfile.ZIP_DEFLATED,
                           compresslevel=9 if name == JSON_NAME else 1)
    return path


# -- reading ------------------------------------------------------------------------------------

def _member_dir(name: str) -> str | None:
    """The directory of a trace member (``""`` at the top), None for any other member; raises on
    a name that is absolute or climbs out of the archive."""
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise LabError(f"not a trace archive: member name {name!r} is an absolute path")
    p = PurePosixPath(name)
    if ".." in p.parts:
        raise LabError(f"not a trace archive: member name {name!r} climbs out of the archive")
    if p.name not in MEMBERS:
        return None
    return str(p.parent) if str(p.parent) != "." else ""


def _read(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, refusing more than ``limit`` (checked while reading, not only from the
    size the archive declares)."""
    if info.file_size > limit:
        raise LabError(f"{info.filename} is {info.file_size / 1e6:.1f} MB uncompressed: over the "
                       f"{limit / 1e6:.0f} MB limit for a trace")
    with z.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise LabError(f"{info.filename} holds more than the {limit / 1e6:.0f} MB limit")
    return data


def _check_doc(doc, where: str) -> None:
    if not isinstance(doc, dict):
        raise LabError(f"{where}: trace.json is not an object")
    missing = [k for k in ("family", "axes") if k not in doc]
    if missing:
        raise LabError(f"{where}: trace.json lacks {missing}: not written by Trace.save")
    if not isinstance(doc["family"], str) or not isinstance(doc["axes"], dict):
        raise LabError(f"{where}: trace.json has a bad 'family' or 'axes'")
    for key, kind in (("model_id", str), ("weights_source", str), ("time_bases", dict),
                      ("tokens", list), ("steps", list), ("meta", dict)):
        if key in doc and not isinstance(doc[key], kind):
            raise LabError(f"{where}: trace.json field {key!r} is not a {kind.__name__}")
    for name, axes in doc["axes"].items():
        if not isinstance(axes, list) or not all(isinstance(a, str) for a in axes):
            raise LabError(f"{where}: the axes of {name!r} are not a list of names")


def trace_from_bytes(doc_bytes: bytes, tensor_bytes: bytes, where: str = "trace") -> Trace:
    """A Trace from the two members' bytes (checked: JSON fields, tensors named by the axes, one
    axis per dimension). safetensors only: no pickle is ever read."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        doc = json.loads(doc_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LabError(f"{where}: trace.json is not valid JSON ({exc})") from None
    _check_doc(doc, where)
    try:
        tensors = load(tensor_bytes)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise LabError(f"{where}: tensors.safetensors is not a safetensors file ({exc})") from None
    axes = {k: tuple(v) for k, v in doc["axes"].items()}
    if set(axes) != set(tensors):
        extra, lost = sorted(set(tensors) - set(axes))[:3], sorted(set(axes) - set(tensors))[:3]
        raise LabError(f"{where}: trace.json and tensors.safetensors disagree (tensors without "
                       f"axes: {extra}; axes without tensors: {lost})")
    for k, t in tensors.items():
        if len(axes[k]) != t.dim():
            raise LabError(f"{where}: {k!r} has {t.dim()} dimensions but {len(axes[k])} axes")
    return Trace(family=doc["family"], model_id=doc.get("model_id", ""),
                 weights_source=doc.get("weights_source", ""),
                 tensors={k: tensors[k] for k in axes}, axes=axes,
                 time_bases={str(k): float(v) for k, v in doc.get("time_bases", {}).items()},
                 tokens=doc.get("tokens", []), steps=doc.get("steps", []),
                 meta=doc.get("meta", {}))


def load_zip(path: str | Path, *, family: str | None = None, max_bytes: int = MAX_BYTES,
             max_traces: int = MAX_TRACES) -> list[Trace]:
    """Every trace in the archive at ``path``, in member-directory order (``trace_00`` before
    ``trace_01``). ``family``: refuse a trace of another family with a message naming both.
    ``max_bytes``: the trace members together, uncompressed."""
    path = Path(path)
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LabError(f"{path.name} is not a zip archive ({exc.__class__.__name__}): save a "
                       "trace with the app's download button, Trace.save_zip, or zip the "
                       "directory `audiolab trace ... --out DIR` wrote") from None
    with z:
        infos = z.infolist()
        if len(infos) > MAX_ENTRIES:
            raise LabError(f"{path.name} lists {len(infos)} members: not a trace archive")
        dirs: dict[str, dict[str, zipfile.ZipInfo]] = {}
        for info in infos:
            d = _member_dir(info.filename)
            if d is None or info.is_dir():
                continue
            member = PurePosixPath(info.filename).name
            if member in dirs.setdefault(d, {}):
                raise LabError(f"{path.name} holds {info.filename!r} twice")
            dirs[d][member] = info
        complete = {d: m for d, m in dirs.items() if set(m) == set(MEMBERS)}
        if not complete:
            raise LabError(f"{path.name} holds no trace: expected {JSON_NAME} and {TENSORS_NAME} "
                           "side by side (what Trace.save writes)")
        if len(complete) > max_traces:
            raise LabError(f"{path.name} holds {len(complete)} traces: at most {max_traces}")
        total = sum(i.file_size for m in complete.values() for i in m.values())
        if total > max_bytes:
            raise LabError(f"{path.name} unpacks to {total / 1e6:.0f} MB of traces: over the "
                           f"{max_bytes / 1e6:.0f} MB limit")
        traces, budget = [], max_bytes
        for d in sorted(complete):
            m, where = complete[d], f"{path.name}:{d or '.'}"
            doc = _read(z, m[JSON_NAME], min(MAX_JSON_BYTES, budget))
            budget -= len(doc)
            tensors = _read(z, m[TENSORS_NAME], budget)
            budget -= len(tensors)
            traces.append(trace_from_bytes(doc, tensors, where))
    if family is not None:
        check_family(traces, family)
    return traces


def check_family(traces: Iterable[Trace], family: str) -> None:
    for tr in traces:
        if tr.family != family:
            tab = FAMILY_TITLES.get(tr.family, tr.family)
            raise LabError(f"this is a {tr.family} trace (model {tr.model_id or '?'}), not a "
                           f"{family} trace: load it in the {tab} tab")


def load_one(path: str | Path, *, family: str | None = None, **kw) -> Trace:
    """The first trace of the archive (see :func:`load_zip`)."""
    return load_zip(path, family=family, **kw)[0]
