"""Long audio (Whisper's sequential long-form algorithm) and the CLI, on the tiny random model; the
real-model parity tests are in test_whisper_long_real.py."""
from __future__ import annotations

import json

import pytest

from lab.errors import LabError
from lab.trace import Trace
from lab.whisper import trace_long
from lab.whisper.long import compression_ratio

WINDOW_KEYS = {"index", "start", "end", "decoded_end", "end_reason", "temperature", "fallbacks", "no_speech_prob",
               "skipped", "text", "prompt_tokens", "compression_ratio", "avg_logprob"}


def test_trace_long_tiny(tiny, make_long):
    path = make_long()
    seen = []
    res = trace_long(path, tiny, max_steps=6, progress=lambda k, s, t: seen.append((k, s, t)), reference="a b c")
    assert [k for k, _, _ in seen] == list(range(len(res.windows))) and seen[0][1] == 0.0
    assert seen[0][2] == pytest.approx(32.79, abs=0.02)
    assert len(res.traces) == len(res.windows) >= 2
    w = res.windows
    assert all(WINDOW_KEYS <= set(x) for x in w)
    # the windows tile the clip: each starts where the previous one's seek ended
    assert w[0]["start"] == 0.0 and all(a["end"] == b["start"] for a, b in zip(w, w[1:]))
    assert w[-1]["end"] == pytest.approx(32.79, abs=0.02)
    for x, tr in zip(w, res.traces):  # the 6-step cap, else the end of the audio
        cut = tr.meta["stop_reason"] == "max_steps" and x["end_reason"] != "last_timestamp"
        if cut:
            assert x["end_reason"] == "max_tokens"
    assert w[-1]["end_reason"] in ("max_tokens", "end_of_audio")
    assert all(x["start"] < x["end"] <= x["decoded_end"] <= x["start"] + 30.0 for x in w)
    assert res.text == "".join(x["text"] for x in w)
    assert all(s["start"] >= w[s["window"]]["start"] for s in res.segments)
    assert [t for s in res.segments for t in s["tokens"]] == res.token_ids
    assert all(x["start"] <= wd["start"] for wd in res.words for x in w if x["index"] == wd["window"])
    assert "encoder.layers.0.attn.pattern" not in res.traces[0] and "decoder.logits" not in res.traces[0]
    assert res.traces[1].meta["window"]["index"] == 1 and res.wer is not None


def test_fallback_recorded_and_seeded(tiny, make_long):
    path = make_long()
    kw = dict(max_steps=6, temperature=(0.0, 0.5, 1.0), compression_ratio_threshold=0.5, logprob_threshold=-0.01)
    res = trace_long(path, tiny, seed=3, **kw)
    for x in res.windows:
        # a random model never passes these thresholds: every temperature is tried, each refusal recorded
        assert [f["temperature"] for f in x["fallbacks"]] == [0.0, 0.5] and x["temperature"] == 1.0
        for f in x["fallbacks"]:
            assert ("compression_ratio" in f["reasons"]) == (f["compression_ratio"] > 0.5)
            assert ("avg_logprob" in f["reasons"]) == (f["avg_logprob"] < -0.01)
            assert f["reasons"]
    tr = res.traces[0]
    assert res.windows[0]["compression_ratio"] == pytest.approx(compression_ratio(tr.meta["token_ids"], 51864), abs=1e-4)
    again = trace_long(path, tiny, seed=3, **kw)
    assert again.token_ids == res.token_ids  # sampling is seeded
    # no speech: avg logprob below the threshold and <|nospeech|> above 0 -> every window skipped
    skip = trace_long(path, tiny, max_steps=4, logprob_threshold=0.0, no_speech_threshold=0.0)
    assert all(x["skipped"] and x["end_reason"] == "no_speech" for x in skip.windows)
    assert skip.segments == [] and skip.text == "" and len(skip.windows) == 2
    with pytest.raises(LabError, match="logprob_threshold"):
        trace_long(path, tiny, no_speech_threshold=0.5)


def test_condition_on_prev_feeds_prompt(tiny, make_long):
    res = trace_long(make_long(), tiny, max_steps=6, condition_on_prev_tokens=True)
    second = res.traces[1]
    prev = res.windows[1]["prompt_tokens"]
    assert prev and [p["token_id"] for p in second.meta["prompt"]][1:1 + len(prev)] == prev
    tb = tiny.model.generation_config.no_timestamps_token_id + 1
    expected = []
    for seg in (s for s in res.segments if s["window"] == 0):
        t = seg["tokens"]
        expected += t[:-1] if len(t) > 2 and t[-2] >= tb else t
    assert prev == expected[-(tiny.model.config.max_target_positions // 2 - 1):]
    assert second.meta["prompt"][0]["token"] == "<|startofprev|>"


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


def test_cli_timestamps_and_long_windows(tiny_dir, fox, make_long, capsys):
    code, out = _cli(["trace", "whisper", str(fox), "--model", str(tiny_dir), "--json", "--max-steps", "4",
                      "--timestamps", "--no-words"], capsys)
    d = json.loads(out.out)
    assert d["token_ids"][0] >= 50363 and d["segments"] and {"start", "end", "text", "tokens"} <= set(d["segments"][0])
    code, out = _cli(["trace", "whisper", str(make_long()), "--model", str(tiny_dir), "--json", "--max-steps", "3",
                      "--no-words", "--fallback", "--seed", "1"], capsys)
    d = json.loads(out.out)
    assert d["windows"] and all(set(w["fallbacks"][0]) >= {"temperature", "reasons"} for w in d["windows"]
                                if w["fallbacks"])
    assert "window 1 at 0.0/" in out.err
