"""Parity of the lab's long-form algorithm with transformers' long-form ``generate()`` on the
committed >= 2 min lecture clip (real offline models): same tokens (timestamps included), same
text, same segments, with and without ``condition_on_prev_tokens``. Each 2 min decode costs tens
of seconds on 2 cores: every run is made once per module and shared by the tests."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.whisper.long import trace_long

CLIPS = Path(__file__).resolve().parents[2] / "assets" / "clips"
LONG_CLIP = Path(os.environ.get("AUDIOLAB_TEST_LONG_CLIP", CLIPS / "long" / "lecture_2min.wav"))
REASONS = {"last_timestamp", "single_timestamp", "no_timestamp_pair", "no_speech", "end_of_audio", "max_tokens"}
CASES = [("whisper-tiny.en", False), ("whisper-tiny.en", True), ("whisper-base", True)]

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def runs():
    cache: dict = {}

    def run(model_id: str, cond: bool):
        if (model_id, cond) not in cache:
            from lab.audio import load_audio
            from lab.models import load_cached

            loaded = load_cached(model_id, family="whisper")
            audio = load_audio(LONG_CLIP)
            res = trace_long(audio, loaded, condition_on_prev_tokens=cond)
            p = loaded.processor(audio.samples, sampling_rate=16000, truncation=False, padding="longest",
                                 return_attention_mask=True, return_tensors="pt")
            out = loaded.model.generate(p.input_features, attention_mask=p.attention_mask, return_timestamps=True,
                                        condition_on_prev_tokens=cond, return_segments=True)
            cache[model_id, cond] = (loaded, audio, res, out)
        return cache[model_id, cond]

    return run


@pytest.mark.parametrize("model_id,cond", CASES)
def test_long_form_equals_generate(runs, model_id, cond):
    loaded, audio, res, out = runs(model_id, cond)
    seq = out["sequences"][0].tolist()
    pad = loaded.model.generation_config.pad_token_id
    while seq and seq[-1] == pad:
        seq.pop()
    assert res.token_ids == seq
    assert res.text == loaded.processor.tokenizer.decode(seq, skip_special_tokens=True)
    hf = [(round(float(s["start"]), 3), round(float(s["end"]), 3), s["tokens"].tolist()) for s in out["segments"][0]]
    assert [(s["start"], s["end"], s["tokens"]) for s in res.segments] == hf
    assert len(res.text.split()) > 100  # a 2-minute lecture, not one window


@pytest.mark.parametrize("model_id,cond", CASES)
def test_windows_record(runs, model_id, cond):
    loaded, audio, res, _ = runs(model_id, cond)
    w = res.windows
    assert len(w) >= 4 and len(res.traces) == len(w)
    assert w[0]["start"] == 0.0 and all(a["end"] == b["start"] for a, b in zip(w, w[1:]))
    assert w[-1]["end"] == pytest.approx(audio.seconds, abs=0.02) and w[-1]["end_reason"] == "end_of_audio"
    assert all(x["end_reason"] in REASONS and x["fallbacks"] == [] and x["temperature"] == 0.0 for x in w)
    assert any(x["end_reason"] == "last_timestamp" for x in w)
    for x, tr in zip(w, res.traces):
        assert x["start"] < x["end"] <= x["decoded_end"] <= x["start"] + 30.0
        assert tr.meta["window"] is x and 0.0 <= x["no_speech_prob"] <= 1.0
        assert bool(x["prompt_tokens"]) == (cond and x["index"] > 0)
    # words: absolute times inside their window's decoded span, in order
    assert res.words and all(w[d["window"]]["start"] - 0.02 <= d["start"] <= d["end"] <= w[d["window"]]["decoded_end"]
                             for d in res.words)
    starts = [d["start"] for d in res.words]
    assert sum(b < a - 1.0 for a, b in zip(starts, starts[1:])) == 0
    # lean default policy: no encoder internals, no full logits
    assert not res.traces[0].names("encoder.*") and "decoder.logits" not in res.traces[0]
