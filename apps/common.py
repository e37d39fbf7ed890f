"""What every tab shares: the status/error box, the guarded-handler decorator, outputs by name,
model choices per family, the example clips.

A handler is a few lines (trace -> viz). ``@guarded(...)`` turns what goes wrong into a message:
a ``LabError`` (the user's input, a missing model) is shown as is; anything else is a bug, logged
with its traceback and shown as ``internal error (Type): ...``. Either way the other outputs are
left unchanged (``gr.skip()``) and the app keeps serving.

Outputs are named once: a tab's ``OUTPUTS = Outputs("status", "text", ...)`` is the only place
their order is written. ``build()`` names its components after them and passes
``OUTPUTS.components(locals())`` to the listener; a handler returns ``OUTPUTS.values(status=...,
text=...)`` (names it leaves out are not changed).
"""
from __future__ import annotations

import functools
import html
import inspect
import json
import logging
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import gradio as gr
import numpy as np

from apps import budget, deadline, settings
from lab import models
from lab.errors import LabError

log = logging.getLogger("apps")

CLIPS = Path(__file__).resolve().parents[1] / "assets" / "clips"
NO_AUDIO = "no audio: upload a file, record with the microphone or pick an example"
STATE_TTL_S = 3600  # local default of settings.state_ttl_s (a trace's time on the server)
BOX_STYLE = "border:2px solid #d62728;border-radius:6px;padding:8px"


# -- the status / error box ----------------------------------------------------------------------

def status_box(value: str, *, elem_id: str) -> gr.Markdown:
    """The Markdown a tab reports to: progress, summary, and errors (:func:`error_box`)."""
    return gr.Markdown(value, elem_id=elem_id)


_PATH_CHARS = r"[^\s/\\'\"`()<>,;:|]"
_ABS_PATH = re.compile(rf"(?<![\w.~/\\-])(?:~|[A-Za-z]:)?[/\\]{_PATH_CHARS}+(?:[/\\]{_PATH_CHARS}*)*")


def scrub_paths(text: str) -> str:
    """``text`` with every absolute (or ``~``) path cut to its last name: ``.../name``."""
    def short(m: re.Match) -> str:
        parts = [p for p in re.split(r"[/\\]", m.group(0)) if p]
        return ".../" + (parts[-1] if parts else "")
    return _ABS_PATH.sub(short, text)


def message(exc: BaseException, expected: tuple[type[BaseException], ...] = ()) -> str:
    """What the user reads about ``exc``: a LabError (or an ``expected`` type) as it is, anything
    else as an internal error naming its type (never a traceback). In public mode
    (``settings.current().scrub_paths``) server paths are cut to their last name."""
    if isinstance(exc, (LabError,) + tuple(expected)):
        msg = str(exc)
    else:
        msg = f"internal error ({type(exc).__name__}): {exc}"
    return scrub_paths(msg) if settings.current().scrub_paths else msg


def error_box(exc: BaseException | str) -> str:
    """The HTML shown in a status box for an error (or a message): escaped, in a red frame."""
    msg = exc if isinstance(exc, str) else message(exc)
    return f'<div style="{BOX_STYLE}"><b>Error:</b> {html.escape(msg)}</div>'


def require_audio(audio) -> None:
    if not audio:
        raise LabError(NO_AUDIO)


# -- outputs by name -----------------------------------------------------------------------------

class Outputs(tuple):
    """The names of one listener's outputs, in the order Gradio sends them (a tuple of str)."""

    def __new__(cls, *names: str) -> "Outputs":
        if len(set(names)) != len(names):
            raise ValueError(f"repeated output names in {names}")
        return super().__new__(cls, names)

    def components(self, scope: Mapping[str, Any]) -> list:
        """The components named ``self`` picked from ``scope`` (``build()``'s ``locals()``)."""
        missing = [n for n in self if n not in scope]
        if missing:
            raise KeyError(f"build() has no component named {missing} (outputs: {list(self)})")
        return [scope[n] for n in self]

    def values(self, **values) -> list:
        """A handler's return value in output order; the names not given are left unchanged."""
        unknown = set(values) - set(self)
        if unknown:
            raise KeyError(f"not an output: {sorted(unknown)} (outputs: {list(self)})")
        return [values.get(n, gr.skip()) for n in self]

    def skip(self) -> list:
        return [gr.skip()] * len(self)


def skip(n: int = 1):
    """``gr.skip()`` for a listener with ``n`` outputs (one value, or a tuple)."""
    return gr.skip() if n == 1 else tuple(gr.skip() for _ in range(n))


# -- the guarded handler -------------------------------------------------------------------------

