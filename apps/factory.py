"""The apps' model factory: lazy, cached, replaceable in tests.

Tabs call ``get(model_id, family)``; nothing loads at import. Tests call
``set_loader(fn)`` with a function returning a ``lab.models.Loaded`` built from a tiny model.
"""
from __future__ import annotations

from typing import Callable

from lab.models import Loaded, load_cached

_loader: Callable[..., Loaded] = load_cached


def get(model_id: str | None, family: str, *, attention: bool = True) -> Loaded:
    return _loader(model_id or None, family=family, attention=attention)


def set_loader(fn: Callable[..., Loaded] | None) -> None:
    """Replace the loader (``None`` restores the real one)."""
    global _loader
    _loader = fn or load_cached
