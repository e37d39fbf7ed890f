"""Beam search: beam 1 == greedy, beam n == generate(num_beams=n), tree invariants (tiny model)."""
from __future__ import annotations

import pytest
import torch

from lab.errors import LabError
from lab.trace import CapturePolicy
from lab.whisper import trace_whisper
from lab.whisper.beam import beam_search
from lab.whisper.decode import build_prompt


@pytest.fixture(scope="module")
def enc(tiny, fox, features):
    x = features(tiny, fox)
    with torch.no_grad():
        out = tiny.model.model.encoder(x).last_hidden_state
    return x, out, build_prompt(tiny.model, tiny.processor.tokenizer, out)


def test_beam_one_equals_greedy(tiny, fox, enc):
    _, out, prompt = enc
    b = beam_search(tiny.model, tiny.processor.tokenizer, out, prompt, beam_size=1, max_steps=8)
    tr = trace_whisper(fox, tiny, max_steps=8, stop_on_repetition=False, word_timestamps=False,
                       policy=CapturePolicy(names=["decoder.logits"]))
    assert b["best_tokens"] == tr.meta["token_ids"]


@pytest.mark.parametrize("n", [2, 3])
def test_beam_equals_generate(tiny, enc, n):
    x, out, prompt = enc
    b = beam_search(tiny.model, tiny.processor.tokenizer, out, prompt, beam_size=n, max_steps=6)
    with torch.no_grad():
        g = tiny.model.generate(x, num_beams=n, max_new_tokens=6, return_dict_in_generate=True,
                                output_scores=True)
    want = g.sequences[0].tolist()
    want = want[len(prompt.ids):] if want[:len(prompt.ids)] == prompt.ids else want
    assert b["best_tokens"] == want
    assert b["finished"][0]["score"] == pytest.approx(float(g.sequences_scores[0]), abs=1e-4)


def test_tree_invariants(tiny, enc):
    _, out, prompt = enc
    n = 3
    b = beam_search(tiny.model, tiny.processor.tokenizer, out, prompt, beam_size=n, max_steps=5)
    nodes = {d["id"]: d for d in b["nodes"]}
    assert nodes[0]["parent"] is None and nodes[0]["step"] == -1
    for d in b["nodes"][1:]:
        parent = nodes[d["parent"]]
        assert parent["step"] == d["step"] - 1
        assert parent["status"] == "alive"  # only continued beams have children
        # running score = parent's score + this token's log-probability
        assert d["score"] == pytest.approx(parent["score"] + d["logprob"], abs=1e-3)
    steps = sorted({d["step"] for d in b["nodes"][1:]})
    for s in steps[:-1]:
        assert sum(1 for d in b["nodes"] if d["step"] == s and d["status"] == "alive") == n
        assert sum(1 for d in b["nodes"] if d["step"] == s) == 2 * n
    scores = [f["score"] for f in b["finished"]]
    assert scores == sorted(scores, reverse=True) and len(scores) <= n
    path = b["best_path"]
    assert path[0] == 0 and [nodes[i]["token_id"] for i in path[1:]] == b["best_tokens"]
    f = b["finished"][0]
    assert f["score"] == pytest.approx(f["sum_logprob"] / f["length"] ** b["length_penalty"], abs=1e-5)


def test_trace_with_beam_meta(tiny, fox):
    tr = trace_whisper(fox, tiny, max_steps=4, beam_size=2, word_timestamps=False,
                       policy=CapturePolicy(names=["decoder.logits"]))
    assert tr.meta["beam"]["beam_size"] == 2 and tr.meta["beam"]["nodes"]


def test_bad_beam_size(tiny, enc):
    _, out, prompt = enc
    with pytest.raises(LabError, match="beam size"):
        beam_search(tiny.model, tiny.processor.tokenizer, out, prompt, beam_size=0)


def _strip(ids: list[int], prompt: list[int], eos: int) -> list[int]:
    """generate()'s sequences vs the beam's best tokens: without the prompt and the final eos."""
    ids = ids[len(prompt):] if ids[:len(prompt)] == prompt else list(ids)
    return ids[:-1] if ids and ids[-1] == eos else ids


@pytest.mark.real
@pytest.mark.parametrize("model_id", ["whisper-tiny.en", "whisper-base"])
@pytest.mark.parametrize("timestamps", [False, True])
def test_beam_equals_generate_real(model_id, timestamps, features):
    """trace_whisper(beam_size=5)'s best hypothesis == generate(num_beams=5) on the real models,
    with and without timestamp tokens (short-form generate(return_timestamps=True))."""
    from pathlib import Path

    from lab.models import load_cached

    clip = Path(__file__).resolve().parents[2] / "assets" / "clips" / "train_station.wav"
    loaded = load_cached(model_id, family="whisper")
    tr = trace_whisper(clip, loaded, beam_size=5, word_timestamps=False, timestamps=timestamps,
                       policy=CapturePolicy(names=["decoder.logits"]))
    b = tr.meta["beam"]
    with torch.no_grad():
        g = loaded.model.generate(features(loaded, clip), num_beams=5, return_timestamps=timestamps)
    seq = (g["sequences"] if isinstance(g, dict) else g)[0].tolist()
    eos = int(loaded.model.generation_config.eos_token_id)
    want = _strip(seq, [r["token_id"] for r in tr.meta["prompt"]], eos)
    assert b["best_tokens"][-1] == eos and b["stop_reason"] == "end_of_text"
    assert b["best_tokens"][:-1] == want and len(want) > 5
    first_ts = int(loaded.model.generation_config.no_timestamps_token_id) + 1
    assert (want[0] >= first_ts and want[-1] >= first_ts) if timestamps else max(want) < eos
    # the tree's best path spells the best tokens
    nodes = {d["id"]: d for d in b["nodes"]}
    assert [nodes[i]["token_id"] for i in b["best_path"][1:]] == b["best_tokens"]
