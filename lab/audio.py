"""Audio in: a file path, bytes or an array -> mono float32 at the model's sample rate.

Every problem a user can cause (unreadable file, empty, silent, NaN/inf, over-long, stereo at
the wrong rate is *fixed*, not rejected) raises :class:`lab.errors.LabError` whose message names
the problem. Nothing is silently truncated: over-long input is an error unless the caller raises
``max_seconds``.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
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


QUIET_DECODERS = False  # lab.cli sets it for one (single-threaded) CLI call; apps leave it off


@contextlib.contextmanager
def _decoder_output():
    """While :data:`QUIET_DECODERS` is on, file descriptor 2 goes to /dev/null: C decoders
    (libsndfile's mpg123: "Note: Illegal Audio-MPEG-Header ...") write there directly, past
    ``sys.stderr``, and a failed decode already gets its own LabError. Off (the default) in
    servers and notebooks, where other threads share the descriptor."""
    if not QUIET_DECODERS:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _looks_like_text(path: Path, n: int = 1024) -> bool:
    """True when the first ``n`` bytes are UTF-8 text (printable or whitespace, no NUL): every
    audio container starts with binary header bytes, so such a file is text named like audio."""
    with path.open("rb") as f:
        head = f.read(n)
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the window
            return False
        text = head[: exc.start].decode("utf-8")
    return bool(text) and all(c.isprintable() or c in "\t\n\r\f" for c in text)


def wav_truncation(head: bytes, size: int) -> tuple[float, float] | None:
    """(declared s, present s) when ``head`` (the first bytes of a file of ``size`` bytes) is a
    RIFF/WAVE header whose data chunk promises more bytes than the file holds; else None.
    libsndfile reads such a file without complaint, returning only the samples present."""
    import struct

    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, rate_bytes = 12, None
    while pos + 8 <= len(head):
        cid, n = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if cid == b"fmt " and pos + 20 <= len(head):
            rate_bytes = struct.unpack("<I", head[pos + 16:pos + 20])[0]  # byte rate
        if cid == b"data":
            present = size - (pos + 8)
            if n in (0, 0xFFFFFFFF) or n <= present or not rate_bytes:  # streamed/placeholder
                return None
            return n / rate_bytes, max(present, 0) / rate_bytes
        pos += 8 + n + (n & 1)
    return None


def _check_complete(head: bytes, size: int, name: str) -> None:
    cut = wav_truncation(head, size)
    if cut is not None:
        raise LabError(f"{name} is truncated: its WAV header promises {cut[0]:.3g} s of audio, the "
                       f"file holds {cut[1]:.3g} s (an interrupted copy or download?)")


def _read(source) -> tuple[np.ndarray, int, str]:
    """Decode ``source`` to (array (n,) or (n, channels), rate, description)."""
    import soundfile as sf

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise LabError(f"{path.name or path} is a directory, not an audio file")
        if not path.is_file():
            raise LabError(f"audio file not found: {path}")
        if path.stat().st_size == 0:
            raise LabError(f"audio file is empty (0 bytes): {path.name}")
        if _looks_like_text(path):  # before the decoders: mpg123 prints "Illegal Audio-MPEG-Header"
            raise LabError(f"could not read {path.name} as audio: it is a text file, not a "
                           "wav/flac/ogg/mp3 file")
        with open(path, "rb") as f:
            _check_complete(f.read(4096), path.stat().st_size, path.name)
        try:
            with _decoder_output():
                data, rate = sf.read(str(path), dtype="float32", always_2d=False)
            return data, rate, path.name
        except Exception:
            pass
        try:  # mp3/m4a and anything else: librosa (audioread / ffmpeg)
            import librosa

            with warnings.catch_warnings(), _decoder_output():  # "PySoundFile failed. Trying
                warnings.simplefilter("ignore")  # audioread instead": we know, we did
                data, rate = librosa.load(str(path), sr=None, mono=False)
            data = data.T if data.ndim == 2 else data
            return np.asarray(data, dtype=np.float32), int(rate), path.name
        except Exception as exc:
            raise LabError(
                f"could not read {path.name} as audio: not a wav/flac/ogg/mp3 file, or truncated "
                f"or corrupt ({type(exc).__name__})"
            ) from None
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise LabError("audio is empty (0 bytes)")
        _check_complete(bytes(source[:4096]), len(source), "the audio")
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
        frames_first = False  # an array's layout is guessed: channels are the short axis
    else:
        data, rate, name = _read(source)
        frames_first = True  # decoders give (frame, channel): a 5-frame 6-channel file is 5 samples

    if data.dtype.kind in "iu":  # integer PCM (Gradio microphone gives int16)
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        if not frames_first and data.shape[0] < data.shape[1] and data.shape[0] <= 8:
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


# -- minimum lengths ---------------------------------------------------------------------------
def conv_min_length(kernels, strides, paddings=None, *, frames: int = 1) -> int:
    """Smallest input length (in input steps) a stack of 1-D convolutions turns into ``frames``
    output frames: inverting ``out = (n + 2p - k) // s + 1`` layer by layer from the last,
    ``n = (out - 1) * s + k - 2p`` (at least 1). wav2vec2's kernels 10,3,3,3,3,2,2 and strides
    5,2,2,2,2,2,2 give 400 samples (its 25 ms receptive field)."""
    kernels, strides = list(kernels), list(strides)
    paddings = list(paddings) if paddings is not None else [0] * len(kernels)
    n = int(frames)
    for k, s, p in reversed(list(zip(kernels, strides, paddings))):
        n = max(1, (n - 1) * int(s) + int(k) - 2 * int(p))
    return n


def require_samples(n: int, sample_rate: int, minimum: int, who: str, why: str = "") -> None:
    """LabError when a clip of ``n`` samples at ``sample_rate`` Hz is shorter than ``minimum``
    samples, stating both lengths in ms and samples: ``who`` (the model or family) and ``why``
    (what needs that many) go in the message. Call it before the model runs: a too-short clip
    otherwise ends in a torch shape error."""
    n, sr = int(n), int(sample_rate)
    if n >= minimum:
        return
    raise LabError(
        f"audio is too short: {1000 * n / sr:.1f} ms ({n} sample{'s' * (n != 1)} at {sr} Hz); "
        f"{who} needs at "
        f"least {1000 * minimum / sr:.1f} ms ({minimum} samples)" + (f": {why}" if why else ""))
