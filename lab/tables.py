"""Reading a family's capture tables: ``AXES`` (capture-name pattern -> axes) and ``META``
(meta key -> what it holds), as each ``lab/<family>/names.py`` declares them.

A pattern is a dotted capture name where ``{i}`` / ``{s}`` (any ``{word}``) stands for an index,
e.g. ``encoder.layers.{i}.attn.pattern``. Its axes are a tuple of axis names (an axis may use the
same placeholder: ``("channel", "conv_frame_{i}")``) or a list of alternative tuples when the
layout depends on the architecture (CTC's attention mask: ``[("sample",), ("feature_frame",)]``).
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

Axes = tuple[str, ...]


def _regex(pattern: str) -> re.Pattern:
    parts = re.split(r"(\{\w+\})", pattern)
    rx = "".join(f"(?P<{p[1:-1]}>\\d+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(rx + r"\Z")


def layouts(axes) -> list[Axes]:
    """The alternative layouts of one ``AXES`` value (a tuple, or a list of tuples)."""
    return [tuple(a) for a in axes] if isinstance(axes, list) else [tuple(axes)]


def match(table: Mapping[str, object], name: str) -> tuple[str, list[Axes]] | None:
    """(pattern, its layouts with the index filled in) of concrete capture ``name``, or None."""
    if name in table:
        return name, layouts(table[name])
    for pattern, axes in table.items():
        m = _regex(pattern).match(name)
        if m:
            idx = m.groupdict()
            return pattern, [tuple(a.format(**idx) for a in lay) for lay in layouts(axes)]
    return None


def check_trace(trace, axes_table: Mapping[str, object], meta_table: Mapping[str, str]) -> list[str]:
    """Problems of ``trace`` against the tables: tensor names no pattern matches, axes that differ
    from the pattern's, meta keys not documented. Empty list: the trace is what the tables say."""
    problems = []
    for name, axes in trace.axes.items():
        hit = match(axes_table, name)
        if hit is None:
            problems.append(f"tensor {name!r} matches no AXES pattern")
        elif tuple(axes) not in hit[1]:
            problems.append(f"tensor {name!r} has axes {tuple(axes)}, AXES[{hit[0]!r}] says "
                            f"{' or '.join(map(str, hit[1]))}")
    problems += [f"meta key {k!r} is not documented in META" for k in trace.meta if k not in meta_table]
    return problems


def rows(axes_table: Mapping[str, object], meta_table: Mapping[str, str],
         notes: Mapping[str, str] | None = None) -> list[dict]:
    """What a family can capture: one row per tensor pattern ``{"name", "kind": "tensor",
    "axes": [tuple, ...], "doc"}`` then one per meta key ``{"name": "meta[key]", "kind": "meta",
    "axes": [], "doc"}``."""
    notes = notes or {}
    out = [{"name": p, "kind": "tensor", "axes": layouts(a), "doc": notes.get(p, "")}
           for p, a in axes_table.items()]
    out += [{"name": f"meta[{k!r}]", "kind": "meta", "axes": [], "doc": d}
            for k, d in meta_table.items()]
    return out


def format_rows(family: str, table: Sequence[dict]) -> str:
    """The rows of :func:`rows` as aligned text (for a terminal or a notebook)."""
    w = max((len(r["name"]) for r in table), default=4)
    lines = [f"{family}: what a trace can hold"]
    for r in table:
        axes = " | ".join("(" + ", ".join(a) + ")" for a in r["axes"])
        lines.append(f"  {r['name']:<{w}}  {axes}  {r['doc']}".rstrip())
    return "\n".join(lines)
