"""Timestamp-token mode: the rules equal transformers' WhisperTimeStampLogitsProcessor, segments
follow generate()'s _retrieve_segment, and greedy decoding with timestamps gives the tokens of
``generate(return_timestamps=True)`` on the real models."""
from __future__ import annotations

import pytest
import torch

from lab.whisper import trace_whisper
from lab.whisper.segments import split_segments
from lab.whisper.timestamp_rules import TimestampRules

TB = 50363  # tiny.en: <|notimestamps|> 50362, <|0.00|> 50363


class _Model:
    def __init__(self, gen, vocab=51864):
        self.generation_config = gen
        self.config = type("C", (), {"vocab_size": vocab})()


@pytest.mark.parametrize("max_initial", [None, 3])
def test_rules_equal_hf_processor(max_initial):
    from transformers import GenerationConfig
    from transformers.generation.logits_process import WhisperTimeStampLogitsProcessor

    gen = GenerationConfig(eos_token_id=50256, bos_token_id=50256, decoder_start_token_id=50257)
    gen.no_timestamps_token_id = TB - 1
    gen.max_initial_timestamp_index = max_initial
    g = torch.Generator().manual_seed(0)
    begin = 2
    seqs = [[], [TB], [TB, 11], [TB, 11, TB + 40], [TB, 11, TB + 40, TB + 40], [TB, 11, TB + 40, TB + 40, 22, 33],
            [TB + 5, TB + 5], [11, 12]]
    for seq in seqs:
        ids = torch.tensor([[50257, 50257] + seq])
        for scale in (1.0, 8.0):
            scores = torch.randn(1, 51864, generator=g) * scale
            scores[0, TB:] += 6.0 * (len(seq) % 2)  # sometimes timestamps dominate
            ours = TimestampRules(_Model(gen), begin)(ids, scores)
            hf = WhisperTimeStampLogitsProcessor(gen, begin_index=begin)(ids, scores)
            assert torch.equal(ours, hf), seq


def test_split_segments_cases():
    n = 3000
    # two complete segments, then text cut by the window edge: seek to the last timestamp
    toks = [TB, 11, TB + 100, TB + 100, 12, TB + 200, TB + 200, 13, 14]
    segs, off, kind = split_segments(toks, TB, n)
    assert kind == "last_timestamp" and off == 400 and [(s["start"], s["end"]) for s in segs] == [(0, 2.0), (2.0, 4.0)]
    assert segs[-1]["tokens"] == [TB + 100, 12, TB + 200, TB + 200]
    # ends with a single timestamp: the whole window is consumed
    segs, off, kind = split_segments([TB, 11, TB + 100, TB + 100, 12, TB + 300], TB, n)
    assert kind == "single_timestamp" and off == n and segs[-1]["end"] == pytest.approx(6.0)
    # no pair: one segment to the window end (or its last timestamp)
    segs, off, kind = split_segments([TB, 11, 12], TB, 2000)
    assert kind == "no_timestamp_pair" and off == 2000 and segs[0]["end"] == pytest.approx(20.0)
    segs, _, kind = split_segments([TB, 11, TB + 50], TB, 2000)
    assert kind == "no_timestamp_pair" and segs[0]["end"] == pytest.approx(1.0)


def test_timestamps_tiny_model(tiny, fox):
    tr = trace_whisper(fox, tiny, timestamps=True, max_steps=12, stop_on_repetition=False, word_timestamps=False)
    tb = tiny.model.generation_config.no_timestamps_token_id + 1
    assert tiny.model.generation_config.no_timestamps_token_id not in [p["token_id"] for p in tr.meta["prompt"]]
    ids = tr.meta["token_ids"]
    assert ids[0] >= tb  # the first token is always a timestamp
    stamps = [t for t in ids if t >= tb]
    assert stamps == sorted(stamps)
    assert all(isinstance(s["start"], float) and s["start"] <= s["end"] for s in tr.meta["segments"])


@pytest.mark.real
@pytest.mark.parametrize("model_id", ["whisper-tiny.en", "whisper-base"])
def test_timestamp_tokens_equal_generate(model_id, fox, features):
    from lab.models import load_cached

    loaded = load_cached(model_id, family="whisper")
    tr = trace_whisper(fox, loaded, timestamps=True, word_timestamps=False, stop_on_repetition=False)
    feats = features(loaded, fox)
    kw = {"language": tr.meta["language"]} if tr.meta["language"] else {}
    ref = loaded.model.generate(feats, return_timestamps=True, **kw)[0].tolist()
    eos = loaded.model.generation_config.eos_token_id
    assert [t for t in tr.meta["token_ids"] if t != eos] == ref
    segs = tr.meta["segments"]
    assert segs and segs[0]["start"] == 0.0 and segs[-1]["end"] <= tr.meta["content_seconds"] + 0.02
    assert "".join(s["text"] for s in segs) == tr.meta["text"]
