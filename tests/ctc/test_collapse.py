"""The greedy collapse stages, and their text against the HF tokenizer's own CTC decode."""
import numpy as np
import pytest
import torch

from lab.ctc import tiny
from lab.ctc.capture import trace_ctc, vocab_of
from lab.ctc.collapse import Vocab, collapse


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return tiny.tokenizer(tmp_path_factory.mktemp("vocab"))


def _ids(tok, s: str):
    table = {"_": tok.pad_token_id, "|": tok.convert_tokens_to_ids("|")}
    return [table.get(c, tok.convert_tokens_to_ids(c)) for c in s]


def test_seed_example_stages(tok):
    c = collapse(_ids(tok, "_ER_RRR_ORR"), Vocab.from_tokenizer(tok))
    s = c.strings()
    assert s["frame_tokens"] == "_ER_RRR_ORR"
    assert s["merged"] == "_ER_R_OR"
    assert s["no_blanks"] == "ERROR"
    assert s["text"] == "ERROR"
    assert s["naive_dedupe"] == "EROR"
    # frame spans: the three R frames became one span, the blank kept the two Rs apart
    assert [(x.token, x.start, x.end) for x in c.merged] == [
        ("_", 0, 1), ("E", 1, 2), ("R", 2, 3), ("_", 3, 4), ("R", 4, 7), ("_", 7, 8), ("O", 8, 9), ("R", 9, 11)]
    assert [(x.start, x.end) for x in c.naive][1] == (2, 7)  # R_RRR merged across the blank


def test_words_and_delimiters(tok):
    c = collapse(_ids(tok, "B_R_II_O_N_||_S_AWW_"), Vocab.from_tokenizer(tok), [0.5] * 20)
    assert c.strings()["frame_tokens"] == "B_R_II_O_N_||_S_AWW_"
    assert c.text == "BRION SAW"
    assert [(w["word"], w["start_frame"], w["end_frame"]) for w in c.words] == [("BRION", 0, 10), ("SAW", 14, 19)]
    assert c.words[0]["score"] == pytest.approx(0.5)


@pytest.mark.parametrize("lower", [False, True])
def test_equals_tokenizer_decode_on_random_sequences(tok, lower):
    tok.do_lower_case = lower
    try:
        v = Vocab.from_tokenizer(tok)
        rng = np.random.default_rng(1)
        V = len(v.tokens)
        # bias towards blanks, delimiters and repeats so every rule is exercised
        p = np.full(V, 1.0)
        p[tok.pad_token_id] = 12
        p[tok.convert_tokens_to_ids("|")] = 4
        p /= p.sum()
        for _ in range(600):
            n = int(rng.integers(0, 40))
            ids = rng.choice(V, size=n, p=p)
            ids = np.repeat(ids, rng.integers(1, 4, size=n)).tolist()  # repeats
            assert collapse(ids, v).text == tok.decode(ids), ids
    finally:
        tok.do_lower_case = False


def test_equals_batch_decode_on_model_outputs(any_loaded, short_audio, clip):
    for audio in (short_audio, clip):
        tr = trace_ctc(audio, any_loaded)
        ids = tr["ctc.frame_ids"]
        assert ids.tolist() == tr["ctc.logits"].argmax(-1).tolist()
        tok = any_loaded.processor.tokenizer
        assert tr.meta["text"] == tok.batch_decode(ids[None])[0] == any_loaded.processor.batch_decode(ids[None])[0]


def test_peaky_synthetic_logits_spell_the_text(w2v):
    from lab.ctc.synthetic import peaky_logits

    v = vocab_of(w2v)
    logits = peaky_logits("hello world, it's an error", v, 120)
    c = collapse(logits.argmax(-1).tolist(), v)
    assert c.text == "HELLO WORLD IT'S AN ERROR"
    assert c.strings()["naive_dedupe"].startswith("HELO|WORLD")
    assert torch.isfinite(logits).all()
