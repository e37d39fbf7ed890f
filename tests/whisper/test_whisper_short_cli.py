"""Very short clips through Whisper (issue 21): the feature extractor pads every clip to 30 s, so
Whisper's minimum is one sample -- a 10 ms clip, a 5-frame 6-channel file and a 1-frame stereo
file give a result (the trace function and ``audiolab trace whisper``), never a torch error."""
from __future__ import annotations

import json

import pytest

from lab.cli import main
from lab.whisper import trace_whisper
from short_clips import SHORT, write_short_files



@pytest.fixture(scope="module")
def short_files(tmp_path_factory):
    return write_short_files(tmp_path_factory.mktemp("short"))


@pytest.mark.parametrize("name", SHORT)
def test_short_clip_gives_a_result(tiny, short_files, name):
    tr = trace_whisper(str(short_files[name]), tiny, max_steps=2, word_timestamps=True)
    assert len(tr["input.waveform"]) == SHORT[name][0]  # frames, whatever the channel count
    assert tr["input.log_mel"].shape[-1] == 3000 and tr.steps


@pytest.mark.parametrize("name", SHORT)
def test_short_clip_cli(tiny_dir, short_files, name, capsys):
    code = main(["trace", "whisper", str(short_files[name]), "--model", str(tiny_dir),
                 "--max-steps", "2", "--json"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    doc = json.loads(cap.out)
    assert doc["seconds"] == round(SHORT[name][0] / 16000, 3) and doc["steps"]
