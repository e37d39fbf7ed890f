"""Long audio (consecutive 30 s windows) and the CLI, on the tiny model; the real-model long test
is in test_real.py."""
from __future__ import annotations

import json

import pytest

from lab.trace import Trace
from lab.whisper import trace_long
from lab.whisper.long import windows_of


def test_windows_cover_the_clip():
    assert windows_of(480000) == [(0, 480000)]
    assert windows_of(480001) == [(0, 480000), (480000, 480001)]
    w = windows_of(1_000_000)
    assert w[0][0] == 0 and w[-1][1] == 1_000_000 and all(a[1] == b[0] for a, b in zip(w, w[1:]))


def test_trace_long_tiny(tiny, make_long):
    path = make_long()
    seen = []
    res = trace_long(path, tiny, max_steps=3, stop_on_repetition=False,
                     progress=lambda k, n: seen.append((k, n)), reference="a b c")
    assert seen == [(0, 2), (1, 2)]
    assert len(res.traces) == 2 and res.windows[0] == (0.0, 30.0) and res.windows[1][0] == 30.0
    assert res.windows[1][1] == pytest.approx(30 + 2.79, abs=0.01)
    assert res.text == " ".join(t.meta["text"].strip() for t in res.traces if t.meta["text"].strip())
    assert all(w["start"] >= 30.0 for w in res.words if w["window"] == 1)
    assert "encoder.layers.0.attn.pattern" not in res.traces[0]  # default long policy
    assert res.traces[1].meta["window"]["index"] == 1 and res.wer is not None


def _cli(argv, capsys):
    from lab.cli import main

    code = main(argv)
    return code, capsys.readouterr()


def test_cli_json(tiny_dir, fox, tmp_path, capsys):
    code, out = _cli(["trace", "whisper", str(fox), "--model", str(tiny_dir), "--json",
                      "--max-steps", "3", "--top-k", "2", "--reference", "the quick brown fox",
                      "--beam", "2", "--out", str(tmp_path / "tr")], capsys)
    assert code in (0, None)
    d = json.loads(out.out)
    for key in ("text", "tokens", "steps", "stop_reason", "words", "model", "weights_source", "wer", "beam"):
        assert key in d, key
    assert d["model"] == str(tiny_dir) and d["weights_source"].startswith("local:")
    assert len(d["steps"]) == 3 and all({"token", "prob", "top_k"} <= set(s) for s in d["steps"])
    assert len(d["steps"][0]["top_k"]) == 2
    assert all({"word", "start", "end"} <= set(w) for w in d["words"])
    assert 0 <= d["wer"]["wer"]
    back = Trace.load(tmp_path / "tr")
    assert back.meta["text"] == d["text"]


def test_cli_long_and_errors(tiny_dir, make_long, tmp_path, capsys):
    path = make_long()
    code, out = _cli(["trace", "whisper", str(path), "--model", str(tiny_dir), "--json",
                      "--max-steps", "2", "--no-words"], capsys)
    d = json.loads(out.out)
    assert len(d["windows"]) == 2 and {s["window"] for s in d["steps"]} == {0, 1}
    code, out = _cli(["trace", "whisper", str(tmp_path / "nope.wav"), "--model", str(tiny_dir), "--json"], capsys)
    assert code == 2 and "not found" in (out.err + out.out)
