"""``save(fig, path)``: any figure of the lab to a file, the format from the suffix.

=================  =====================================  ======================================
figure             suffix                                 how
=================  =====================================  ======================================
plotly             ``.html``                              ``write_html``, plotly.js inline (opens
                                                          offline, one file, ~5 MB)
plotly             ``.png .jpg .jpeg .webp .svg .pdf``    ``write_image`` through kaleido (needs
                                                          a Chrome: Debian ``chromium``)
plotly             ``.json``                              ``write_json`` (``plotly.io.read_json``)
matplotlib         ``.png .jpg .jpeg .svg .pdf .eps``     ``savefig`` (the static twins:
                                                          ``whisper_static``, ``classify_static``,
                                                          ``tts.overview_figure``)
matplotlib         ``.html``                              the PNG embedded in one HTML page
=================  =====================================  ======================================

An unknown suffix, or a figure of neither kind, is a ``LabError`` naming what is supported.
"""
from __future__ import annotations

import base64
import html
import io
import os
import shutil
from pathlib import Path

from ..errors import LabError

PLOTLY_SUFFIXES = (".html", ".png", ".jpg", ".jpeg", ".webp", ".svg", ".pdf", ".json")
MATPLOTLIB_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".pdf", ".eps", ".html")
CHROMIUM = "/usr/bin/chromium"


def _kind(fig) -> str:
    try:
        from plotly.basedatatypes import BaseFigure

        if isinstance(fig, BaseFigure):
            return "plotly"
    except ImportError:  # pragma: no cover - plotly is a dependency
        pass
    try:
        from matplotlib.figure import Figure

        if isinstance(fig, Figure):
            return "matplotlib"
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        pass
    raise LabError(f"cannot save a {type(fig).__name__}: lab.viz.save takes a plotly or a "
                   "matplotlib figure")


def _check_suffix(suffix: str, allowed: tuple[str, ...], kind: str, path: Path) -> None:
    if suffix not in allowed:
        raise LabError(f"cannot save a {kind} figure as {path.name!r}: unknown suffix "
                       f"{suffix or '(none)'}; use one of {', '.join(allowed)}")


def _use_chromium() -> None:
    """Point kaleido at Debian's chromium when no browser is configured (FACTS.md)."""
    if not os.environ.get("BROWSER_PATH"):
        found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).is_file() else None)
        if found:
            os.environ["BROWSER_PATH"] = found


def _plotly_image(fig, path: Path, *, scale: float, width: int | None, height: int | None):
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise LabError("saving a plotly figure as an image needs kaleido (pip install "
                       "'kaleido>=1.3') and a Chrome (apt-get install chromium); .html needs "
                       "neither") from None
    _use_chromium()
    try:
        fig.write_image(str(path), scale=scale, width=width, height=height)
    except (RuntimeError, OSError, ValueError) as exc:
        # kaleido without a browser raises its own ChromeNotFoundError (a RuntimeError)
        raise LabError(f"could not render {path.name} with kaleido ({type(exc).__name__}: {exc}); "
                       "it needs a Chrome: apt-get install chromium, or set BROWSER_PATH") from None


def _matplotlib_html(fig, path: Path, dpi: int) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode()
    title = html.escape(path.stem)
    path.write_text(f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}"
                    f"</title></head><body><img alt=\"{title}\" src=\"data:image/png;base64,"
                    f"{data}\"></body></html>\n")


def save(fig, path: str | Path, *, scale: float = 2.0, width: int | None = None,
         height: int | None = None, dpi: int = 150) -> Path:
    """Write ``fig`` (plotly or matplotlib) to ``path``; the format is the suffix (table above).

    ``scale`` / ``width`` / ``height``: plotly images (pixels = size x scale); ``dpi``: matplotlib.
    Creates the parent directory; returns the path."""
    path = Path(path)
    kind = _kind(fig)
    suffix = path.suffix.lower()
    _check_suffix(suffix, PLOTLY_SUFFIXES if kind == "plotly" else MATPLOTLIB_SUFFIXES, kind, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "plotly":
        if suffix == ".html":
            fig.write_html(str(path), include_plotlyjs=True, full_html=True)
        elif suffix == ".json":
            fig.write_json(str(path))
        else:
            _plotly_image(fig, path, scale=scale, width=width, height=height)
    elif suffix == ".html":
        _matplotlib_html(fig, path, dpi)
    else:
        fig.savefig(str(path), dpi=dpi, bbox_inches="tight")
    return path
