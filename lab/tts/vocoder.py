"""Vocoders: SpeechT5's log10-mel spectrogram -> waveform.

- HiFi-GAN (``SpeechT5HifiGan``, ``microsoft/speecht5_hifigan``) through the lab's resolver,
  when it is available here (HF cache, hub, a local directory);
- Griffin-Lim (librosa), which always works offline: undo the log10, invert the mel filter bank
  to a magnitude spectrogram (non-negative least squares by Lee-Seung multiplicative updates,
  30 iterations: on this machine 10-20x faster than ``librosa.util.nnls`` with an equal or lower
  round-trip error), then estimate the phase with ``librosa.griffinlim``.

SpeechT5's mel (``SpeechT5FeatureExtractor``): 16 kHz, window 64 ms = 1024 samples (Hann,
periodic), hop 16 ms = 256 samples (62.5 frames/s), n_fft 1024, 80 Slaney mel bins from 80 to
7600 Hz, magnitude (power 1), ``log10(max(mel, 1e-10))``. :class:`MelParams` reads them from the
processor, so a model with other settings is inverted with its own.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from lab.errors import LabError

from .constants import SAMPLE_RATE

GRIFFIN_LIM = "griffin-lim"
HIFIGAN = "hifigan"
HIFIGAN_ID = "microsoft/speecht5_hifigan"


@dataclass(frozen=True)
class MelParams:
    sample_rate: int = SAMPLE_RATE
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 80.0
    fmax: float = 7600.0
    mel_floor: float = 1e-10

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    @classmethod
    def from_processor(cls, processor) -> "MelParams":
        """Read the feature extractor's settings (defaults when there is none)."""
        fe = getattr(processor, "feature_extractor", None)
        if fe is None or not hasattr(fe, "sample_stride"):
            return cls()
        return cls(sample_rate=int(fe.sampling_rate), n_fft=int(fe.n_fft),
                   hop_length=int(fe.sample_stride), win_length=int(fe.sample_size),
                   n_mels=int(fe.num_mel_bins), fmin=float(fe.fmin), fmax=float(fe.fmax),
                   mel_floor=float(fe.mel_floor))

    def mel_basis(self) -> np.ndarray:
        """(n_mels, n_fft // 2 + 1) Slaney filters, as transformers' ``mel_filter_bank``."""
        from transformers.audio_utils import mel_filter_bank

        return mel_filter_bank(num_frequency_bins=self.n_fft // 2 + 1, num_mel_filters=self.n_mels,
                               min_frequency=self.fmin, max_frequency=self.fmax,
                               sampling_rate=self.sample_rate, norm="slaney",
                               mel_scale="slaney").T.astype(np.float32)


@dataclass
class VocoderOut:
    """``waveform``: float32 (sample,); ``name``: ``"hifigan"`` or ``"griffin-lim"``;
    ``source``: where the vocoder came from; ``note``: why a fallback was used (or "")."""

    waveform: np.ndarray
    sample_rate: int
    name: str
    source: str
    note: str = ""


def _log_mel_array(log_mel) -> np.ndarray:
    if hasattr(log_mel, "detach"):
        log_mel = log_mel.detach().float().cpu().numpy()
    m = np.asarray(log_mel, dtype=np.float32)
    if m.ndim != 2:
        raise LabError(f"a log-mel spectrogram must be (mel_frame, mel_bin), got shape {m.shape}")
    if m.shape[0] == 0:
        raise LabError("the spectrogram has no frames: nothing to vocode")
    if not np.isfinite(m).all():
        raise LabError("the spectrogram contains NaN/inf values")
    return m


def mel_to_magnitude(mel: np.ndarray, basis: np.ndarray, n_iter: int = 30) -> np.ndarray:
    """Non-negative ``S`` (freq, frame) with ``basis @ S ~ mel`` (mel_bin, frame): least squares
    by multiplicative updates (Lee & Seung 2001), started from ``basis.T @ mel``."""
    eps = 1e-12
    btm = basis.T @ mel
    btb = basis.T @ basis
    s = np.maximum(btm, eps)
    for _ in range(n_iter):
        s *= btm / (btb @ s + eps)
    return s


