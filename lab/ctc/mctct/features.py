"""``MCTCTFeatureExtractor``: the log-mel filterbank (MFSC) features M-CTC-T was trained on.

Per waveform (float, 16 kHz, mono), following Flashlight's MFSC recipe as transformers 4.x did:

1. scale to 16-bit range (x 32768);
2. cut frames of 25 ms (400 samples) every 10 ms (160 samples), no centring/padding, so a clip
   of N samples gives ``1 + (N - 400) // 160`` frames (100 frames per second);
3. in each frame: pre-emphasis ``y[t] = x[t] - 0.97 x[t-1]`` and ``y[0] = 0.03 x[0]``, a
   symmetric Hamming window, zero-padding to 512 samples, a real FFT, magnitude (not power);
4. 80 triangular HTK-mel filters from 0 Hz to 8 kHz (unnormalised), floor at 1.0, natural log;
5. per utterance and per mel bin: subtract the mean and divide by the (population) standard
   deviation over the utterance's real frames; padded frames are set to ``padding_value``.

Output ``input_features``: float32 ``(batch, frames, 80)``; ``attention_mask``: int32
``(batch, frames)``, 1 on real frames. The spectrum is rounded to complex64 before the
magnitude, as the 4.x code did, so the numbers match it to float32 precision.
"""
from __future__ import annotations

import numpy as np
from transformers import BatchFeature, SequenceFeatureExtractor

from ...errors import LabError


