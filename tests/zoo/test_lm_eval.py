"""Greedy vs KenLM beam search on the zoo's CTC models (training.zoo.lm_eval)."""
import pytest

from lab.audio import load_audio
from lab.ctc.capture import vocab_of
from lab.models import resolve
from training.zoo import data, lm_eval


def test_lm_texts_are_training_texts_only():
    texts = set(lm_eval.training_texts(2000))
    held = [data.spec("heldout", i, 0).text for i in range(300)]
    assert len(texts) > 1900
    assert not [t for t in held if t in texts]  # the LM never saw a held-out sentence


# measured on the 20 committed clips (greedy -> beam + LM): whisper-tiny.en-ctc 0.227 -> 0.128,
# tiny-wav2vec2-ctc-en 0.339 -> 0.260 (on 300 held-out clips: 0.141 -> 0.076, 0.286 -> 0.189);
# the guards sit just above
@pytest.mark.real
@pytest.mark.parametrize("model_id,guard", [("whisper-tiny.en-ctc", 0.16),
                                            ("tiny-wav2vec2-ctc-en", 0.29)])
def test_lm_beam_search_beats_greedy(heldout_speech, model_id, guard):
    L = resolve(model_id)
    vocab = vocab_of(L)
    lps = lm_eval.log_probs(L, [load_audio(p).samples for p, _ in heldout_speech])
    res = lm_eval.score(lps, [t for _, t in heldout_speech], vocab, lm_eval.training_lm(vocab))
    assert res["beam_lm"]["cer"] <= guard, res
    assert res["beam_lm"]["cer"] < res["greedy"]["cer"] - 0.03, res
    assert res["settings"]["lm_order"] == 2 and res["settings"]["lm_sentences"] == lm_eval.LM_TEXTS
