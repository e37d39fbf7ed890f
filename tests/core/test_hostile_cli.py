"""Hostile inputs through ``audiolab trace`` (issue 21), in-process: every case ends with exit 2
and ONE ``audiolab: error:`` line naming the problem -- never an exception escaping ``main``.
The corpus is ``scripts/hostile_inputs.py``'s (the full table: run the script). Bad files fail
before a model loads; the short clips run the offline default CTC model and the AST zoo
classifier; the texts the offline TTS model."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from lab.audio import load_audio
from lab.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("hostile_inputs", ROOT / "scripts" / "hostile_inputs.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


H = _script()
FILE_ERRORS = ["empty.wav", "truncated.wav (30 bytes)", "truncated.wav (half the data)", "random bytes .wav", "text renamed .mp3",
               "binary junk .mp3",
               "silent_2s.wav", "nan.wav", "inf.wav", "long_10.2min.wav", "missing path",
               "a directory", "/etc/passwd"]
SHORT = ["10ms.wav", "5frames_6ch.wav", "1frame_stereo.wav"]
TEXTS = ["text: empty", "text: control chars", "text: emoji + RTL", "text: HTML/script",
         "text: only emoji", "text: 25k characters"]  # 10k characters: the script (flite takes ~20 s)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return {c.name: c for c in H.make_corpus(tmp_path_factory.mktemp("hostile"), long_minutes=10.2)}


def _one_error_line(capfd, argv, what):
    """capfd, not capsys: C decoders (libsndfile's mpg123) write to file descriptor 2."""
    code = main(argv)  # an exception here is the traceback the CLI must never show
    cap = capfd.readouterr()
    err = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert code == 2, (argv, cap.err)
    assert len(err) == 1 and err[0].startswith("audiolab: error: "), err
    assert what.lower() in err[0].lower(), (what, err[0])
    assert "Traceback" not in cap.err and not cap.out
    return err[0]


def test_corpus_names_its_problems(cases):
    assert set(FILE_ERRORS + SHORT + TEXTS) <= set(cases)
    assert all(cases[n].what for n in FILE_ERRORS + SHORT + TEXTS)


@pytest.mark.parametrize("family", ["whisper", "ctc", "classify"])
@pytest.mark.parametrize("name", FILE_ERRORS)
def test_bad_files(capfd, cases, family, name):
    c = cases[name]
    argv = ["trace", family, c.arg, "--json"]
    argv += ["--model", "tiny-ast-sounds"] if family == "classify" else []
    _one_error_line(capfd, argv, c.what)


@pytest.mark.parametrize("family,model", [("ctc", None), ("classify", "tiny-ast-sounds")])
@pytest.mark.parametrize("name", SHORT)
def test_short_clips(capfd, cases, family, model, name):
    argv = ["trace", family, cases[name].arg, "--json"] + (["--model", model] if model else [])
    line = _one_error_line(capfd, argv, "too short")
    assert "needs at least" in line and "samples)" in line


@pytest.mark.parametrize("name", TEXTS)
def test_hostile_texts(capfd, cases, tmp_path, name):
    c = cases[name]
    line = _one_error_line(capfd, ["trace", "tts", c.arg, "--out", str(tmp_path), "--json"], c.what)
    assert line.isprintable()  # control characters are named, never echoed to the terminal


@pytest.mark.parametrize("family", ["whisper", "ctc", "classify", "tts"])
@pytest.mark.parametrize("name", ["--out is an existing file", "--out under a file"])
def test_bad_out_dir(capfd, cases, tmp_path, family, name):
    """Checked before a model loads: a file as --out was a FileExistsError traceback."""
    c = cases[name]
    argv = H.cli_args(family, c, "tiny-ast-sounds" if family == "classify" else None,
                      str(tmp_path / "tts_out"))
    argv[2] = "Hello." if family == "tts" else cases["speech_8k.wav"].arg
    _one_error_line(capfd, argv, c.what)


def test_files_read_frames_first(cases):
    """A decoded file is (frame, channel): 5 frames x 6 channels is 5 samples, not 6."""
    assert len(load_audio(cases["5frames_6ch.wav"].arg).samples) == 5
    assert len(load_audio(cases["1frame_stereo.wav"].arg).samples) == 1
    a = load_audio(cases["speech_48k_stereo.wav"].arg)
    assert any("down-mixed 2 channels" in n for n in a.notes) and a.sample_rate == 16000
    assert np.isfinite(a.samples).all()
