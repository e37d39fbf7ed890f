"""The apps' model factory: lazy, cached, replaceable in tests.

Tabs call ``get(model_id, family)``; nothing loads at import. Tests call
``set_loader(fn)`` with a function returning a ``lab.models.Loaded`` built from a tiny model.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from apps import settings
from lab.models import Loaded, check_id, load_cached

_loader: Callable[..., Loaded] = load_cached


def get(model_id: str | None, family: str, *, attention: bool = True,
        server_path: bool = False) -> Loaded:
    """The model for an id typed in (or picked from) a tab's model box. In public mode
    (``settings.current().allow_paths`` False) only listed ids and hub ids are accepted, never
    a server path (``lab.models.check_id``), whichever loader is set. ``server_path=True``: the
    tab made ``model_id`` itself (a demo model's cache directory), not the browser's text."""
    allow = settings.current().allow_paths or server_path
    check_id(model_id or None, allow_paths=allow)
    if _loader is load_cached:
        loaded = load_cached(model_id or None, family=family, attention=attention,
                             allow_paths=allow)
    else:
        loaded = _loader(model_id or None, family=family, attention=attention)
    if settings.current().scrub_paths and isinstance(loaded, Loaded):
        from apps.common import scrub_paths

        # the weights source is shown (and saved in traces): no server paths in public mode
        loaded = dataclasses.replace(loaded, weights_source=scrub_paths(loaded.weights_source))
    return loaded


def set_loader(fn: Callable[..., Loaded] | None) -> None:
    """Replace the loader (``None`` restores the real one)."""
    global _loader
    _loader = fn or load_cached
