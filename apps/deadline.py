"""A per-event time limit for the app's handlers (public mode).

Gradio 6's ``time_limit=`` applies to ``.stream()`` events only, and a thread running a handler
cannot be killed. So the limit is cooperative, checked where the time goes:

- before every ``torch.nn.Module`` forward run in a thread that has a deadline (one global
  forward pre-hook, installed the first time a limit is used; threads without a deadline return
  at once): a long model run stops within one module call of the deadline;
- between the steps of a streaming (generator) handler (:func:`apps.common.guarded`).

Either way :class:`TimeLimitExceeded` (a ``LabError``) ends the handler, the worker is free again,
and the user reads a message. Work that calls no module for a long time (a Python loop over
already computed tensors) is not interrupted until its next module call or yield.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from lab.errors import LabError

_local = threading.local()
_hook_lock = threading.Lock()
_hook = None


class TimeLimitExceeded(LabError):
    pass


def _message(limit_s: float) -> str:
    return (f"stopped after {limit_s:g} s: this server limits each run to {limit_s:g} s "
            "(public mode). Try a shorter clip or text, or run it with the CLI on your machine")


def check() -> None:
    """Raise :class:`TimeLimitExceeded` when this thread's deadline has passed."""
    d = getattr(_local, "deadline", None)
    if d is not None and time.monotonic() > d[0]:
        raise TimeLimitExceeded(_message(d[1]))


def _pre_hook(module, args):
    if getattr(_local, "deadline", None) is not None:
        check()


def _install_hook() -> None:
    global _hook
    with _hook_lock:
        if _hook is None:
            import torch

            _hook = torch.nn.modules.module.register_module_forward_pre_hook(_pre_hook)


@contextmanager
def running(limit_s: float | None, started: float | None = None):
    """Run a block under a deadline of ``limit_s`` seconds from ``started`` (monotonic clock;
    default now) in this thread; ``None``: no limit. Checks on entry."""
    if limit_s is None:
        yield
        return
    _install_hook()
    prev = getattr(_local, "deadline", None)
    _local.deadline = ((time.monotonic() if started is None else started) + limit_s, limit_s)
    try:
        check()
        yield
    finally:
        _local.deadline = prev
