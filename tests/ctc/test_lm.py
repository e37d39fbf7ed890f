"""Beam search and the n-gram LM built from user text (KenLM lmplz + ctc-beam-decoder)."""
import numpy as np
import pytest
import torch

from lab.ctc.capture import vocab_of
from lab.ctc.collapse import collapse
from lab.ctc.lm import beam_decode, build_lm, compare, corpus_lines, labels
from lab.errors import LabError

TEXT = "The quick brown fox jumps over the lazy dog.\nA brown dog sleeps; the fox runs!"


def _ambiguous(v, spelled="THE|BR?WN|FOX", p_letter=0.4):
    """Log-probs spelling ``spelled``; at ``?`` an O competes with the blank (0.4 vs 0.6)."""
    idx = {t: i for i, t in enumerate(v.tokens)}
    rows = []
    for ch in spelled:
        r = np.full(len(v.tokens), 1e-4)
        if ch == "?":
            r[idx["O"]], r[v.blank_id] = p_letter, 1 - p_letter
        else:
            r[idx[ch]] = 1.0
        rows.append(r / r.sum())
        b = np.full(len(v.tokens), 1e-4)
        b[v.blank_id] = 1.0
        rows.append(b / b.sum())
    return np.log(np.array(rows, dtype=np.float32))


def test_lmplz_writes_an_arpa_model(w2v, tmp_path):
    lm = build_lm(TEXT, vocab_of(w2v), order=3, out_dir=tmp_path)
    arpa = lm.path.read_text()
    assert arpa.startswith("\\data\\") and "\\3-grams:" in arpa and "\tBROWN\t" in arpa
    assert lm.words == sorted({"THE", "QUICK", "BROWN", "FOX", "JUMPS", "OVER", "LAZY", "DOG", "A",
                               "SLEEPS", "RUNS"})
    assert lm.sentences == 3 and lm.dropped == []


def test_corpus_in_vocab_case_and_letters(w2v):
    lines, dropped = corpus_lines("Hello, wörld! It's 9 o'clock.", vocab_of(w2v))
    assert lines == ["HELLO WRLD", "IT'S O'CLOCK"]
    assert set(dropped) == {",", "Ö", "9"}


def test_the_lm_spell_checks(w2v):
    v = vocab_of(w2v)
    lp = _ambiguous(v)
    greedy = collapse(lp.argmax(1).tolist(), v).text
    assert greedy == "THE BRWN FOX"
    res = compare(lp, v, greedy, lm=build_lm(TEXT, v), beam_size=16, frames_per_second=50)
    assert res["beam"]["text"] == "THE BRWN FOX"  # acoustics alone prefer the blank
    assert res["beam_lm"]["text"] == "THE BROWN FOX"  # the LM knows BROWN
    assert res["changed_by_lm"] == [{"beam": "BRWN", "beam_lm": "BROWN"}]
    words = res["beam_lm"]["words"]
    assert [w["word"] for w in words] == ["THE", "BROWN", "FOX"]
    assert all(0 <= w["start"] < w["end"] <= len(lp) / 50 + 1e-9 for w in words)


def test_beam_equals_greedy_on_confident_frames(w2v):
    from lab.ctc.synthetic import peaky_logits

    v = vocab_of(w2v)
    logits = peaky_logits("a moment of truth", v, 80, confidence=12, noise=0.3)
    lp = torch.log_softmax(logits, -1)
    assert beam_decode(lp, v, beam_size=8)["text"] == collapse(lp.argmax(-1).tolist(), v).text


def test_hotwords_and_labels(w2v):
    v = vocab_of(w2v)
    lab = labels(v)
    assert lab[v.blank_id] == "" and lab[v.tokens.index("|")] == " " and len(set(lab)) == len(lab)
    lp = _ambiguous(v, "THE|BR?WN|FOX", p_letter=0.3)
    assert "BROWN" in beam_decode(lp, v, hotwords=["BROWN"])["text"]


@pytest.mark.parametrize("text", ["", "   ", "1234 !!!"])
def test_bad_lm_text(w2v, text):
    with pytest.raises(LabError):
        build_lm(text, vocab_of(w2v))


def test_bad_logit_shapes(w2v):
    with pytest.raises(LabError):
        beam_decode(np.zeros((5, 3), np.float32), vocab_of(w2v))


def test_the_same_text_is_built_once(w2v):
    v = vocab_of(w2v)
    a, b = build_lm(TEXT, v), build_lm(TEXT, v)
    assert a is b and a.path.is_file()
    assert build_lm(TEXT, v, order=2) is not a
