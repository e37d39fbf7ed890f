"""Classification pictures, one import: AST (``classify_ast``), sequence / frame classifiers
(``classify_frames``), the three heads (``classify_heads``), static matplotlib
(``classify_static``). Every function takes a Trace (or the heads rows), never a model.
"""
from __future__ import annotations

from .classify_ast import (cls_attention_layers_figure, fbank_cells, grid_values,
                           patch_attention_figure, patch_box, patch_figure, spectrogram_figure,
                           top_k_figure, view_frames)
from .classify_frames import contribution_figure, frame_timeline_figure, hidden_figure, pooling_figure
from .classify_heads import heads_diagram, heads_markdown, heads_table_figure
from .classify_static import ast_overview, frame_timeline_static
from .common import envelope

__all__ = ["spectrogram_figure", "patch_figure", "patch_attention_figure",
           "cls_attention_layers_figure", "top_k_figure", "grid_values", "patch_box",
           "fbank_cells", "view_frames",
           "contribution_figure", "pooling_figure", "frame_timeline_figure", "hidden_figure",
           "envelope", "heads_markdown", "heads_table_figure", "heads_diagram", "ast_overview",
           "frame_timeline_static", "main_figures"]


def main_figures(trace, *, k: int = 5) -> dict:
    """The figures the app and the notebook show first for ``trace``, by kind:
    AST -> ``top_k``, ``spectrogram`` (grid), ``rollout``; sequence -> ``top_k``,
    ``contributions``, ``pooling``; frames -> ``top_k``, ``timeline``."""
    kind = trace.meta.get("kind")
    figs = {"top_k": top_k_figure(trace, k)}
    if kind == "ast":
        figs["spectrogram"] = spectrogram_figure(trace)
        figs["rollout"] = spectrogram_figure(trace, overlay="rollout", grid=False)
    elif kind == "sequence":
        figs["contributions"] = contribution_figure(trace)
        figs["pooling"] = pooling_figure(trace)
    elif kind == "frames":
        figs["timeline"] = frame_timeline_figure(trace)
    return figs
