"""The lab's Whisper judges how understandable audio is (WER vs the text)."""
import numpy as np
import pytest

from lab.audio import load_audio
from lab.errors import LabError
from lab.tts.intelligibility import check
from lab.tts.vocoder import griffin_lim

FOX = "The quick brown fox jumps over the lazy dog."


@pytest.mark.real
def test_griffin_lim_speech_is_understood(clips_dir):
    """espeak-ng speech -> SpeechT5's log-mel -> Griffin-Lim -> Whisper tiny.en: still understood
    (measured: 'the quick brown fox dump over the lazy nog.', WER 0.22)."""
    from transformers import SpeechT5FeatureExtractor

    wav = load_audio(clips_dir / "quick_brown_fox.wav").samples
    mel = SpeechT5FeatureExtractor()(audio_target=wav, sampling_rate=16000,
                                     return_tensors="np")["input_values"][0]
    r = check(griffin_lim(mel), 16000, FOX)
    assert r["whisper_model"] == "whisper-tiny.en"
    assert r["wer"] <= 0.34, r["hypothesis"]
    assert r["reference"] == FOX and r["hits"] >= 6


@pytest.mark.real
def test_noise_is_not_understood():
    noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    r = check(noise, 16000, FOX)
    assert r["wer"] >= 0.9


def test_empty_audio_is_a_message():
    with pytest.raises(LabError, match="no audio"):
        check(np.zeros(0, np.float32), 16000, FOX, whisper=object())
