"""The app's serving limits in one place: local (a classroom laptop) or public (a class server,
a Space).

``Settings.from_env(public=None)`` reads the environment (``AUDIOLAB_PUBLIC=1`` switches public
mode on; ``audiolab app --public`` passes ``public=True``); each limit has its own variable:

=====================  =========================  =============  ============
setting                env                        local          public
=====================  =========================  =============  ============
paths in model box     (public mode)              accepted       refused
upload size            ``AUDIOLAB_MAX_UPLOAD``    50mb           20mb
queue size             ``AUDIOLAB_QUEUE_SIZE``    unlimited      16
workers per event      ``AUDIOLAB_CONCURRENCY``   2              2
time per event (s)     ``AUDIOLAB_TIME_LIMIT``    none           120
trace kept (s)         ``AUDIOLAB_STATE_TTL``     3600           900
traces, all sessions   ``AUDIOLAB_TRACE_MB``      1024 MB        1024 MB
sessions kept          ``AUDIOLAB_SESSIONS``      256            64
temp files             (public mode)              kept           every 10 min, > 30 min old
error text             (public mode)              as raised      paths scrubbed
``show_error``                                    off            off
=====================  =========================  =============  ============

The app reads :func:`current` (set by ``apps.main.build_app``) at request time: the model box
policy (``apps/factory.py``), message scrubbing and the per-event deadline (``apps/common.py``).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from lab.errors import LabError

BUSY = "the server is busy ({n} requests are waiting): try again in a minute"


def _flag(name: str) -> bool | None:
    v = os.environ.get(name)
    if v is None or v == "":
        return None
    return v.strip().lower() in ("1", "true", "yes", "on")


def _num(name: str, default, cast=int):
    v = os.environ.get(name, "")
    if v == "":
        return default
    if v.lower() in ("none", "off"):
        return None
    try:
        return cast(v)
    except ValueError:
        raise LabError(f"{name} must be a number (or 'none'), got {v!r}") from None


@dataclass(frozen=True)
class Settings:
    public: bool = False
    allow_paths: bool = True  # model box: local directories on the server
    max_file_size: str | None = "50mb"  # launch(max_file_size=...)
    queue_max_size: int | None = None  # demo.queue(max_size=...)
    concurrency: int = 2  # demo.queue(default_concurrency_limit=...)
    time_limit_s: float | None = None  # per event: common.guarded's deadline
    state_ttl_s: int = 3600  # gr.State(time_to_live=...)
    sessions: int = 256  # launch(state_session_capacity=...): Gradio keeps every output of a
    # session (its plots too: ~4 MB a CTC run, more for Whisper) until the session is evicted
    trace_budget_mb: int | None = 1024  # all sessions' gr.State bytes (apps/budget.py)
    delete_cache: tuple[int, int] | None = None  # gr.Blocks(delete_cache=(every, older than))
    scrub_paths: bool = False  # common.message(): absolute paths -> file name
    show_error: bool = False  # launch(show_error=...)

    @classmethod
    def local(cls) -> "Settings":
        return cls()

    @classmethod
    def public_defaults(cls) -> "Settings":
        return cls(public=True, allow_paths=False, max_file_size="20mb", queue_max_size=16,
                   time_limit_s=120.0, state_ttl_s=900, sessions=64, delete_cache=(600, 1800),
                   scrub_paths=True)

    @classmethod
    def from_env(cls, public: bool | None = None) -> "Settings":
        """The defaults of the mode (``public``; None: ``AUDIOLAB_PUBLIC``), then the env."""
        if public is None:
            public = bool(_flag("AUDIOLAB_PUBLIC"))
        base = cls.public_defaults() if public else cls.local()
        return dataclasses.replace(
            base,
            max_file_size=os.environ.get("AUDIOLAB_MAX_UPLOAD") or base.max_file_size,
            queue_max_size=_num("AUDIOLAB_QUEUE_SIZE", base.queue_max_size),
            concurrency=_num("AUDIOLAB_CONCURRENCY", base.concurrency),
            time_limit_s=_num("AUDIOLAB_TIME_LIMIT", base.time_limit_s, float),
            state_ttl_s=_num("AUDIOLAB_STATE_TTL", base.state_ttl_s),
            sessions=_num("AUDIOLAB_SESSIONS", base.sessions),
            trace_budget_mb=_num("AUDIOLAB_TRACE_MB", base.trace_budget_mb))

    @property
    def trace_budget_bytes(self) -> int | None:
        return None if self.trace_budget_mb is None else int(self.trace_budget_mb * 2**20)

    def launch_kw(self) -> dict:
        """The ``demo.launch()`` keywords these settings set."""
        return {"max_file_size": self.max_file_size, "show_error": self.show_error,
                "state_session_capacity": self.sessions}


_CURRENT = Settings.from_env()


def current() -> Settings:
    return _CURRENT


def configure(settings: Settings) -> Settings:
    """Make ``settings`` the ones the handlers read; returns the previous ones."""
    global _CURRENT
    prev, _CURRENT = _CURRENT, settings
    return prev
