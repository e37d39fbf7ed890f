"""Intervention target names -> the modules they hook, from each family's table.

Every family's ``lab/<family>/names.py`` has ``intervention_targets(model)``: concrete target
name (``encoder.layers.2.attn``) -> ``(HF module path of the part, the path of its output
projection inside the part or None)``. The names are the capture names' modules: the attention
of ``encoder.layers.2.attn.pattern`` is target ``encoder.layers.2.attn``. This module turns one
name into a :class:`Target` (modules resolved, head count read) or a LabError that lists what
the model has.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

import torch

from ..capture import module_at
from ..errors import LabError


@dataclass(frozen=True)
class Target:
    name: str
    module_path: str
    module: torch.nn.Module
    out_proj_path: str | None
    out_proj: torch.nn.Module | None
    n_heads: int | None


def table(model, family: str) -> dict[str, tuple[str, str | None]]:
    """The family's concrete targets for ``model`` (``names.intervention_targets``)."""
    try:
        names = importlib.import_module(f"lab.{family}.names")
    except ModuleNotFoundError:
        raise LabError(f"unknown family {family!r}") from None
    return names.intervention_targets(model)


def n_heads_of(module) -> int | None:
    for attr in ("num_heads", "num_attention_heads", "n_heads"):
        v = getattr(module, attr, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def resolve(model, family: str, name: str, *, heads=None) -> Target:
    """The :class:`Target` called ``name`` in ``model``; LabError when the model has no such
    target, when heads are asked of a part without heads, or a head index is out of range."""
    tab = table(model, family)
    if name not in tab:
        shown = ", ".join(list(tab)[:8]) + (" ..." if len(tab) > 8 else "")
        raise LabError(f"{type(model).__name__} has no intervention target {name!r}; it has: {shown}")
    path, proj, *note = tab[name]
    module = module_at(model, path)
    n = n_heads_of(module)
    out_proj = None
    if heads is not None:
        if proj is None:
            why = note[0] if note else "it is not an attention part"
            raise LabError(f"{name}: heads cannot be ablated here ({why}); leave out heads to "
                           "ablate the whole part")
        out_proj = module_at(model, f"{path}.{proj}")
        if n is None:
            raise LabError(f"{name}: cannot read the head count of {type(module).__name__}")
        bad = [h for h in heads if not 0 <= int(h) < n]
        if bad:
            raise LabError(f"{name} has heads 0..{n - 1}; asked for {bad}")
    return Target(name=name, module_path=path, module=module,
                  out_proj_path=f"{path}.{proj}" if out_proj is not None else None,
                  out_proj=out_proj, n_heads=n)


def expand(patterns: dict[str, tuple], counts: dict[str, int]) -> dict[str, tuple]:
    """Concrete targets from ``{i}`` patterns: ``counts`` maps a pattern's first part
    (``encoder`` / ``decoder``) to its number of layers."""
    out = {}
    for pat, row in patterns.items():
        n = counts.get(pat.split(".")[0], 0)
        for i in range(n):
            out[pat.format(i=i)] = tuple(r.format(i=i) if isinstance(r, str) else r for r in row)
    return out
