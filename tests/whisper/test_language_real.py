"""Multilingual Whisper on the real offline whisper-base, on the committed language clips
(``assets/clips/lang``, espeak-ng / flite voices): the language step picks each clip's language
and equals transformers' ``detect_language`` / ``generate()``; with no language the lab detects
first, a forced language is in the prompt, translate gives English; the CLI JSON."""
from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
import torch
from transformers.modeling_outputs import BaseModelOutput

from lab.cli import main
from lab.whisper import trace_whisper
from lab.whisper.language import detect_language
from lab.whisper.timestamps import token_probabilities

pytestmark = pytest.mark.real

LANG = Path(__file__).resolve().parents[2] / "assets" / "clips" / "lang"
CLIPS = json.loads((LANG / "lang.json").read_text())
GERMAN = LANG / "de_de.wav"
DICT = Path("/usr/share/dict/words")


@pytest.fixture(scope="module")
def base():
    from lab.models import load_cached

    return load_cached("whisper-base", family="whisper")


@pytest.fixture(scope="module")
def german(base):
    """One transcribe (no language: detected) and one translate decode of the German clip."""
    return {"transcribe": trace_whisper(GERMAN, base),
            "translate": trace_whisper(GERMAN, base, task="translate", word_timestamps=False)}


def test_language_step_picks_each_clips_language(base, features):
    got = {}
    for name, info in CLIPS.items():
        x = features(base, LANG / name)
        with torch.no_grad():
            enc = base.model.model.encoder(x).last_hidden_state
            hf = base.model.detect_language(encoder_outputs=BaseModelOutput(last_hidden_state=enc)).tolist()
        res = detect_language(base.model, enc)
        got[name] = (res.code, round(res.prob, 3))
        assert hf == [res.token_id], name  # transformers' own language step agrees
        assert res.code == info["language"], (name, res.top(3))
    print("language step:", got)


def test_no_language_detects_first_as_generate(base, german, features):
    tr = german["transcribe"]
    m = tr.meta
    assert m["language_source"] == "detected" and m["language"] == "de" == m["detected_language"]
    assert [r["token"] for r in m["prompt"]] == ["<|startoftranscript|>", "<|de|>", "<|transcribe|>",
                                                 "<|notimestamps|>"]
    assert tr["decoder.language_probs"].shape == (99,) and len(m["language_probs"]) == 10
    assert m["language_probs"][0]["language"] == "de" and m["language_probs"][0]["prob"] > 0.5
    with torch.no_grad():
        seq = base.model.generate(features(base, GERMAN), return_dict_in_generate=True).sequences[0].tolist()
    assert seq == [r["token_id"] for r in m["prompt"]] + m["token_ids"]  # same prompt, same text
    assert "Guten Morgen" in m["text"] and "Deutschland" in m["text"]


def test_translate_gives_english(german):
    tr, tx = german["translate"], german["transcribe"]
    assert tr.meta["task"] == "translate" and tr.meta["prompt"][2]["token"] == "<|translate|>"
    assert tr.meta["language"] == "de"  # detected first, then translated
    words = re.findall(r"[a-z]+", tr.meta["text"].lower())
    english = set(DICT.read_text().lower().split())
    share = sum(w in english for w in words) / max(1, len(words))
    assert len(words) >= 8 and share >= 0.8, (tr.meta["text"], share)
    german_words = set(re.findall(r"[a-zäöüß]+", tx.meta["text"].lower()))
    assert len(set(words) & german_words) <= 0.3 * len(set(words)), (tr.meta["text"], tx.meta["text"])


def test_word_probability_real(base, german):
    """openai's word probability: mean over the word's own tokens (a merged '.' adds none)."""
    tr = german["transcribe"]
    tok = base.processor.tokenizer
    ids = tr.meta["token_ids"]
    words = tr.meta["words"]
    assert len(words) >= 15 and all(0 < w["probability"] <= 1 for w in words)
    merged = 0
    for w in words:
        own = [s for s in w["tokens"] if tok.decode([ids[s]]).strip() not in string.punctuation]
        want = sum(token_probabilities(tr, own, eos=50257)) / len(own)
        assert w["probability"] == pytest.approx(want, rel=1e-5), w
        merged += len(own) < len(w["tokens"])
    assert merged >= 2  # "Morgen." "Deutschland." ... carry punctuation merged in
    assert min(w["probability"] for w in words) < 0.6 < max(w["probability"] for w in words)


def test_cli_forced_language_json(capsys):
    code = main(["trace", "whisper", str(GERMAN), "--model", "whisper-base", "--language", "fr",
                 "--max-steps", "8", "--json"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    doc = json.loads(cap.out)
    assert doc["language"] == "fr" and doc["language_source"] == "forced" and doc["task"] == "transcribe"
    assert doc["detected_language"] == "de" and doc["language_probs"][0]["language"] == "de"
    assert len(doc["language_probs"]) == 10
    assert [p["token"] for p in doc["prompt"]][:3] == ["<|startoftranscript|>", "<|fr|>", "<|transcribe|>"]
    assert [p["role"] for p in doc["prompt"]] == ["sot", "language", "task", "no_timestamps"]
    assert doc["words"] and all("probability" in w for w in doc["words"])
