"""The classification lab: AST patches and attention; wav2vec2-style sequence and frame
classifiers; one encoder with three heads.

Entry point: :func:`trace_classify` picks the trace for the model's architecture
(``lab.classify.names.TABLE``): :func:`trace_ast`, :func:`trace_sequence` or :func:`trace_frames`.
"""
from __future__ import annotations

from .ast import extract_patches, fbank_frames, patch_grid, trace_ast
from .common import activation_for, as_loaded, label_names
from .frames import trace_frames
from .heads import three_heads
from .names import describe, kind_of, paths_for
from .rollout import attention_rollout, rollout_rows
from .sequence import trace_sequence

__all__ = ["trace_classify", "trace_ast", "trace_sequence", "trace_frames", "patch_grid",
           "extract_patches", "fbank_frames", "attention_rollout", "rollout_rows", "three_heads",
           "kind_of", "paths_for", "activation_for", "label_names", "as_loaded", "describe"]


def trace_classify(audio, loaded, *, interventions=None, **kw):
    """Trace ``audio`` through any supported classifier; ``kw`` go to the kind's trace
    (``policy``, ``top_k``, ``activation``; ``pad_seconds`` for sequence, ``threshold`` for frames).
    ``interventions``: a what-if run (``lab.interventions`` ablations, hooked for the one forward
    pass under the model's lock); adds ``meta["intervention"]``."""
    from ..interventions.edit import apply_edits
    from ..interventions.hooks import plan_for

    loaded = as_loaded(loaded)
    plan = plan_for(loaded.model, "classify", interventions, loaded=loaded)
    if plan.of_kind("edit"):  # what-if: the edited clip, at the extractor's rate, is the input
        from .common import as_audio as _as_audio

        audio = apply_edits(_as_audio(audio, int(getattr(loaded.processor, "sampling_rate", 16000))),
                            plan.of_kind("edit"))
    with plan.installed():
        tr = _trace_kind(audio, loaded, **kw)
    if plan:
        plan.check()
        tr.meta["intervention"] = plan.record()
    return tr


def _trace_kind(audio, loaded, **kw):
    kind = kind_of(loaded.model)
    if kind == "ast":
        kw.pop("pad_seconds", None), kw.pop("threshold", None)
        return trace_ast(audio, loaded, **kw)
    if kind == "sequence":
        kw.pop("threshold", None)
        return trace_sequence(audio, loaded, **kw)
    kw.pop("pad_seconds", None)
    return trace_frames(audio, loaded, **kw)
