"""Run a notebook headless with nbclient, robust to a lost zmq wake-up.

jupyter_client's async channels wait for a message with one zmq poll. Seen here (pyzmq 26 and
27, ipykernel 6 and 7): after a fast cell the shell reply is already queued but the poll does not
wake until its timeout expires (the whole per-cell timeout), then execution carries on. Polling in
one-second slices, as below, picks the message up within a second.
"""
from __future__ import annotations

from queue import Empty
from time import monotonic

from nbclient import NotebookClient


def _sliced(get_msg):
    async def get(timeout=None):
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - monotonic()))
            try:
                return await get_msg(timeout=step)
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise
    return get


class SlicedPollClient(NotebookClient):
    async def async_start_new_kernel_client(self, **kwargs):
        kc = await super().async_start_new_kernel_client(**kwargs)
        kc.shell_channel.get_msg = _sliced(kc.shell_channel.get_msg)
        kc.iopub_channel.get_msg = _sliced(kc.iopub_channel.get_msg)
        return kc
