"""The language step, the prompt rows and word confidence on tiny random Whispers (plumbing):
``detect_language`` against transformers' own ``detect_language`` / ``generate()``, the trace's
``decoder.language_probs`` + meta, forced languages, English-only checkpoints, and each word's
probability against an independent full forward pass."""
from __future__ import annotations

import string

import pytest
import torch

from lab.errors import LabError
from lab.trace import CapturePolicy
from lab.whisper import names, trace_whisper
from lab.whisper.language import LANGUAGE_TOP, describe_prompt, detect_language, model_languages

LIGHT = CapturePolicy(names=["decoder.logits"])


@pytest.fixture(scope="module")
def enc(tiny_multi, fox, features):
    x = features(tiny_multi, fox)
    with torch.no_grad():
        return x, tiny_multi.model.model.encoder(x).last_hidden_state


@pytest.fixture(scope="module")
def detected(tiny_multi, fox):
    return trace_whisper(fox, tiny_multi, max_steps=3, stop_on_repetition=False, policy=CapturePolicy.full())


def test_detect_language_equals_transformers(tiny_multi, enc):
    x, out = enc
    res = detect_language(tiny_multi.model, out)
    assert res.codes == ["en", "de", "fr"] and res.token_ids == [50258, 50260, 50264]
    assert res.probs.shape == (3,) and abs(float(res.probs.sum()) - 1) < 1e-5
    with torch.no_grad():
        want = tiny_multi.model.detect_language(input_features=x).tolist()
    assert want == [res.token_id] and res.code == res.codes[int(res.probs.argmax())]
    assert res.prob == pytest.approx(float(res.probs.max()))
    top = res.top()
    assert [r["prob"] for r in top] == sorted((r["prob"] for r in top), reverse=True)
    assert top[0]["language"] == res.code and {"language", "name", "prob"} <= set(top[0])


def test_trace_detects_first_like_generate(detected, tiny_multi, enc):
    tr = detected
    m = tr.meta
    assert m["language_source"] == "detected" and m["language"] == m["detected_language"]
    assert [r["role"] for r in m["prompt"]] == ["sot", "language", "task", "no_timestamps"]
    assert m["prompt"][1]["token"] == f"<|{m['language']}|>"
    assert tr.axes["decoder.language_probs"] == ("language",) == names.AXES["decoder.language_probs"]
    assert tr["decoder.language_probs"].shape == (len(m["language_codes"]),) == (3,)
    assert m["language_probs"][0]["language"] == m["language"]
    assert len(m["language_probs"]) == min(LANGUAGE_TOP, 3)
    x, _ = enc
    with torch.no_grad():
        seq = tiny_multi.model.generate(x, max_new_tokens=3, return_dict_in_generate=True).sequences[0].tolist()
    assert seq[:4] == [r["token_id"] for r in m["prompt"]]  # generate() detected the same language
    assert seq[4:] == m["token_ids"][:len(seq) - 4]


def test_describe_golden_multilingual(detected):
    """The names of a multilingual trace: the English-only golden list plus the language step."""
    rows = {n: (a, s) for n, a, s, _ in detected.describe_rows()}
    assert rows["decoder.language_probs"] == (("language",), (3,))
    assert rows["decoder.prompt.self_attn.pattern"][1] == (2, 2, 4, 4)  # 4 prompt tokens
    assert names.axes_of("decoder.language_probs") == ("language",)
    assert {"meta['language_codes']", "meta['language_source']", "meta['detected_language']"} <= {
        r["name"] for r in names.describe() if r["kind"] == "meta"}


def test_forced_language_still_shows_the_step(tiny_multi, fox, detected):
    other = next(c for c in ("fr", "de", "en") if c != detected.meta["detected_language"])
    tr = trace_whisper(fox, tiny_multi, language=other, task="translate", max_steps=2,
                       word_timestamps=False, policy=LIGHT)
    m = tr.meta
    assert m["language"] == other and m["language_source"] == "forced" and m["task"] == "translate"
    assert m["detected_language"] == detected.meta["detected_language"]
    ids = [r["token_id"] for r in m["prompt"]]
    tok = tiny_multi.processor.tokenizer
    assert ids[1] == tok.convert_tokens_to_ids(f"<|{other}|>") and ids[2] == 50357  # translate
    assert torch.equal(tr["decoder.language_probs"], detected["decoder.language_probs"])


