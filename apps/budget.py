"""A server-wide budget for the traces the tabs keep in ``gr.State``.

Gradio keeps each browser session's ``gr.State`` values until the session's page is closed (then
an hour), their ``time_to_live`` passes, or the number of sessions exceeds
``state_session_capacity``. None of these bounds the bytes: one Whisper trace of a 30 s window is
about 130 MB, and a class of students who each press Run once holds one each. So before every
event (:func:`apps.common.guarded`) :func:`enforce` adds up the bytes held in every session's
State values and drops whole sessions' State values, least recently used session first, until the
total is within ``settings.current().trace_budget_mb`` -- the newest session is always kept. A
dropped session's views find no trace and change nothing: pressing Run again traces anew.

Dropping only removes the session's reference: a request of that session already running keeps
its trace until it ends. After a sweep the C heap's free pages go back to the OS
(:func:`trim_heap`): without it, RSS creeps up with every request even when nothing is kept.
"""
from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

log = logging.getLogger("apps")

_APPS: "weakref.WeakSet" = weakref.WeakSet()  # the Blocks built by apps.main.build_app
_LOCK = threading.Lock()


def register(demo) -> None:
    _APPS.add(demo)


def value_bytes(value: Any, _seen: set | None = None) -> int:
    """Bytes of the tensors and arrays in a State value (a Trace, a list/dict of them, ...)."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if hasattr(value, "nbytes") and callable(getattr(value, "nbytes")):  # lab.trace.Trace
        try:
            return int(value.nbytes())
        except Exception:  # noqa: BLE001 -- a foreign object: count nothing
            return 0
    if hasattr(value, "element_size") and hasattr(value, "numel"):  # torch.Tensor
        return int(value.numel() * value.element_size())
    if hasattr(value, "nbytes") and isinstance(getattr(value, "nbytes"), int):  # numpy
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(value_bytes(v, seen) for v in value.values())
    if isinstance(value, (list, tuple, set)):
        return sum(value_bytes(v, seen) for v in value)
    return 0


def _sessions(holder) -> list:
    """(session id, SessionState) oldest first, copied (Gradio mutates it in other threads)."""
    for _ in range(5):
        try:
            return list(holder.session_data.items())
        except RuntimeError:  # changed size during iteration: try again
            continue
    return []


def _drop(session) -> None:
    """Put each State value holding tensors back to the State's initial value. Values are
    replaced, never deleted: the dict keeps its size, so Gradio's own sweep (another thread)
    iterating it is not disturbed."""
    from copy import deepcopy

    for key, value in list(session.state_data.items()):
        block = session.blocks_config.blocks.get(key)
        if block is None or not getattr(block, "stateful", False) or not value_bytes(value):
            continue
        initial = getattr(block, "value", None)
        session.state_data[key] = None if callable(initial) else deepcopy(initial)
        try:
            block.delete_callback(value)
        except Exception:  # noqa: BLE001 -- a callback's failure must not stop the sweep
            log.exception("delete_callback of a State failed")


_TRIM_EVERY_S = 2.0
_last_trim = [0.0]


def trim_heap() -> bool:
    """Give the C heap's free pages back to the OS (glibc ``malloc_trim``), at most every
    ``_TRIM_EVERY_S``. Measured here: freed tensors of finished requests stay in glibc's heap
    (RSS +4 MB a CTC request, Python objects +0.4 MB); one ``malloc_trim(0)`` took RSS from 750
    back to 648 MB. No-op where there is no glibc."""
    import time

    now = time.monotonic()
    if now - _last_trim[0] < _TRIM_EVERY_S:
        return False
    _last_trim[0] = now
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def enforce(max_bytes: int | None) -> dict:
    """Drop the least recently used sessions' State values until every registered app's State
    values total at most ``max_bytes`` (None: no limit). Returns what it found and did."""
    report = {"bytes": 0, "sessions": 0, "dropped": 0, "orphans": 0}
    try:
        report["orphans"] = prune_orphans()
        if max_bytes is not None:
            _enforce(max_bytes, report)
        if _APPS:
            trim_heap()
    except Exception:  # noqa: BLE001 -- the budget must never fail a request
        log.exception("trace budget sweep failed")
    return report


def prune_orphans() -> int:
    """Drop the components Gradio 6 leaves in a session's config after property updates.

    Measured (same session, TTS tab): every request left ~9 new component instances (the live
    plot's per-frame updates, the audio, table and code outputs) under new ids in the session's
    ``blocks_config.blocks`` and ``config_values`` -- ids the page never shows, since it knows
    only the app's own ids -- so a session's config, and the server's RSS, grew ~1.2 MB a
    request. This app renders no components inside events (no ``gr.render``), so every id of a
    session that is not one of the app's own is such a leftover and is removed. Returns how many.
    """
    removed = 0
    with _LOCK:
        for demo in list(_APPS):
            holder = getattr(demo, "state_holder", None)
            own = getattr(demo, "blocks", None)
            if holder is None or not own:
                continue
            for _, session in _sessions(holder):
                blocks = session.blocks_config.blocks
                for key in [k for k in list(blocks) if k not in own]:
                    blocks.pop(key, None)
                    session.config_values.pop(key, None)
                    removed += 1
    return removed


def _enforce(max_bytes: int, report: dict) -> None:
    with _LOCK:
        for demo in list(_APPS):
            holder = getattr(demo, "state_holder", None)
            if holder is None:
                continue
            sessions = _sessions(holder)
            sizes = [(s, sum(value_bytes(v) for v in list(s.state_data.values())))
                     for _, s in sessions]
            total = sum(n for _, n in sizes)
            report["sessions"] += len(sizes)
            for session, n in sizes[:-1]:  # the newest session stays
                if total <= max_bytes:
                    break
                if n:
                    _drop(session)
                    total -= n
                    report["dropped"] += 1
            report["bytes"] += total
        if report["dropped"]:
            log.info("trace budget: dropped the traces of %d sessions, %d MB kept",
                     report["dropped"], report["bytes"] // 2**20)
