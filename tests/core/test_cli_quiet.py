"""A quiet console (issue 21): ``audiolab trace ctc FILE --json`` prints its JSON and nothing on
stderr -- no "Loading weights" bars, no transformers log lines, no Python warnings from the
libraries; ``audiolab --verbose`` lets the library output through. A subprocess each, as a user
runs it (the default offline CTC model)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "assets" / "clips" / "open_the_door.wav"


def _run(*argv):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    for k in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS", "PYTHONWARNINGS"):
        env.pop(k, None)  # the user's defaults, not the test runner's
    return subprocess.run([sys.executable, "-m", "lab.cli", *argv], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=600)


@pytest.fixture(scope="module")
def quiet():
    return _run("trace", "ctc", str(CLIP), "--json")


def test_default_stderr_is_empty(quiet):
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["text"].strip()
    lines = [ln for ln in quiet.stderr.splitlines() if ln.strip()]
    assert [ln for ln in lines if not ln.startswith("audiolab")] == [], quiet.stderr


def test_verbose_lets_library_output_through(quiet):
    p = _run("--verbose", "trace", "ctc", str(CLIP), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["text"] == json.loads(quiet.stdout)["text"]
    assert "Loading weights" in p.stderr  # transformers' bar: what the default call silences


def test_library_noise_restores_settings():
    """In-process calls (tests, notebooks) get their settings back after a quiet call."""
    import transformers.utils.logging as tlog

    from lab.cli import library_noise

    level, bars = tlog.get_verbosity(), tlog.is_progress_bar_enabled()
    with library_noise():
        assert tlog.get_verbosity() == tlog.ERROR and not tlog.is_progress_bar_enabled()
    assert (tlog.get_verbosity(), tlog.is_progress_bar_enabled()) == (level, bars)
