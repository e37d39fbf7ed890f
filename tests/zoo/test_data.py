"""The zoo's speech synthesis recipe: deterministic, diverse, held-out voices/sentences kept apart."""
import numpy as np

from training.zoo import data
from training.zoo.common import VOCAB, encode_text, greedy_decode


def test_spec_is_a_pure_function_of_split_index_seed():
    assert data.spec("train", 7, 0) == data.spec("train", 7, 0)
    assert data.spec("train", 7, 0) != data.spec("train", 8, 0)
    assert data.spec("train", 7, 0) != data.spec("train", 7, 1)


def test_heldout_voices_and_sentences_never_in_training():
    tr_esp, tr_fl = data.voices("train")
    he_esp, _ = data.voices("heldout")
    _, fl = data.voices("flite")
    assert not set(tr_esp) & set(he_esp) and not set(tr_fl) & set(fl)
    tr_var = {v.split("+")[1] for v in tr_esp if "+" in v}
    assert not tr_var & {v.split("+")[1] for v in he_esp}
    train_texts = {data.spec("train", i).text for i in range(2000)}
    assert not train_texts & {data.spec("heldout", i).text for i in range(300)}


def test_text_is_diverse_plain_lowercase():
    ws = data.words()
    assert len(ws) > 10000 and all(w.isalpha() and w.islower() for w in ws)
    texts = [data.spec("train", i).text for i in range(300)]
    assert len({w for t in texts for w in t.split()}) > 500
    assert all(set(t) <= set(VOCAB) | {" "} for t in texts)


def test_synthesis_is_deterministic_16k():
    s = data.spec("train", 3)
    a, b = data.synthesize(s), data.synthesize(s)
    assert a.dtype == np.float32 and np.array_equal(a, b)
    assert 0.3 < len(a) / data.SAMPLE_RATE < 10 and np.abs(a).max() <= 1


def test_text_codec_roundtrip():
    ids = encode_text("two words")
    frames = [0] + [i for t in ids for i in (t, t, 0)]
    assert greedy_decode(frames) == "two words"
