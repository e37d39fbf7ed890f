"""lab.audio: every bad input raises LabError naming the problem; good input comes out mono
float32 at the requested rate, nothing truncated."""
import numpy as np
import pytest
import soundfile as sf

from lab.audio import load_audio
from lab.errors import LabError

SR = 16000


def tone(seconds=1.0, sr=SR, f=440.0):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_array_roundtrip_keeps_length():
    a = load_audio(tone(2.0), source_rate=SR)
    assert a.samples.dtype == np.float32 and a.samples.shape == (2 * SR,)
    assert a.sample_rate == SR and a.notes == []


def test_stereo_is_downmixed_and_resampled(tmp_path):
    x = np.stack([tone(1.0, 44100), tone(1.0, 44100, 220)], axis=1)
    p = tmp_path / "st.wav"
    sf.write(p, x, 44100)
    a = load_audio(p)
    assert a.samples.ndim == 1 and abs(len(a.samples) - SR) <= 1
    assert any("down-mixed 2 channels" in n for n in a.notes)
    assert any("resampled 44100 Hz -> 16000 Hz" in n for n in a.notes)


def test_channels_first_array():
    x = np.stack([tone(), tone()])  # (2, n)
    assert load_audio(x, source_rate=SR).samples.shape == (SR,)


def test_int16_gradio_tuple():
    x = (tone() * 32767).astype(np.int16)
    a = load_audio((SR, x))
    assert np.abs(a.samples).max() == pytest.approx(0.3, abs=1e-3)


@pytest.mark.parametrize("data,match", [
    (np.zeros(0, np.float32), "empty"),
    (np.zeros(SR, np.float32), "silent"),
    (np.array([0.1, np.nan, 0.2] * 100, np.float32), "NaN"),
    (np.array([0.1, np.inf] * 100, np.float32), "NaN/inf"),
])
def test_bad_arrays(data, match):
    with pytest.raises(LabError, match=match):
        load_audio(data, source_rate=SR)


def test_too_long_is_an_error_not_a_truncation():
    with pytest.raises(LabError, match="over the 1 s limit"):
        load_audio(tone(2.0), source_rate=SR, max_seconds=1)


def test_corrupt_empty_missing_files(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(LabError, match="could not read bad.wav"):
        load_audio(bad)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(LabError, match="empty"):
        load_audio(empty)
    with pytest.raises(LabError, match="not found"):
        load_audio(tmp_path / "nope.wav")


@pytest.mark.parametrize("fmt", ["flac", "ogg"])
def test_other_formats(tmp_path, fmt):
    p = tmp_path / f"x.{fmt}"
    sf.write(p, tone(1.0, 22050), 22050)
    a = load_audio(p)
    assert abs(len(a.samples) - SR) <= 2


def test_mp3_via_ffmpeg(tmp_path):
    import shutil
    import subprocess

    assert shutil.which("ffmpeg"), "ffmpeg is a system package make installs"
    wav, mp3 = tmp_path / "x.wav", tmp_path / "x.mp3"
    sf.write(wav, tone(1.0), SR)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(wav), str(mp3)], check=True)
    a = load_audio(mp3)
    assert 0.95 * SR <= len(a.samples) <= 1.1 * SR


def test_a_truncated_wav_is_named_not_read_short(tmp_path):
    """libsndfile reads a WAV whose data chunk is cut short without complaint (fewer samples):
    the header's promise is checked, and the message says how much is missing."""
    import soundfile as sf

    from lab.audio import load_audio, wav_truncation
    from lab.errors import LabError

    full = tmp_path / "full.wav"
    sf.write(str(full), np.zeros(16000, np.float32) + 0.1, 16000, subtype="PCM_16")
    raw = full.read_bytes()
    assert wav_truncation(raw[:64], len(raw)) is None
    cut = tmp_path / "cut.wav"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(LabError, match=r"truncated: its WAV header promises 1 s of audio, the file holds 0\.49"):
        load_audio(cut)
    with pytest.raises(LabError, match="truncated"):
        load_audio(raw[:200])
    assert len(load_audio(full).samples) == 16000
