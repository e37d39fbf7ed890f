"""Every ``audiolab trace`` command saves (issue 21): ``--out DIR`` on whisper, ctc, classify and
tts writes a trace that ``lab.trace.Trace.load`` reads back with the tensors (names, axes, values)
the command recorded and the text / labels it printed. Offline real models, in-process."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lab.cli import main
from lab.trace import Trace

CLIP = Path(__file__).resolve().parents[2] / "assets" / "clips" / "quick_brown_fox.wav"


@pytest.fixture
def saved(monkeypatch):
    """Traces as they were when the CLI saved them: directory -> Trace."""
    out = {}
    real_save = Trace.save

    def save(self, directory):
        d = real_save(self, directory)
        out[str(d)] = self
        return d

    monkeypatch.setattr(Trace, "save", save)
    return out


def _run(capsys, argv):
    code = main(argv)
    cap = capsys.readouterr()
    assert code == 0, cap.err
    return json.loads(cap.out)


def _same(loaded: Trace, made: Trace):
    assert sorted(loaded.tensors) == sorted(made.tensors) and loaded.tensors
    assert loaded.axes == {k: tuple(v) for k, v in made.axes.items()}
    for k, v in made.tensors.items():
        assert torch.equal(loaded.tensors[k], v.contiguous()), k
    assert loaded.family == made.family and loaded.model_id == made.model_id


@pytest.mark.parametrize("family,argv", [
    ("whisper", [str(CLIP), "--max-steps", "12"]),
    ("ctc", [str(CLIP)]),
    ("classify", [str(CLIP), "--model", "tiny-ast-sounds"]),
    ("tts", ["hello there"]),
])
def test_trace_out_round_trip(capsys, saved, tmp_path, family, argv):
    out_dir = tmp_path / family
    doc = _run(capsys, ["trace", family, *argv, "--out", str(out_dir), "--json"])
    where = doc["trace"] if family == "tts" else doc["saved"]
    assert Path(where).is_relative_to(out_dir) and where in saved
    tr = Trace.load(where)
    _same(tr, saved[where])
    if family in ("whisper", "ctc"):
        assert tr.meta["text"] == doc["text"] and doc["text"].strip()
    if family == "whisper":
        assert tr.tokens == doc["tokens"]
    if family == "ctc":
        assert tr.meta["frame_tokens"] == doc["frame_tokens"]
        assert any(k.endswith("attn.pattern") for k in tr.tensors)  # the saved trace is the full one
    if family == "classify":
        assert [r["label"] for r in tr.meta["top_k"]] == [r["label"] for r in doc["labels"]]
    if family == "tts":
        assert tr.tokens == doc["tokens"] and tr.meta["n_steps"] == doc["n_steps"]
