"""One encoder, three heads: the comparison as a Markdown table, a plotly table and a matplotlib
diagram. Input: the rows of ``lab.classify.three_heads`` (never a model)."""
from __future__ import annotations

import textwrap

import plotly.graph_objects as go

HEAD_TITLES = {"ctc": "CTC (speech -> characters)", "sequence": "sequence (clip -> one label)",
               "frame": "frame (every 20 ms -> a label)"}
COLORS = {"ctc": "#4c78a8", "sequence": "#f58518", "frame": "#54a24b"}


def _shape(row) -> str:
    return "(" + ", ".join(f"{a}={n}" for a, n in zip(row["output_axes"], row["output_shape"])) + ")"


def heads_markdown(rows: list[dict]) -> str:
    """A Markdown table: head, architecture, layers, parameters, output shape, loss."""
    lines = ["| head | architecture | layers | head parameters | output | loss |",
             "|---|---|---|---:|---|---|"]
    for r in rows:
        arch = r["architecture"] + ("" if r["exists"] else " (not in transformers)")
        lines.append(f"| {r['head']} | {arch} | {'; '.join(r['layers'])} | {r['params']:,} | "
                     f"{_shape(r)} | {r['loss']} |")
    frames = rows[0]["frames"] if rows else 0
    lines.append(f"\nOutput shapes for {frames} encoder frames; all numbers read from the configs.")
    return "\n".join(lines)


def heads_table_figure(rows: list[dict], *, height: int = 300) -> go.Figure:
    """The same table as a plotly ``Table``."""
    cols = [[r["head"] for r in rows], [r["architecture"] for r in rows],
            ["<br>".join(r["layers"]) for r in rows], [f"{r['params']:,}" for r in rows],
            [_shape(r) for r in rows], [r["loss"] for r in rows]]
    fig = go.Figure(go.Table(
        columnwidth=[60, 230, 180, 70, 110, 240],
        header=dict(values=["head", "architecture", "layers", "params", "output", "loss"],
                    fill_color="#ddd", align="left"),
        cells=dict(values=cols, align="left", height=28,
                   fill_color=[[COLORS.get(r["head"], "#fff") + "33" for r in rows]])))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10),
                      title=dict(text="one encoder, three heads", font_size=13))
    return fig


def heads_diagram(rows: list[dict], *, encoder_text: str = "wav2vec2-style encoder"):
    """A matplotlib diagram: the encoder box on the left, an arrow to each head box listing its
    layers, output shape and loss. Returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    n = len(rows)
    fig, ax = plt.subplots(figsize=(11, 1.0 + 1.6 * n))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 1.6 * n)
    ax.axis("off")
    mid = 0.8 * n
    frames = rows[0]["frames"] if rows else 0
    ax.add_patch(FancyBboxPatch((0.2, mid - 0.9), 2.4, 1.8, boxstyle="round,pad=0.05",
                                fc="#eee", ec="#444"))
    ax.text(1.4, mid, f"{encoder_text}\n\n{frames} frames x hidden", ha="center", va="center",
            fontsize=10)
    for i, r in enumerate(rows):
        y = 1.6 * (n - i) - 0.8
        color = COLORS.get(r["head"], "#888")
        ax.add_patch(FancyArrowPatch((2.65, mid), (3.55, y), arrowstyle="-|>", mutation_scale=14,
                                     color=color, lw=1.5))
        ax.add_patch(FancyBboxPatch((3.6, y - 0.65), 7.2, 1.3, boxstyle="round,pad=0.05",
                                    fc=color + "22", ec=color))
        ax.text(3.75, y + 0.42, f"{HEAD_TITLES.get(r['head'], r['head'])}  --  {r['architecture']}",
                fontsize=10, weight="bold", va="center")
        ax.text(3.75, y + 0.08, " -> ".join(r["layers"]) + f"   ({r['params']:,} parameters)",
                fontsize=8.5, va="center")
        ax.text(3.75, y - 0.25, f"output {_shape(r)}", fontsize=8.5, va="center", family="monospace")
        ax.text(3.75, y - 0.52, textwrap.shorten(f"loss: {r['loss']}", 118, placeholder=" ..."),
                fontsize=8, va="center", color="#333")
    fig.tight_layout()
    return fig