def guarded(outputs: int | Sequence[str] = 1, *, box: str | int | None = None,
            expected: tuple[type[BaseException], ...] = ()) -> Callable:
    """Decorate a handler (a function or a generator) of a listener with ``outputs`` (a count,
    or the output names): an exception becomes a warning toast, :func:`error_box` in the output
    ``box`` (a name or a position; None: no box), ``gr.skip()`` everywhere else.

    ``LabError`` and the ``expected`` types are the user's problem: shown as they are. Anything
    else is a bug: logged with its traceback, shown as ``internal error (Type): ...``.
    """
    names = list(outputs) if not isinstance(outputs, int) else [str(i) for i in range(outputs)]
    box = names[box] if isinstance(box, int) else box
    if box is not None and box not in names:
        raise ValueError(f"box {box!r} is not one of the outputs {names}")

    def failure(fn: Callable, exc: Exception):
        if not isinstance(exc, (LabError,) + tuple(expected)):
            log.exception("%s.%s failed", fn.__module__, fn.__qualname__)
        msg = message(exc, expected)
        gr.Warning(msg)
        if len(names) == 1:
            return error_box(msg) if box is not None else gr.skip()
        return [error_box(msg) if n == box else gr.skip() for n in names]

    def decorate(fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def stream(*args, **kw):
                limit, started, gen = settings.current().time_limit_s, time.monotonic(), None
                try:
                    budget.enforce(settings.current().trace_budget_bytes)
                    gen = fn(*args, **kw)
                    while True:  # the deadline is checked around every step (apps/deadline.py)
                        with deadline.running(limit, started):
                            try:
                                item = next(gen)
                            except StopIteration:
                                return
                        yield item
                except Exception as exc:  # noqa: BLE001 -- keep serving: see failure()
                    yield failure(fn, exc)
                finally:
                    if gen is not None:
                        gen.close()
            return stream

        @functools.wraps(fn)
        def call(*args, **kw):
            try:
                budget.enforce(settings.current().trace_budget_bytes)
                with deadline.running(settings.current().time_limit_s):
                    return fn(*args, **kw)
            except Exception as exc:  # noqa: BLE001 -- keep serving: see failure()
                return failure(fn, exc)
        return call

    return decorate


# -- model choices per family --------------------------------------------------------------------

def _rows(family: str) -> list[dict]:
    """``lab.models.list_models()`` rows of one family, each id once."""
    seen, rows = set(), []
    for r in models.list_models():
        if r["family"] == family and r["id"] not in seen:
            seen.add(r["id"])
            rows.append(r)
    return rows


def offline_ids(family: str) -> list[str]:
    """The family's offline models (bundles and shipped zoo models)."""
    return [r["id"] for r in _rows(family) if r["kind"] != "hub"]


def default_model(family: str, fallback: str | None = None) -> str | None:
    """``lab.models.DEFAULTS[family]``, else the family's first offline model, else ``fallback``."""
    return models.DEFAULTS.get(family) or next(iter(offline_ids(family)), None) or fallback


def model_choices(family: str, *, extra: Iterable[str] = (), labelled: bool = False) -> list:
    """Dropdown choices: the family's default, its offline models, ``extra`` (a tab's own demo
    models), then its hub ids; each once. ``labelled``: (label, id) pairs whose label says when
    a model is not available here."""
    rows = _rows(family)
    available = {r["id"]: r["available"] for r in rows}
    default = models.DEFAULTS.get(family)
    ids = ([default] if default else []) + [r["id"] for r in rows if r["kind"] != "hub"] \
        + list(extra) + [r["id"] for r in rows if r["kind"] == "hub"]
    ids = list(dict.fromkeys(ids))
    if not labelled:
        return ids
    return [(i if available.get(i, True) else f"{i} (not available offline)", i) for i in ids]


# -- inputs shared by the tabs -------------------------------------------------------------------

def example_rows() -> list[list[str]]:
    """[clip path, its text] for each clip in assets/clips/clips.json."""
    index = CLIPS / "clips.json"
    texts = json.loads(index.read_text()) if index.is_file() else {}
    return [[str(CLIPS / name), info.get("text", "")] for name, info in texts.items()
            if (CLIPS / name).is_file()]


def examples(audio: gr.Audio, reference: gr.Textbox) -> None:
    """The example clips (audio and its text) under a tab's inputs, when there are any."""
    rows = example_rows()
    if rows:
        gr.Examples(rows, inputs=[audio, reference], label="Example clips (espeak-ng voices)")


def audio_input(label: str, *, elem_id: str, **kw) -> gr.Audio:
    """The audio picker of a tab (upload or microphone, handed to the handler as a file path)."""
    return gr.Audio(sources=["upload", "microphone"], type="filepath", label=label,
                    elem_id=elem_id, **kw)


def trace_state(value=None) -> gr.State:
    """Where a tab keeps its trace(s) on the server (only figures go to the browser): for
    ``settings.current().state_ttl_s`` after the last update, and within the server-wide trace
    budget (``apps/budget.py``: least recently used sessions' traces go first)."""
    return gr.State(value, time_to_live=settings.current().state_ttl_s)


def pcm16(samples, *, normalise: bool = False) -> np.ndarray:
    """int16 samples for a player (what gr.Audio plays without converting); ``normalise``:
    scale by the peak when the float audio clips, instead of cutting it at +/-1."""
    x = samples.numpy() if hasattr(samples, "numpy") else np.asarray(samples)
    peak = float(np.abs(x).max()) if (normalise and x.size) else 0.0
    return (np.clip(x / peak if peak > 1.0 else x, -1, 1) * 32767).astype(np.int16)
