"""``what_if``: the unchanged run, the run with interventions, and their diff -- one call.

The CLI (``--ablate`` / ``--force-token`` / ``--edit`` / ``--patch`` / ``--what-if``), a notebook
cell and the app's What-if panel make this same call. With an ``edit`` the changed run's input is
the edited clip (``diff["same_input"]`` False, ``diff["edited_seconds"]``); a ``patch`` runs clip B
first (inside the changed run's plan)."""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import LabError
from ..trace import Trace
from .diff import diff as _diff
from .spec import parse

# family -> (module, trace function) taking (input, loaded, ..., interventions=)
TRACERS = {"whisper": ("lab.whisper.tracer", "trace_whisper"), "ctc": ("lab.ctc.capture", "trace_ctc"),
           "classify": ("lab.classify", "trace_classify"), "tts": ("lab.tts.capture", "trace_tts")}


@dataclass
class WhatIf:
    """``original``: the run without interventions; ``changed``: with them (``meta
    ["intervention"]`` says what was changed); ``diff``: :func:`lab.interventions.diff.diff`."""

    original: Trace
    changed: Trace
    diff: dict


def tracer(family: str):
    if family not in TRACERS:
        raise LabError(f"unknown family {family!r}; known: {', '.join(TRACERS)}")
    mod, fn = TRACERS[family]
    return getattr(importlib.import_module(mod), fn)


def what_if(family: str, x, loaded, interventions, *, original: Trace | None = None, **kw) -> WhatIf:
    """Run ``x`` (audio, or text for TTS) through ``loaded`` twice -- unchanged (or use
    ``original``, a trace of the same input) and with ``interventions`` -- and diff the two.
    ``kw`` go to both runs (the family's trace arguments)."""
    ivs = parse(interventions)
    if not ivs:
        raise LabError("what_if needs at least one intervention")
    run = tracer(family)
    a = original if original is not None else run(x, loaded, **kw)
    b = run(x, loaded, interventions=ivs, **kw)
    return WhatIf(original=a, changed=b, diff=_diff(a, b))