def test_english_only_has_no_language_step(tiny, fox):
    tr = trace_whisper(fox, tiny, max_steps=2, word_timestamps=False, policy=LIGHT)
    assert "decoder.language_probs" not in tr and tr.meta["language_source"] is None
    assert tr.meta["language"] is None and tr.meta["task"] is None
    assert [r["role"] for r in tr.meta["prompt"]] == ["sot", "no_timestamps"]
    assert model_languages(tiny.model) == []
    with pytest.raises(LabError, match="English-only"):
        detect_language(tiny.model, torch.zeros(1, 1500, tiny.model.config.d_model))
    with pytest.raises(LabError, match="English-only"):
        trace_whisper(fox, tiny, language="de", max_steps=1)


def test_timestamp_mode_prompt_and_previous_rows(tiny_multi, fox):
    tr = trace_whisper(fox, tiny_multi, max_steps=2, word_timestamps=False, timestamps=True,
                       policy=LIGHT)
    assert [r["role"] for r in tr.meta["prompt"]] == ["sot", "language", "task"]
    tok = tiny_multi.processor.tokenizer
    rows = describe_prompt([50360, 400, 401] + [r["token_id"] for r in tr.meta["prompt"]], tok,
                           tiny_multi.model)
    assert [r["role"] for r in rows] == ["previous"] * 3 + ["sot", "language", "task"]


def test_bad_language_is_a_lab_error(tiny_multi, fox):
    with pytest.raises(LabError, match="unknown language"):
        trace_whisper(fox, tiny_multi, language="klingon", max_steps=1)
    with pytest.raises(LabError, match="unknown task"):
        trace_whisper(fox, tiny_multi, task="summarise", max_steps=1)


def test_word_probability_is_the_mean_of_token_probabilities(tiny, fox, features):
    """openai find_alignment: token p = softmax(logits[:eot]) of a forward pass over prompt +
    text tokens; word p = mean over its tokens (punctuation merged in adds none)."""
    tr = trace_whisper(fox, tiny, max_steps=12, stop_on_repetition=False, policy=LIGHT)
    words = tr.meta["words"]
    assert words and all(0.0 <= w["probability"] <= 1.0 for w in words)
    prompt = [r["token_id"] for r in tr.meta["prompt"]]
    ids = tr.meta["token_ids"]
    with torch.no_grad():
        logits = tiny.model(features(tiny, fox), decoder_input_ids=torch.tensor([prompt + ids])).logits[0]
    eot = int(tiny.model.generation_config.eos_token_id)
    probs = logits[len(prompt) - 1:-1, :eot].float().softmax(-1)
    tok = tiny.processor.tokenizer
    checked = 0
    for w in words:  # words no punctuation was merged into: the mean over all their tokens
        pieces = [tok.decode([ids[s]]) for s in w["tokens"]]
        if any(p.strip() in string.punctuation or "\ufffd" in p for p in pieces):
            continue
        want = float(probs[w["tokens"], torch.tensor([ids[s] for s in w["tokens"]])].mean())
        assert w["probability"] == pytest.approx(want, rel=1e-3), w
        checked += 1
    assert checked >= 1


def test_long_form_passes_language_and_task(tiny_multi, fox):
    from lab.whisper import trace_long

    lr = trace_long(fox, tiny_multi, language="de", task="translate", max_steps=4)
    m = lr.traces[0].meta
    assert lr.language == "de" and m["language_source"] == "forced" and m["task"] == "translate"
    assert [r["role"] for r in m["prompt"]][-3:] == ["sot", "language", "task"]
    assert "decoder.language_probs" in lr.traces[0]
    assert all(0.0 <= w["probability"] <= 1.0 for w in lr.words)
