"""lab.viz.save: plotly -> .html (offline, plotly.js inline) / .png through kaleido and
Debian chromium; matplotlib -> .png / .pdf / .html; an unknown suffix is a LabError."""
from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest

from lab.errors import LabError
from lab.viz import save

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return struct.unpack(">II", data[16:24])  # IHDR width, height


def _pixels(path) -> np.ndarray:
    import matplotlib.image as mpimg

    return mpimg.imread(str(path))


@pytest.fixture
def plotly_fig():
    import plotly.graph_objects as go

    z = np.outer(np.sin(np.linspace(0, 6, 40)), np.cos(np.linspace(0, 4, 60)))
    fig = go.Figure(go.Heatmap(z=z, colorscale="Viridis"))
    fig.add_trace(go.Scatter(y=np.linspace(0, 39, 60), mode="lines", line_color="red"))
    fig.update_layout(title="saved by lab.viz.save", width=500, height=300)
    return fig


@pytest.fixture
def mpl_fig():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.imshow(np.random.default_rng(0).random((20, 30)), aspect="auto")
    ax.set_title("static twin")
    return fig


def test_plotly_html_is_one_offline_file(plotly_fig, tmp_path):
    p = save(plotly_fig, tmp_path / "sub" / "fig.html")
    page = p.read_text()
    assert "Plotly.newPlot" in page and "saved by lab.viz.save" in page
    assert 'src="https://cdn' not in page and len(page) > 1_000_000  # plotly.js inline


@pytest.mark.skipif(not shutil.which("chromium"), reason="kaleido needs Debian chromium")
def test_plotly_png_through_kaleido(plotly_fig, tmp_path):
    p = save(plotly_fig, tmp_path / "fig.png", scale=2)
    assert _png_size(p) == (1000, 600) and p.stat().st_size > 10_000
    px = _pixels(p)
    assert px[..., :3].std() > 0.05  # a picture, not a blank page


def test_matplotlib_png_pdf_html(mpl_fig, tmp_path):
    p = save(mpl_fig, tmp_path / "fig.png", dpi=100)
    w, h = _png_size(p)
    assert 300 < w <= 400 and 200 < h <= 300 and p.stat().st_size > 5_000
    assert _pixels(p)[..., :3].std() > 0.05
    assert save(mpl_fig, tmp_path / "fig.pdf").read_bytes()[:5] == b"%PDF-"
    page = save(mpl_fig, tmp_path / "fig.html").read_text()
    assert '<img alt="fig" src="data:image/png;base64,' in page


def test_unknown_suffix_and_non_figures_are_lab_errors(plotly_fig, mpl_fig, tmp_path):
    with pytest.raises(LabError, match=r"unknown suffix \.gif.*\.html"):
        save(plotly_fig, tmp_path / "fig.gif")
    with pytest.raises(LabError, match=r"unknown suffix \(none\)"):
        save(mpl_fig, tmp_path / "fig")
    with pytest.raises(LabError, match="plotly or a matplotlib figure"):
        save({"data": []}, tmp_path / "fig.html")
