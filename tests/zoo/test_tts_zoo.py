"""The shipped ``tiny-speecht5-tts-en``: loads offline by id; on the committed Harvard-style test
sentences (never in its training texts) the stop token ends generation near the duration of the
training voice's own rendering (flite ``awb``) and the cross-attention is a diagonal (the issue's
goals, met) and Whisper tiny.en understands it: WER <= 0.30 on these 20 sentences (the issue's goal;
0.28 measured, the model card's Harvard-style figure)."""
import json
from pathlib import Path

import numpy as np
import pytest

from lab.models import resolve

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = ROOT / "assets" / "heldout" / "tiny-speecht5-tts-en" / "sentences.json"


@pytest.fixture(scope="module")
def scored():
    from lab.tts.speaker import load_speaker
    from training.zoo import tts_eval

    L = resolve("tiny-speecht5-tts-en")
    rows = json.loads(SENTENCES.read_text())
    speaker = load_speaker(ROOT / "lab" / "zoo" / "tiny-speecht5-tts-en" / "speaker.npy")[0]
    ev = tts_eval.evaluate(L.model, L.processor, speaker, [r["text"] for r in rows],
                           [r["reference_seconds"] for r in rows])
    return L, ev


@pytest.mark.real
def test_loads_offline_as_tts(scored):
    L, _ = scored
    assert L.family == "tts" and L.weights_source.startswith("zoo:")
    assert type(L.model).__name__ == "SpeechT5ForTextToSpeech"
    assert L.processor.text_frontend.voice == "awb"  # it reads flite awb's phones (lab.tts.phones)


@pytest.mark.real
def test_whisper_understands_unseen_sentences(scored):
    _, ev = scored
    # the goal; measured 0.28 (the flite voice's own audio through the same Griffin-Lim path:
    # 0.11); the model reading letters scored 0.91, an untrained model >= 1
    assert ev["wer"] <= 0.30, [(i["text"], i["heard"]) for i in ev["items"]]


@pytest.mark.real
def test_stop_token_ends_near_reference_duration(scored):
    _, ev = scored
    assert all(i["stop_reason"] == "threshold" for i in ev["items"])
    ratios = np.array([i["duration_ratio"] for i in ev["items"]])
    # the goal: within 15 % of the voice's own duration -- measured for all 20 (largest
    # deviation 13.9 %); the untrained model runs to the length limit instead
    assert np.all(np.abs(ratios - 1) <= 0.15), ratios


@pytest.mark.real
def test_cross_attention_is_diagonal(scored):
    _, ev = scored
    # 1 = every step's attention on the diagonal; a uniform (untrained) map scores about 0.42
    assert ev["diagonality_best_head"] >= 0.9, ev["diagonality"]
