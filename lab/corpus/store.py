"""A corpus store on disk::

    STORE/summary/part-<ns>-<pid>-<uid>.parquet   summary rows (read together as one table)
    STORE/traces/<model>/<clip id>/               Trace.save: tensors.safetensors + trace.json

Every file is written to a temporary name and renamed into place, so an interrupted run leaves
finished parts and finished traces only. A part's name is unique (nanosecond clock + pid + a random
id), never derived from a per-run counter: a resumed run, a second ``Store`` object or another
process can never rename a part over one already written (that lost rows once). Reading: all parts concatenated, the last row of a
(model, clip) pair wins (a retried failure replaces its error). Query with pandas or DuckDB
(``duckdb.sql("select * from 'STORE/summary/*.parquet'")``).
"""
from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path

from .clip import COLUMNS

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(s: str) -> str:
    """A path component for a model id or clip id (``a/b.flac`` -> ``a__b.flac``); never ``.``,
    ``..`` or a hidden name (a leading dot becomes ``_.``)."""
    out = _SAFE.sub("_", s.replace("/", "__"))[:160]
    return "_" + out if not out or out.startswith(".") else out


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()

    @property
    def summary_dir(self) -> Path:
        return self.path / "summary"

    def trace_dir(self, model_id: str, clip_id: str) -> Path:
        return self.path / "traces" / safe_name(model_id) / safe_name(clip_id)

    def exists(self) -> bool:
        return self.summary_dir.is_dir() and any(self.summary_dir.glob("*.parquet"))

    # -- writing --------------------------------------------------------------------------
    def write_rows(self, rows: list[dict]) -> Path | None:
        """One Parquet part with ``rows`` (atomic)."""
        if not rows:
            return None
        import pandas as pd

        self.summary_dir.mkdir(parents=True, exist_ok=True)
        df = pd.DataFrame(rows, columns=list(COLUMNS)).astype(COLUMNS)
        # names sort in write order (zero-padded ns clock); the random id makes each one unique
        name = f"part-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
        final = self.summary_dir / name
        tmp = self.summary_dir / f".{name}.tmp"
        df.to_parquet(tmp, index=False)
        tmp.replace(final)
        return final

    def save_trace(self, trace, model_id: str, clip_id: str) -> Path:
        """``trace.save`` into a temporary sibling, renamed into place (atomic)."""
        out = self.trace_dir(model_id, clip_id)
        tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        trace.save(tmp)
        shutil.rmtree(out, ignore_errors=True)
        tmp.replace(out)
        return out

    # -- reading --------------------------------------------------------------------------
    def table(self):
        """pandas DataFrame, one row per (model, clip): the newest row of each pair."""
        import pandas as pd

        parts = sorted(self.summary_dir.glob("part-*.parquet")) if self.summary_dir.is_dir() else []
        if not parts:
            return pd.DataFrame({k: pd.Series(dtype=v) for k, v in COLUMNS.items()})
        df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        return df.drop_duplicates(["model", "clip_id"], keep="last").reset_index(drop=True)

    def done(self) -> set[tuple[str, str]]:
        """(model, clip id) pairs finished without error and with their trace on disk."""
        df = self.table()
        ok = df[df["error"].isna()]
        return {(m, c) for m, c in zip(ok["model"], ok["clip_id"])
                if (self.trace_dir(m, c) / "trace.json").is_file()}

    def load_trace(self, model_id: str, clip_id: str):
        from ..trace import Trace

        return Trace.load(self.trace_dir(model_id, clip_id))

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