def griffin_lim(log_mel, params: MelParams = MelParams(), *, n_iter: int = 32,
                random_state: int = 0) -> np.ndarray:
    """Waveform (float32, ``frames * hop`` samples) from a (mel_frame, mel_bin) log10-mel."""
    import librosa

    m = _log_mel_array(log_mel)
    if m.shape[1] != params.n_mels:
        raise LabError(f"spectrogram has {m.shape[1]} mel bins, the vocoder expects {params.n_mels}")
    mel = np.power(10.0, np.clip(m, -12.0, 6.0)).T  # (mel_bin, frame) magnitudes
    mag = mel_to_magnitude(mel, params.mel_basis())  # (freq, frame)
    with warnings.catch_warnings():  # a few frames only: librosa warns n_fft > signal length
        warnings.filterwarnings("ignore", message="n_fft=.*too large", category=UserWarning)
        wav = librosa.griffinlim(mag, n_iter=n_iter, hop_length=params.hop_length,
                                 win_length=params.win_length, n_fft=params.n_fft, window="hann",
                                 center=True, random_state=random_state)
    # centred frames: istft gives hop * (frames - 1) samples; pad to frames * hop like HiFi-GAN
    wav = np.pad(wav, (0, m.shape[0] * params.hop_length - len(wav)))
    return np.asarray(wav, dtype=np.float32)


def load_hifigan(model_id: str = HIFIGAN_ID):
    """The HiFi-GAN vocoder as a ``lab.models.Loaded`` (LabError when it is not available)."""
    from lab.models import load_cached

    return load_cached(model_id, family="vocoder")  # "eager": SpeechT5HifiGan refuses sdpa


def hifigan(log_mel, loaded) -> np.ndarray:
    """Waveform from SpeechT5HifiGan (``loaded``: a Loaded or the module)."""
    import torch

    model = getattr(loaded, "model", loaded)
    m = _log_mel_array(log_mel)
    if m.shape[1] != model.config.model_in_dim:
        raise LabError(f"spectrogram has {m.shape[1]} mel bins, the HiFi-GAN expects "
                       f"{model.config.model_in_dim}")
    dev = next(model.parameters()).device
    with torch.no_grad():
        wav = model(torch.from_numpy(m).to(dev))
    return wav.float().cpu().numpy().astype(np.float32)


def vocode(log_mel, params: MelParams = MelParams(), vocoder="auto", *,
           hifigan_id: str = HIFIGAN_ID) -> VocoderOut:
    """Turn a log-mel into audio.

    ``vocoder``: ``"auto"`` (HiFi-GAN when available, else Griffin-Lim with a note saying why),
    ``"hifigan"`` (LabError when unavailable), ``"griffin-lim"``, a model id / directory of a
    SpeechT5HifiGan, or a loaded one (``lab.models.Loaded``).
    """
    if vocoder == GRIFFIN_LIM:
        return VocoderOut(griffin_lim(log_mel, params), params.sample_rate, GRIFFIN_LIM,
                          "librosa Griffin-Lim (32 iterations)")
    if vocoder in ("auto", HIFIGAN) or isinstance(vocoder, str):
        vid = hifigan_id if vocoder in ("auto", HIFIGAN) else vocoder
        try:
            loaded = load_hifigan(vid)
        except LabError as exc:
            if vocoder != "auto":
                raise
            out = vocode(log_mel, params, GRIFFIN_LIM)
            out.note = f"HiFi-GAN not available here ({exc}); used Griffin-Lim"
            return out
    else:
        loaded = vocoder
    rate = int(getattr(getattr(loaded, "model", loaded).config, "sampling_rate", params.sample_rate))
    return VocoderOut(hifigan(log_mel, loaded), rate, HIFIGAN,
                      getattr(loaded, "weights_source", type(loaded).__name__))
