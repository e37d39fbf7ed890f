"""Encoder + greedy capture on a tiny random Whisper: names/axes, invariants, hooks, parity."""
from __future__ import annotations

import pytest
import torch

from lab.errors import LabError
from lab.trace import CapturePolicy, Trace, count_hooks
from lab.whisper import iter_trace_whisper, trace_whisper
from lab.whisper import names

GOLDEN = [  # (name, axes, shape) for the tiny model (d_model 64, 2+2 layers, 2 heads), 3 steps
    ("input.waveform", ("sample",), None),
    ("input.log_mel", ("mel_bin", "mel_frame"), (80, 3000)),
    ("encoder.conv.1", ("channel", "stem_frame"), (64, 3000)),
    ("encoder.conv.2", ("channel", "encoder_frame"), (64, 1500)),
    ("encoder.layers.0.attn.pattern", ("head", "query_frame", "key_frame"), (2, 1500, 1500)),
    ("encoder.layers.1.attn.pattern", ("head", "query_frame", "key_frame"), (2, 1500, 1500)),
    ("encoder.hidden", ("layer", "encoder_frame", "hidden"), (3, 1500, 64)),
    ("encoder.output", ("encoder_frame", "hidden"), (1500, 64)),
    ("decoder.prompt.self_attn.pattern", ("layer", "head", "query_token", "key_token"), (2, 2, 2, 2)),
    ("decoder.prompt.cross_attn.pattern", ("layer", "head", "query_token", "key_frame"), (2, 2, 2, 1500)),
    ("decoder.step.0.self_attn.pattern", ("layer", "head", "key_token"), (2, 2, 2)),
    ("decoder.step.0.cross_attn.pattern", ("layer", "head", "key_frame"), (2, 2, 1500)),
    ("decoder.logits", ("step", "vocab"), (3, 51864)),
    ("decoder.step.1.self_attn.pattern", ("layer", "head", "key_token"), (2, 2, 3)),
    ("decoder.step.1.cross_attn.pattern", ("layer", "head", "key_frame"), (2, 2, 1500)),
    ("decoder.step.2.self_attn.pattern", ("layer", "head", "key_token"), (2, 2, 4)),
    ("decoder.step.2.cross_attn.pattern", ("layer", "head", "key_frame"), (2, 2, 1500)),
]


@pytest.fixture(scope="module")
def tr(tiny, fox):
    return trace_whisper(fox, tiny, policy=CapturePolicy.full(), max_steps=3, top_k=5,
                         stop_on_repetition=False, word_timestamps=False)


def test_describe_golden(tr, fox):
    rows = [(n, a, s) for n, a, s, _ in tr.describe_rows() if not n.startswith("timestamps.m")
            and n != "timestamps.path"]
    assert [(n, a) for n, a, _ in rows] == [(n, a) for n, a, _ in GOLDEN]
    for (n, _, s), (_, _, want) in zip(rows, GOLDEN):
        if want is not None:
            assert s == want, n
    assert tr["input.waveform"].shape[0] == 55015
    for n, a, _ in rows:
        assert names.axes_of(n) == a
    assert tr.meta["n_content_mel_frames"] == 344  # ceil(55015 / 160)
    assert tr.meta["stop_reason"] == "max_steps" and len(tr.steps) == 3
    assert tr.time_bases["encoder_frame"] == 50 and tr.time_bases["mel_frame"] == 100


def test_encoder_output_matches_model(tr, tiny, fox, features):
    x = features(tiny, fox)
    with torch.no_grad():
        enc = tiny.model.model.encoder(x, output_hidden_states=True)
    torch.testing.assert_close(tr["encoder.output"], enc.last_hidden_state[0])
    # layer 0 = embeddings, i+1 = output of layer i; the last one is before the final layer norm
    hs = tr["encoder.hidden"]
    torch.testing.assert_close(tiny.model.model.encoder.layer_norm(hs[-1]), enc.last_hidden_state[0])
    # HF's hidden_states: the same, except that its last entry is after the final layer norm
    torch.testing.assert_close(hs[:-1], torch.stack(enc.hidden_states[:-1])[:, 0])
    conv1 = torch.nn.functional.gelu(tiny.model.model.encoder.conv1(x))[0]
    torch.testing.assert_close(tr["encoder.conv.1"], conv1)


def test_logits_equal_full_forward(tr, tiny, fox, features):
    """Captured (KV-cached, step-by-step) logits == one uncached forward over prompt + tokens."""
    x = features(tiny, fox)
    prompt = [p["token_id"] for p in tr.meta["prompt"]]
    toks = tr.meta["token_ids"]
    with torch.no_grad():
        out = tiny.model(input_features=x, decoder_input_ids=torch.tensor([prompt + toks[:-1]]),
                         output_attentions=True)
    want = out.logits[0, len(prompt) - 1:]
    torch.testing.assert_close(tr["decoder.logits"], want, atol=1e-4, rtol=1e-4)
    # cross-attention of step s = the full forward's cross-attention row at query position p+s-1
    for s in range(len(toks)):
        full = torch.stack([c[0, :, len(prompt) - 1 + s] for c in out.cross_attentions])
        torch.testing.assert_close(tr[names.step_cross(s)], full, atol=1e-5, rtol=1e-4)
        full_self = torch.stack([a[0, :, len(prompt) - 1 + s, : len(prompt) + s] for a in out.decoder_attentions])
        torch.testing.assert_close(tr[names.step_self(s)], full_self, atol=1e-5, rtol=1e-4)