class MCTCTFeatureExtractor(SequenceFeatureExtractor):
    """Reads/writes ``preprocessor_config.json`` with the 4.x keys (``from_pretrained`` /
    ``save_pretrained`` come from the HF base class, as does ``pad``).

    ``hop_length`` and ``win_length`` are in milliseconds.
    """

    model_input_names = ["input_features", "attention_mask"]

    def __init__(self, feature_size=80, sampling_rate=16000, padding_value=0.0, hop_length=10,
                 win_length=25, win_function="hamming_window", frame_signal_scale=32768.0,
                 preemphasis_coeff=0.97, mel_floor=1.0, normalize_means=True, normalize_vars=True,
                 return_attention_mask=False, **kwargs):
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate,
                         padding_value=padding_value, **kwargs)
        self.hop_length = hop_length
        self.win_length = win_length
        self.win_function = win_function
        self.frame_signal_scale = frame_signal_scale
        self.preemphasis_coeff = preemphasis_coeff
        self.mel_floor = mel_floor
        self.normalize_means = normalize_means
        self.normalize_vars = normalize_vars
        self.return_attention_mask = return_attention_mask
        self.sample_size = win_length * sampling_rate // 1000  # samples per frame (400)
        self.sample_stride = hop_length * sampling_rate // 1000  # samples per hop (160)
        self.n_fft = 1 << int(np.ceil(np.log2(self.sample_size)))  # next power of two (512)
        self.n_freqs = self.n_fft // 2 + 1

    # -- the pieces, each usable on its own (the lab shows them) -------------------------------
    def window(self) -> np.ndarray:
        """The analysis window, float64 ``(sample_size,)``."""
        name = self.win_function.removesuffix("_window")
        if name == "hamming":  # symmetric, as Flashlight
            return np.hamming(self.sample_size)
        if name == "hann":  # periodic
            return np.hanning(self.sample_size + 1)[:-1]
        if name == "povey":
            return np.hanning(self.sample_size + 1)[:-1] ** 0.85
        if name == "boxcar":
            return np.ones(self.sample_size)
        raise LabError(f"unknown window function {self.win_function!r}")

    def mel_filters(self) -> np.ndarray:
        """Triangular HTK-mel filters, float64 ``(n_freqs, feature_size)`` (no area norm)."""
        import librosa

        fb = librosa.filters.mel(sr=self.sampling_rate, n_fft=self.n_fft, n_mels=self.feature_size,
                                 fmin=0.0, fmax=self.sampling_rate / 2.0, htk=True, norm=None,
                                 dtype=np.float64)
        return fb.T

    def num_frames(self, num_samples: int) -> int:
        """Frames for a clip of ``num_samples`` samples (0 when shorter than one window)."""
        return max(0, 1 + (int(num_samples) - self.sample_size) // self.sample_stride)

    def frames(self, waveform: np.ndarray) -> np.ndarray:
        """Scaled, pre-emphasised, windowed frames, float64 ``(frames, sample_size)``."""
        x = np.asarray(waveform, dtype=np.float32) * np.float32(self.frame_signal_scale)
        n = self.num_frames(x.shape[0])
        if n == 0:
            raise LabError(f"audio too short for M-CTC-T features: {x.shape[0]} samples, one frame "
                           f"needs {self.sample_size} ({self.win_length} ms)")
        idx = np.arange(self.sample_size)[None, :] + self.sample_stride * np.arange(n)[:, None]
        fr = x.astype(np.float64)[idx]
        a = self.preemphasis_coeff
        fr = np.concatenate([fr[:, :1] * (1.0 - a), fr[:, 1:] - a * fr[:, :-1]], axis=1)
        return fr * self.window()[None, :]

    def log_mel(self, waveform: np.ndarray) -> np.ndarray:
        """Un-normalised log-mel features, float32 ``(frames, feature_size)``."""
        spec = np.fft.rfft(self.frames(waveform), n=self.n_fft, axis=1)
        mag = np.abs(spec.astype(np.complex64), dtype=np.float64)  # (frames, n_freqs)
        mel = np.maximum(self.mel_floor, mag @ self.mel_filters())
        return np.log(mel).astype(np.float32)

    def normalize_one(self, feats: np.ndarray, length: int) -> np.ndarray:
        """Utterance mean/variance normalisation over the first ``length`` frames, float32."""
        x = feats
        if self.normalize_means:
            x = x - x[:length].mean(axis=0)
        if self.normalize_vars:
            x = x / x[:length].std(axis=0)
        x = np.array(x, dtype=np.float32)
        x[length:] = self.padding_value
        return x

    # -- the HF call -----------------------------------------------------------------------------
    def __call__(self, raw_speech, padding=False, max_length=None, truncation=False,
                 pad_to_multiple_of=None, return_attention_mask=None, return_tensors=None,
                 sampling_rate=None, **kwargs) -> BatchFeature:
        """Features for one waveform or a batch (list or 2-D array) of waveforms.

        ``padding`` as in HF (False / True or "longest" / "max_length"); the attention mask is
        always returned. Normalisation statistics use only the real frames when padding is on.
        """
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise LabError(f"M-CTC-T features need {self.sampling_rate} Hz audio, got "
                           f"{sampling_rate} Hz: resample first (lab.audio.load_audio does)")
        if isinstance(raw_speech, np.ndarray) and raw_speech.ndim > 2:
            raise LabError(f"M-CTC-T features need mono audio, got an array of shape "
                           f"{raw_speech.shape}")
        batched = (isinstance(raw_speech, np.ndarray) and raw_speech.ndim == 2) or (
            isinstance(raw_speech, (list, tuple)) and len(raw_speech) > 0
            and isinstance(raw_speech[0], (np.ndarray, list, tuple)))
        if hasattr(raw_speech, "detach"):  # torch tensor
            raw_speech = raw_speech.detach().cpu().numpy()
            batched = raw_speech.ndim == 2
        waves = [np.asarray(w, dtype=np.float32) for w in raw_speech] if batched else \
            [np.asarray(raw_speech, dtype=np.float32)]
        feats = [self.log_mel(w) for w in waves]

        padded = self.pad(BatchFeature({"input_features": feats}), padding=padding,
                          max_length=max_length, truncation=truncation,
                          pad_to_multiple_of=pad_to_multiple_of, return_attention_mask=True)
        feats = [np.asarray(f, dtype=np.float32) for f in padded["input_features"]]
        mask = [np.asarray(m, dtype=np.int32) for m in padded["attention_mask"]]
        if self.normalize_means or self.normalize_vars:
            # lengths from the mask only when padding was applied (as transformers 4.x)
            use_mask = bool(padding) and padding != "do_not_pad"
            lengths = [int(m.sum()) if use_mask else f.shape[0] for f, m in zip(feats, mask)]
            feats = [self.normalize_one(f, n) for f, n in zip(feats, lengths)]
        out = BatchFeature({"input_features": feats, "attention_mask": mask})
        return out.convert_to_tensors(return_tensors) if return_tensors is not None else out
