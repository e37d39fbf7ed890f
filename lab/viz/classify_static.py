"""Static (matplotlib) classification pictures for export and print: the AST overview (patch
grid, one patch's pixels, rollout over the spectrogram, top-k) and a frame-label timeline."""
from __future__ import annotations

import numpy as np

from ..errors import LabError
from .classify_ast import grid_values, patch_box, view_frames
from .common import PALETTE, to_numpy


def ast_overview(trace, patch: tuple[int, int] | None = None, *, k: int = 5, overlay: str = "rollout",
                 crop: bool = True):
    """A 2 x 2 matplotlib Figure: the filterbank with the overlapping patch grid and the selected
    patch (cyan); that patch's 16 x 16 pixels; ``overlay`` ("rollout" or "cls") over the
    spectrogram; the top-``k`` labels. ``crop``: show the audio plus 1 s of padding."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    m = trace.meta
    if m.get("kind") != "ast":
        raise LabError("ast_overview needs an AST trace")
    F, T = m["patch_grid"]
    f, t = patch if patch is not None else (F // 2, min(T - 1, m["n_content_time_patches"] // 2))
    fb = to_numpy(trace["input.fbank"]).T  # (mel_bin, mel_frame)
    p, fs, ts = m["patch_size"], m["frequency_stride"], m["time_stride"]
    fig = plt.figure(figsize=(13, 7.5))
    gs = fig.add_gridspec(2, 3, width_ratios=[3, 3, 2])
    ax0 = fig.add_subplot(gs[0, :2])
    ax0.imshow(fb, origin="lower", aspect="auto", cmap="magma", interpolation="nearest")
    for i in range(T):
        ax0.axvline(i * ts - 0.5, color="w", lw=0.4, alpha=0.35)
        ax0.axvline(i * ts + p - 0.5, color="w", lw=0.4, alpha=0.35, ls=":")
    for i in range(F):
        ax0.axhline(i * fs - 0.5, color="w", lw=0.4, alpha=0.35)
        ax0.axhline(i * fs + p - 0.5, color="w", lw=0.4, alpha=0.35, ls=":")
    for df, dt, ls, lw in ((0, 0, "-", 2.2), (0, 1, "--", 1.2), (1, 0, "--", 1.2)):
        if f + df < F and t + dt < T:
            b = patch_box(trace, f + df, t + dt)
            ax0.add_patch(Rectangle((b["frame0"] - 0.5, b["mel0"] - 0.5), p, p, fill=False,
                                    ec="cyan", lw=lw, ls=ls))
    if m.get("padded_from_frame") is not None:
        ax0.axvspan(m["padded_from_frame"] - 0.5, m["max_length"] - 0.5, color="w", alpha=0.35)
        ax0.text(m["padded_from_frame"] + 2, m["num_mel_bins"] - 6, "padding", color="k", fontsize=9,
                 va="top")
    right = view_frames(trace, crop) - 0.5
    ax0.set_xlim(-0.5, right)
    ax0.set_title(f"filterbank {m['num_mel_bins']} x {m['max_length']} -> {F} x {T} = "
                  f"{m['n_patches']} overlapping {p}x{p} patches (strides {fs}/{ts})", fontsize=10)
    ax0.set_xlabel("frame (10 ms)")
    ax0.set_ylabel("mel bin")

    ax1 = fig.add_subplot(gs[0, 2])
    b = patch_box(trace, f, t)
    px = to_numpy(trace["ast.patches"][b["index"]])
    ax1.imshow(px, origin="lower", cmap="magma", interpolation="nearest",
               extent=(b["frame0"] - 0.5, b["frame1"] - 0.5, b["mel0"] - 0.5, b["mel1"] - 0.5))
    ax1.set_title(f"patch #{b['index']} (f={f}, t={t}): 16 x 16 pixels", fontsize=10)
    ax1.set_xlabel("frame")
    ax1.set_ylabel("mel bin")

    ax2 = fig.add_subplot(gs[1, :2])
    z, title = grid_values(trace, overlay)
    ax2.imshow(fb, origin="lower", aspect="auto", cmap="gray_r", interpolation="nearest")
    ext = (p / 2 - ts / 2 - 0.5, p / 2 + (T - 0.5) * ts - 0.5, p / 2 - fs / 2 - 0.5,
           p / 2 + (F - 0.5) * fs - 0.5)
    norm = plt.Normalize(float(z.min()), float(z.max()) if z.max() > z.min() else float(z.min()) + 1e-9)
    cmap = plt.get_cmap("autumn")
    rgba = cmap(norm(z))
    rgba[..., 3] = 0.9 * norm(z)  # transparent where the weight is low
    ax2.imshow(rgba, origin="lower", aspect="auto", extent=ext, interpolation="nearest")
    im = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    ax2.set_xlim(-0.5, right)
    ax2.set_ylim(-0.5, m["num_mel_bins"] - 0.5)
    fig.colorbar(im, ax=ax2, fraction=0.03)
    ax2.set_title(title + " over the spectrogram", fontsize=10)
    ax2.set_xlabel("frame (10 ms)")
    ax2.set_ylabel("mel bin")

    ax3 = fig.add_subplot(gs[1, 2])
    probs = to_numpy(trace["cls.probs"])
    names = m.get("labels") or [str(i) for i in range(len(probs))]
    order = np.argsort(-probs)[:k][::-1]
    ax3.barh([names[i] for i in order], probs[order], color="#4c78a8")
    ax3.set_xlim(0, 1)
    ax3.set_title(f"top {len(order)} ({m.get('activation', '')})", fontsize=10)
    fig.tight_layout()
    return fig


def frame_timeline_static(trace):
    """Waveform over the per-frame label segments (matplotlib Figure)."""
    import matplotlib.pyplot as plt

    if trace.meta.get("kind") != "frames":
        raise LabError("frame_timeline_static needs a frame-classifier trace")
    names = trace.meta["labels"]
    wav = to_numpy(trace["input.waveform"])
    sr = trace.time_bases["sample"]
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(11, 3.6), sharex=True,
                                 gridspec_kw={"height_ratios": [1, 1]})
    a0.plot(np.arange(len(wav)) / sr, wav, lw=0.4, color="#555")
    a0.set_ylabel("wave")
    for s in trace.meta["frame_labels"]:
        a1.barh(names[s["id"]], s["end"] - s["start"], left=s["start"],
                color=PALETTE[s["id"] % len(PALETTE)])
    a1.set_xlabel("time (s)")
    a1.set_title("frame labels", fontsize=10)
    fig.tight_layout()
    return fig
