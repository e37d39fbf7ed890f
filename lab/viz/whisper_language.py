"""Whisper's language step and prompt: the top languages as bars (the chosen or forced language
highlighted) and the prompt as a strip of token chips. Reads trace names only
(``decoder.language_probs``, meta ``language_codes``, ``language``, ``language_source``,
``detected_language``, ``prompt``, ``task``); never loads a model."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from ..errors import LabError
from .common import to_numpy

TOP = 10
CHOSEN = "#d62728"
DETECTED = "#ff7f0e"
OTHER = "#9aa7b8"
ENGLISH_ONLY = "English-only model: no language step"

ROLE_STYLE = {  # role -> (background, label)
    "previous": ("#eeeeee", "previous text"),
    "sot": ("#dbe9f6", "start"),
    "language": ("#fbd5d5", "language"),
    "task": ("#dcf1dc", "task"),
    "no_timestamps": ("#efe3f7", "no timestamps"),
    "other": ("#f3f3f3", ""),
}


def _name(code: str) -> str:
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return LANGUAGES.get(code, code).title()


def language_rows(source, top: int = TOP, *, include: str | None = None) -> list[dict]:
    """The ``top`` most likely languages ``[{language, name, prob, rank}]`` (rank 1 = best),
    best first, from a Trace (``decoder.language_probs`` + meta ``language_codes``; else meta
    ``language_probs``) or a ``lab.whisper.language.LanguageResult``. ``include``: a language
    code added at the end when it is not among them (a forced language). Empty on English-only
    traces."""
    meta = getattr(source, "meta", None) or {}
    if hasattr(source, "codes") and hasattr(source, "probs"):
        codes, probs = list(source.codes), to_numpy(source.probs).astype(float)
    elif "decoder.language_probs" in source and meta.get("language_codes"):
        probs = to_numpy(source["decoder.language_probs"]).astype(float)
        codes = list(meta["language_codes"])
    else:
        rows = [dict(r, name=_name(r["language"]), rank=k + 1)
                for k, r in enumerate((meta.get("language_probs") or [])[:top])]
        return rows
    if len(codes) != probs.size:
        raise LabError(f"language_codes has {len(codes)} codes for {probs.size} probabilities")
    order = list(probs.argsort()[::-1])
    keep = order[:top]
    if include in codes and codes.index(include) not in keep:
        keep.append(codes.index(include))
    return [{"language": codes[j], "name": _name(codes[j]), "prob": float(probs[j]),
             "rank": order.index(j) + 1} for j in keep]


def language_figure(source, *, top: int = TOP, height: int = 320, title: str | None = None) -> go.Figure:
    """Horizontal bars of the ``top`` languages of the language step (probability, best on top).

    The language in the prompt is red -- detected, or forced by the user (then the step's own
    pick, if different, is orange). English-only traces: an empty figure saying so."""
    meta = getattr(source, "meta", None) or {}
    chosen = meta.get("language") or getattr(source, "code", None)
    detected = meta.get("detected_language") or getattr(source, "code", None)
    forced = meta.get("language_source") == "forced"
    rows = language_rows(source, top, include=chosen)
    fig = go.Figure()
    if not rows:
        fig.add_annotation(text=ENGLISH_ONLY, showarrow=False, x=0.5, y=0.5, xref="paper",
                           yref="paper", font=dict(size=15))
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.update_layout(title=title or "Language step", height=min(height, 160),
                          margin=dict(l=20, r=20, t=40, b=20))
        return fig
    colours = [CHOSEN if r["language"] == chosen else DETECTED if forced and r["language"] == detected
               else OTHER for r in rows]
    labels = [f"{html.escape(r['name'])} ({html.escape(r['language'])})"
              + (f" #{r['rank']}" if r.get("rank", 0) > top else "") for r in rows]
    fig.add_trace(go.Bar(
        x=[r["prob"] for r in rows], y=labels, orientation="h", marker_color=colours,
        text=[f"{r['prob']:.1%}" for r in rows], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: p=%{x:.4f}<extra></extra>", showlegend=False))
    if title is None:
        p = next((r["prob"] for r in rows if r["language"] == chosen), None)
        pick = f"{_name(chosen)} ({chosen})" if chosen else "?"
        if forced:
            title = (f"Language forced: {pick} (red); the language step would pick "
                     f"{_name(detected)} ({detected}, orange)") if detected and detected != chosen \
                else f"Language forced: {pick} (the language step agrees)"
        else:
            title = f"Language step: {pick}" + (f", p = {p:.1%}" if p is not None else "")
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=50, t=45, b=40), bargap=0.25)
    fig.update_xaxes(title="probability at the first decoder position (softmax over language tokens)",
                     range=[0, 1.08], tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    return fig


def prompt_html(source) -> str:
    """The decoder prompt as token chips (role under each token): start-of-transcript, language
    (detected p / forced), task, no-timestamps (or a note that timestamp tokens are on).
    ``source``: a Trace or its meta dict."""
    meta = getattr(source, "meta", source) or {}
    rows = meta.get("prompt") or []
    if not rows:
        return ""
    det = {r["language"]: r["prob"] for r in meta.get("language_probs") or []}
    chips = []
    for r in rows:
        role = r.get("role", "other")
        bg, label = ROLE_STYLE.get(role, ROLE_STYLE["other"])
        if role == "language":
            code = str(r.get("token", "")).strip("<|>")
            src = meta.get("language_source")
            p = det.get(code)
            label = ("detected" + (f" {p:.0%}" if p is not None else "")) if src == "detected" else \
                "forced" if src == "forced" else label
        chips.append(f'<span class="wl-chip" title="id {int(r["token_id"])}" style="background:{bg};'
                     'display:inline-block;margin:2px;padding:3px 7px;border-radius:6px;'
                     'font-family:monospace;text-align:center;line-height:1.25">'
                     f'{html.escape(str(r.get("token", "")))}<br><small style="color:#555">'
                     f'{html.escape(label)}</small></span>')
    notes = []
    if not any(r.get("role") == "no_timestamps" for r in rows):
        notes.append("no <code>&lt;|notimestamps|&gt;</code>: timestamp tokens are on")
    if all("role" in r for r in rows) and not any(r["role"] == "language" for r in rows):
        notes.append(ENGLISH_ONLY)
    tail = "".join(f' <small style="color:#555">· {n}</small>' for n in notes)
    return ('<div class="wl-prompt"><b>Prompt</b> (fed before the first generated token): '
            + "".join(chips) + tail + "</div>")