def test_attention_rows_sum_to_one(tr):
    for n in tr.names("*attn.pattern"):
        sums = tr[n].float().sum(-1)
        torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-4, rtol=0)
    # causal: the prompt's first query sees only itself
    p = tr["decoder.prompt.self_attn.pattern"]
    assert torch.all(p[:, :, 0, 1:] == 0)


def test_steps_are_consistent(tr, tiny):
    tok = tiny.processor.tokenizer
    for s, st in enumerate(tr.steps):
        assert st["index"] == s
        assert st["top_k"][0]["token_id"] == st["token_id"]  # greedy picks the top-1
        assert st["token"] == tok.decode([st["token_id"]])
        probs = [t["prob"] for t in st["top_k"]]
        assert probs == sorted(probs, reverse=True) and len(probs) == 5
        assert abs(st["prob"] - probs[0]) < 1e-7
    cum = sum(st["logprob"] for st in tr.steps)
    assert abs(tr.steps[-1]["cum_logprob"] - cum) < 1e-5
    assert tr.tokens == [st["token"] for st in tr.steps]


def _generate(loaded, x, **kw):
    with torch.no_grad():
        return loaded.model.generate(x, **kw)[0].tolist()


@pytest.mark.parametrize("clip", ["birds_sing.wav"])
def test_greedy_equals_generate_tiny(tiny, clip, clips_dir, features):
    n = 10
    tr = trace_whisper(clips_dir / clip, tiny, max_steps=n, stop_on_repetition=False, word_timestamps=False,
                       policy=CapturePolicy(names=["decoder.logits"]))
    want = _generate(tiny, features(tiny, clips_dir / clip), max_new_tokens=n)
    got = tr.meta["token_ids"]
    if got and got[-1] == tiny.model.generation_config.eos_token_id:
        got = got[:-1]
    assert got == want


def test_multilingual_prompt_matches_generate(tiny_multi, fox, features):
    tok = tiny_multi.processor.tokenizer
    for language, task in (("de", None), (None, None), ("french", "translate")):
        tr = trace_whisper(fox, tiny_multi, max_steps=3, stop_on_repetition=False, word_timestamps=False,
                           language=language, task=task, policy=CapturePolicy(names=["decoder.logits"]))
        prompt = [p["token_id"] for p in tr.meta["prompt"]]
        assert prompt[0] == 50257 and prompt[3] == 50362
        assert prompt[2] == (50357 if task == "translate" else 50358)
        assert tr.meta["task"] == (task or "transcribe")
        if language:
            code = {"de": "de", "french": "fr"}[language]
            assert prompt[1] == tok.convert_tokens_to_ids(f"<|{code}|>") and tr.meta["language"] == code
        else:
            assert tr.meta["language_probs"][0]["language"] == tr.meta["language"]
        x = features(tiny_multi, fox)
        with torch.no_grad():
            want = tiny_multi.model.generate(x, max_new_tokens=3, language=language, task=task,
                                             return_dict_in_generate=True)
        seq = want.sequences[0].tolist()
        got = tr.meta["token_ids"]
        assert seq == prompt + got


def test_policy_filters_layers_heads_and_dtype(tiny, fox):
    pol = CapturePolicy(layers=[1], heads=[0], names=["encoder.layers.*", "decoder.step.*.cross_attn.pattern"])
    tr = trace_whisper(fox, tiny, policy=pol, max_steps=2, word_timestamps=False)
    assert tr.names("encoder.layers.*") == ["encoder.layers.1.attn.pattern"]
    assert tr["encoder.layers.1.attn.pattern"].shape == (1, 1500, 1500)
    assert tr["encoder.layers.1.attn.pattern"].dtype == torch.float16
    assert tr["decoder.step.0.cross_attn.pattern"].shape == (1, 1, 1500)
    assert "encoder.hidden" not in tr and "decoder.logits" in tr  # logits always kept
    assert tr.meta["captured_layers"]["decoder"] == [1]


def test_no_hooks_left_even_after_error(tiny, fox, monkeypatch):
    # transformers itself keeps output-recording hooks once output_attentions was asked for
    base = count_hooks(tiny.model)
    trace_whisper(fox, tiny, max_steps=2, word_timestamps=False)
    assert count_hooks(tiny.model) == base

    def boom(self, *a, **k):
        raise RuntimeError("mid-trace failure")

    monkeypatch.setattr(Trace, "add", boom)
    with pytest.raises(RuntimeError, match="mid-trace"):
        trace_whisper(fox, tiny, max_steps=2)
    assert count_hooks(tiny.model) == base
    monkeypatch.undo()
    # abandoning the streaming generator half-way leaves nothing behind either
    it = iter_trace_whisper(fox, tiny, max_steps=5)
    next(it), next(it)
    it.close()
    assert count_hooks(tiny.model) == base


