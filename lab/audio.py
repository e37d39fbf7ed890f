"""Audio in: a file path, bytes or an array -> mono float32 at the model's sample rate.

Every problem a user can cause (unreadable file, empty, silent, NaN/inf, over-long, stereo at
the wrong rate is *fixed*, not rejected) raises :class:`lab.errors.LabError` whose message names
the problem. Nothing is silently truncated: over-long input is an error unless the caller raises
``max_seconds``.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import LabError

SAMPLE_RATE = 16000  # Hz: the rate of Whisper, wav2vec2-style encoders, AST and SpeechT5
DEFAULT_MAX_SECONDS = 600.0
SILENCE_PEAK = 1e-4  # peak |amplitude| below this (about -80 dBFS) counts as silence


@dataclass
class Audio:
    """A validated clip.

    ``samples``: float32, shape ``(n_samples,)``, mono, in [-1, 1] for file input.
    ``sample_rate``: samples per second of ``samples``.
    ``notes``: what was done to the input (resampled, down-mixed ...), for display.
    """

    samples: np.ndarray
    sample_rate: int
    source: str = "array"
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def _read(source) -> tuple[np.ndarray, int, str]:
    """Decode ``source`` to (array (n,) or (n, channels), rate, description)."""
    import soundfile as sf

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise LabError(f"audio file not found: {path}")
        if path.stat().st_size == 0:
            raise LabError(f"audio file is empty (0 bytes): {path.name}")
        try:
            data, rate = sf.read(str(path), dtype="float32", always_2d=False)
            return data, rate, path.name
        except Exception:
            pass
        try:  # mp3/m4a and anything else: librosa (audioread / ffmpeg)
            import librosa

            data, rate = librosa.load(str(path), sr=None, mono=False)
            data = data.T if data.ndim == 2 else data
            return np.asarray(data, dtype=np.float32), int(rate), path.name
        except Exception as exc:
            raise LabError(
                f"could not read {path.name} as audio (is it a wav/flac/ogg/mp3 file?): "
                f"{type(exc).__name__}"
            ) from None
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise LabError("audio is empty (0 bytes)")
        try:
            data, rate = sf.read(io.BytesIO(source), dtype="float32", always_2d=False)
            return data, rate, "bytes"
        except Exception as exc:
            raise LabError(f"could not decode the audio bytes: {type(exc).__name__}") from None
    raise LabError(f"unsupported audio input type {type(source).__name__}")


def load_audio(
    source,
    sample_rate: int = SAMPLE_RATE,
    *,
    source_rate: int | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    allow_silence: bool = False,
) -> Audio:
    """Load and validate audio, returning mono float32 at ``sample_rate`` Hz.

    ``source``: a path (wav, flac, ogg, mp3), raw file bytes, a ``(rate, array)`` tuple as Gradio
    gives, or a numpy array / torch tensor with ``source_rate`` (channels first or last).
    """
    notes: list[str] = []
    if isinstance(source, tuple) and len(source) == 2 and np.isscalar(source[0]):
        source_rate, source = int(source[0]), source[1]
    if hasattr(source, "detach"):
        source = source.detach().cpu().numpy()
    if isinstance(source, np.ndarray) or isinstance(source, list):
        data = np.asarray(source)
        if source_rate is None:
            raise LabError("an audio array needs its sample rate (source_rate=...)")
        rate, name = int(source_rate), "array"
    else:
        data, rate, name = _read(source)

    if data.dtype.kind in "iu":  # integer PCM (Gradio microphone gives int16)
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        # channels are the short axis
        if data.shape[0] < data.shape[1] and data.shape[0] <= 8:
            data = data.T
        if data.shape[1] > 1:
            notes.append(f"down-mixed {data.shape[1]} channels to mono")
        data = data.mean(axis=1)
    elif data.ndim != 1:
        raise LabError(f"audio must be 1-D (mono) or 2-D (channels), got shape {data.shape}")
    if data.size == 0:
        raise LabError(f"audio is empty: {name} has no samples")
    bad = ~np.isfinite(data)
    if bad.any():
        raise LabError(
            f"audio contains {int(bad.sum())} NaN/inf samples ({name}); the clip is corrupt"
        )
    if rate <= 0:
        raise LabError(f"invalid sample rate {rate}")
    seconds = data.size / rate
    if max_seconds is not None and seconds > max_seconds:
        raise LabError(
            f"audio is {seconds:.1f} s long, over the {max_seconds:.0f} s limit; "
            "trim it or raise the limit (nothing is truncated silently)"
        )
    peak = float(np.abs(data).max())
    if peak < SILENCE_PEAK and not allow_silence:
        raise LabError(f"audio is silent (peak amplitude {peak:.1e}); there is nothing to hear")
    if rate != sample_rate:
        import librosa

        data = librosa.resample(data, orig_sr=rate, target_sr=sample_rate).astype(np.float32)
        notes.append(f"resampled {rate} Hz -> {sample_rate} Hz")
    if peak > 1.0:
        notes.append(f"peak amplitude {peak:.2f} > 1 (clipped or unnormalized input)")
    return Audio(samples=data, sample_rate=sample_rate, source=name, notes=notes)
