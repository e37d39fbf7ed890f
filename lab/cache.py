"""Where the lab's files are: the shipped zoo (package data) and the cache it builds into.

A leaf module (no lab imports): ``ZOO_DIR`` holds the shipped models (``lab/zoo/<id>/``, weights
and cards only, no code); :func:`cache_dir` is ``AUDIOLAB_CACHE`` if set, else the user's cache
directory (converted bundles, assembled zoo models, synthesized training data).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

ZOO_DIR = Path(__file__).parent / "zoo"


def cache_dir() -> Path:
    env = os.environ.get("AUDIOLAB_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("audio-transformer-lab"))


def build_once(out: Path, build: Callable[[Path], object], marker: str = "model.safetensors") -> Path:
    """Run ``build(tmp)`` into a temporary sibling of ``out`` and move it into place, unless
    ``out/marker`` exists already (an interrupted earlier build is replaced)."""
    if (out / marker).is_file():
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        build(tmp)
        shutil.rmtree(out, ignore_errors=True)
        tmp.replace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
