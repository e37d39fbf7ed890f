"""Griffin-Lim inverts SpeechT5's own log-mel; HiFi-GAN plumbing; bad spectrograms."""
import numpy as np
import pytest
import torch

from lab.audio import load_audio
from lab.errors import LabError
from lab.tts.vocoder import MelParams, griffin_lim, hifigan, mel_to_magnitude, vocode


@pytest.fixture(scope="module")
def fe():
    from transformers import SpeechT5FeatureExtractor

    return SpeechT5FeatureExtractor()


def test_params_match_feature_extractor(fe, tts):
    p = MelParams.from_processor(tts.processor)
    assert p == MelParams()  # SpeechT5's: 16 kHz, n_fft 1024, hop 256, win 1024, 80 bins 80-7600 Hz
    assert p.frames_per_second == 62.5
    assert np.allclose(p.mel_basis(), fe.mel_filters.T, atol=1e-7)


def test_griffin_lim_round_trip(fe, clips_dir):
    """Speech -> SpeechT5 log-mel -> Griffin-Lim -> log-mel again: the same spectrogram."""
    wav = load_audio(clips_dir / "quick_brown_fox.wav").samples
    mel = fe(audio_target=wav, sampling_rate=16000, return_tensors="np")["input_values"][0]
    out = griffin_lim(mel)
    assert out.shape == (mel.shape[0] * 256,) and out.dtype == np.float32
    mel2 = fe(audio_target=out, sampling_rate=16000, return_tensors="np")["input_values"][0]
    n = min(len(mel), len(mel2))
    loud = mel[:n] > mel[:n].max() - 3  # the 30 dB that carry the speech
    assert np.abs(mel[:n] - mel2[:n])[loud].mean() < 0.15
    assert np.corrcoef(mel[:n].ravel(), mel2[:n].ravel())[0, 1] > 0.98


def test_mel_to_magnitude_fits_nonnegative():
    basis = MelParams().mel_basis()
    rng = np.random.default_rng(0)
    s_true = rng.random((basis.shape[1], 20)).astype(np.float32)
    s = mel_to_magnitude(basis @ s_true, basis)
    assert (s >= 0).all()
    assert np.abs(basis @ s - basis @ s_true).mean() < 0.01 * np.abs(basis @ s_true).mean()


@pytest.mark.parametrize("mel, msg", [
    (np.zeros((0, 80)), "no frames"), (np.full((3, 80), np.nan), "NaN"),
    (np.zeros((3, 40)), "40 mel bins"), (np.zeros(80), "mel_frame, mel_bin"),
])
def test_bad_spectrograms(mel, msg):
    with pytest.raises(LabError, match=msg):
        griffin_lim(mel)


def test_hifigan_and_its_checks(hifigan_dir):
    from lab.models import resolve

    voc = resolve(str(hifigan_dir), family="vocoder")
    mel = torch.randn(7, 80) * 0.3
    out = vocode(mel, MelParams(), voc)
    assert out.name == "hifigan" and out.waveform.shape == (7 * 256,) and out.sample_rate == 16000
    with pytest.raises(LabError, match="HiFi-GAN expects 80"):
        hifigan(np.zeros((3, 40), np.float32), voc)


def test_unavailable_hifigan(tmp_path):
    with pytest.raises(LabError, match="not available|not found|no config|directory"):
        vocode(np.zeros((3, 80), np.float32), MelParams(), "hifigan")
    out = vocode(np.zeros((3, 80), np.float32), MelParams(), "auto")
    assert out.name == "griffin-lim" and "HiFi-GAN not available" in out.note
