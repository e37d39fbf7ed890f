"""One WER: the same reference / hypothesis pair scores the same through every path the app uses
(Whisper tab, Compare tab, CTC trace), and the normalisation does what ``lab.wer.NORMALIZATION``
says."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lab.ctc.score import wer_cer
from lab.errors import LabError
from lab.wer import NORMALIZATION, normalize_text, wer_alignment

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "assets" / "clips" / "quick_brown_fox.wav"
KEYS = ("wer", "cer", "hits", "substitutions", "insertions", "deletions", "ops", "reference",
        "hypothesis")


def _same(a: dict, b: dict):
    assert {k: a[k] for k in KEYS} == {k: b[k] for k in KEYS}


@pytest.mark.parametrize("text, want", [
    ("  Hello,   WORLD! ", "hello world"),
    ("I don't know", "i dont know"),                   # apostrophe dropped, one word
    ("I don\u2019t know", "i dont know"),              # typographic apostrophe too
    ("the dogs' bowl", "the dogs bowl"),
    ("'quoted' \"words\"", "quoted words"),
    ("well-known", "well known"),                      # a hyphen splits
    ("1,000 people, 3.5 s.", "1000 people 3.5 s"),     # numbers stay one word
    ("Caf\u00e9 na\u00efve", "caf\u00e9 na\u00efve"),  # accents kept
    ("\uff21\uff22\uff23", "abc"),                     # NFKC: full-width letters
    ("<b>bold</b> & co", "b bold b co"),               # symbols are marks too
    ("...", ""),
])
def test_normalisation_cases(text, want):
    assert normalize_text(text) == want


def test_normalisation_is_stated():
    for phrase in ("lower case", "apostrophes dropped", "don't = dont", "hyphens"):
        assert phrase in NORMALIZATION


def test_dont_and_dont_score_the_same_in_both_functions():
    for ref, hyp in (("I don't know.", "i dont know"), ("I dont know.", "I DON'T KNOW")):
        a, b = wer_alignment(ref, hyp), wer_cer(ref, hyp)
        assert a["wer"] == a["cer"] == 0.0
        _same(a, b)
    a, b = wer_alignment("It's a well-known fact.", "its a well known fact"), \
        wer_cer("It's a well-known fact.", "its a well known fact")
    assert a["wer"] == 0.0
    _same(a, b)
    a, b = wer_alignment("don't stop", "do not stop"), wer_cer("don't stop", "do not stop")
    assert a["wer"] == pytest.approx(2 / 2)  # contractions are not expanded: 1 sub + 1 ins
    _same(a, b)


def test_empty_reference_is_an_error_or_no_score():
    with pytest.raises(LabError, match="empty"):
        wer_alignment("?!", "x")
    r = wer_cer("?!", "x")
    assert r["wer"] is None and r["cer"] is None and r["ops"] == []


# -- the paths the app uses ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("_whisper_conftest", ROOT / "tests/whisper/conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from lab.models import resolve

    return resolve(str(mod._save_tiny(tmp_path_factory.mktemp("wer_whisper"))), family="whisper")


@pytest.fixture(scope="module")
def tiny_ctc():
    from lab.ctc import tiny

    return tiny.loaded("wav2vec2")


def _whisper_says(monkeypatch, loaded, text: str):
    """Make the tiny random Whisper's transcript ``text`` (its decoded, special-free text)."""
    tok = loaded.processor.tokenizer
    decode = type(tok).decode

    def fake(ids, *a, **kw):
        return text if kw.get("skip_special_tokens") else decode(tok, ids, *a, **kw)

    monkeypatch.setattr(tok, "decode", fake)


def test_every_path_scores_dont_the_same(monkeypatch, tiny_whisper, tiny_ctc):
    from lab.ctc.capture import fill_ctc, score_reference, trace_ctc, vocab_of
    from lab.ctc.compare import compare
    from lab.ctc.synthetic import peaky_logits
    from lab.trace import CapturePolicy
    from lab.whisper import trace_whisper

    ref = "I dont know."
    _whisper_says(monkeypatch, tiny_whisper, " I don't know.")
    # the Whisper tab: trace_whisper(reference=...) -> meta["wer"]
    tab = trace_whisper(str(CLIP), tiny_whisper, reference=ref, word_timestamps=False, max_steps=3)
    assert tab.meta["text"] == " I don't know."
    assert tab.meta["wer"]["wer"] == 0.0
    # the Compare tab: lab.ctc.compare.compare -> row["wer"]
    rows = {r["family"]: r for r in compare(str(CLIP), tiny_ctc, tiny_whisper, ref)}
    _same(rows["whisper"]["wer"], tab.meta["wer"])
    assert rows["ctc"]["wer"] == wer_alignment(ref, rows["ctc"]["text"])
    # a CTC trace scored against the reference: meta["wer"]
    tr = trace_ctc(str(CLIP), tiny_ctc, policy=CapturePolicy(names=["input.*", "ctc.*"]))
    v = vocab_of(tiny_ctc)
    fill_ctc(tr, peaky_logits("i don't know", v, tr.meta["n_frames"]), v)
    assert tr.meta["text"].lower() == "i don't know"
    score_reference(tr, ref, vocab=v)
    _same(tr.meta["wer"], tab.meta["wer"])


def test_any_transcript_scores_the_same_in_the_whisper_and_compare_tabs(tiny_whisper, tiny_ctc):
    from lab.ctc.compare import compare
    from lab.whisper import trace_whisper

    ref = "The quick brown fox jumps over the lazy dog."
    tab = trace_whisper(str(CLIP), tiny_whisper, reference=ref, word_timestamps=False)
    rows = {r["family"]: r for r in compare(str(CLIP), tiny_ctc, tiny_whisper, ref)}
    assert rows["whisper"]["text"] == tab.meta["text"].strip()
    _same(rows["whisper"]["wer"], tab.meta["wer"])
