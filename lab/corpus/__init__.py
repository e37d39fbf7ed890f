"""Corpus mode: trace every clip of a data set with every model; one Parquet table + lean traces.

``read_corpus(src) -> list[Clip]`` (an audiofolder directory or a ``datasets`` Dataset),
``trace_clip(clip, loaded) -> (row, Trace)`` (the one per-clip function both engines call),
``run_corpus(src, models, out, workers=..., ray_address=...) -> RunResult``,
``Store(path).table()`` (pandas DataFrame of the summaries, one row per model x clip).
"""
from .clip import COLUMNS, trace_clip  # noqa: F401
from .engine import RunResult, run_corpus  # noqa: F401
from .source import Clip, read_corpus  # noqa: F401
from .store import Store  # noqa: F401