def test_iter_yields_growing_trace(tiny, fox):
    seen = []
    for t in iter_trace_whisper(fox, tiny, max_steps=3, stop_on_repetition=False, word_timestamps=False):
        seen.append(len(t.steps))
    assert seen[0] == 0 and seen[1:4] == [1, 2, 3] and seen[-1] == 3


def test_sdpa_model_raises_clear_error(tiny_dir, fox):
    from lab.models import resolve

    sdpa = resolve(str(tiny_dir), family="whisper", attention=False)
    with pytest.raises(LabError, match="eager"):
        trace_whisper(fox, sdpa, max_steps=2)


def test_bad_inputs(tiny, fox, tmp_path):
    with pytest.raises(LabError, match="30 s"):
        trace_whisper((16000, torch.ones(16000 * 31).numpy() * 0.1), tiny)
    with pytest.raises(LabError):
        trace_whisper(tmp_path / "missing.wav", tiny)
    with pytest.raises(LabError, match="English-only"):
        trace_whisper(fox, tiny, language="de")
    with pytest.raises(LabError, match="top_k"):
        trace_whisper(fox, tiny, top_k=0)


def test_save_load_roundtrip(tr, tmp_path):
    tr.save(tmp_path / "t")
    back = Trace.load(tmp_path / "t")
    assert back.names() == tr.names() and back.steps == tr.steps
    torch.testing.assert_close(back["decoder.logits"], tr["decoder.logits"])


def test_repetition_rule():
    from lab.whisper.decode import repetition_at_tail

    assert not repetition_at_tail([1, 1, 1, 1])
    assert repetition_at_tail([1] * 12)
    assert repetition_at_tail([5, 9] + [1, 2, 3] * 4)
    assert not repetition_at_tail([1, 2, 3] * 3)
    assert not repetition_at_tail(list(range(40)))


def test_module_table_resolves(tiny):
    from lab.trace import module_at

    for key, path in names.MODULES.items():
        assert module_at(tiny.model, path.format(i=1)) is not None, key


def test_policy_out_of_range_is_a_clear_error(tiny, fox):
    with pytest.raises(LabError, match="heads"):
        trace_whisper(fox, tiny, policy=CapturePolicy(heads=[7]), max_steps=1)


def test_repetition_stops_a_loop(tiny, fox):
    """The random tiny model loops on one token: the trace stops after 12 copies; without the
    rule (= generate(), see test_greedy_equals_generate_tiny) decoding runs on, same prefix."""
    pol = CapturePolicy(names=["x"])
    tr = trace_whisper(fox, tiny, max_steps=30, word_timestamps=False, policy=pol)
    assert tr.meta["stop_reason"] == "repetition"
    n = len(tr.steps)
    full = trace_whisper(fox, tiny, max_steps=n + 3, word_timestamps=False, policy=pol, stop_on_repetition=False)
    assert full.meta["stop_reason"] == "max_steps" and full.meta["token_ids"][:n] == tr.meta["token_ids"]


def test_suppression_rules_equal_transformers_processors(tiny):
    from transformers.generation.logits_process import (SuppressTokensAtBeginLogitsProcessor,
                                                        SuppressTokensLogitsProcessor)

    from lab.whisper.decode import SuppressionRules

    gen = tiny.model.generation_config
    rules = SuppressionRules(tiny.model, begin_index=2)
    hf_begin = SuppressTokensAtBeginLogitsProcessor(gen.begin_suppress_tokens, 2)
    hf_all = SuppressTokensLogitsProcessor(gen.suppress_tokens)
    scores = torch.randn(3, tiny.model.config.vocab_size)
    for n in (2, 3):
        ids = torch.zeros(3, n, dtype=torch.long)
        assert torch.equal(rules(ids, scores.clone()), hf_all(ids, hf_begin(ids, scores.clone())))
    assert torch.isinf(rules(torch.zeros(1, 2, dtype=torch.long), scores[:1])[0, 50256])
    assert not torch.isinf(rules(torch.zeros(1, 3, dtype=torch.long), scores[:1])[0, 50256])


def test_concurrent_traces_do_not_mix(tiny, clips_dir):
    """Two threads tracing different clips on one shared model get what each gets alone (hooks
    live on shared modules: a per-model lock around each hooked forward keeps them apart)."""
    import threading

    pol = CapturePolicy(names=["encoder.hidden", "encoder.conv.2", "decoder.step.*.cross_attn.pattern"])
    clips = [clips_dir / "birds_sing.wav", clips_dir / "open_the_door.wav"]
    alone = [trace_whisper(c, tiny, max_steps=3, policy=pol, word_timestamps=False) for c in clips]
    out = [[], []]

    def work(i):
        for _ in range(3):
            out[i].append(trace_whisper(clips[i], tiny, max_steps=3, policy=pol, word_timestamps=False))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for a, runs in zip(alone, out):
        assert len(runs) == 3
        for b in runs:
            assert b.names() == a.names()
            for n in a.names():
                torch.testing.assert_close(a[n], b[n])
