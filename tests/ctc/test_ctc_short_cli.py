"""Very short clips through CTC models (issue 21): the minimum length is checked BEFORE the model
runs and the LabError states it in ms and samples, computed from the config / feature extractor
(wav2vec2-style conv encoders: 400 samples = 25 ms; Whisper-CTC's centred STFT: 201 samples;
Wav2Vec2Bert: one 25 ms fbank window). Every tiny architecture, the offline default CTC model
(whisper-tiny.en-ctc) and the offline wav2vec2 model, through trace_ctc and ``audiolab trace ctc``.
"""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from lab.cli import main
from lab.ctc import names as N
from lab.ctc.capture import _min_samples, parts, trace_ctc
from lab.errors import LabError
from lab.trace import CapturePolicy
from short_clips import SHORT, write_short_files, minimum as _minimum

LEAN = CapturePolicy(names=["input.*", "ctc.*"])
MIN = {"wav2vec2": 400, "hubert": 400, "wavlm": 400, "data2vec-audio": 400, "wav2vec2-bert": 400}


@pytest.fixture(scope="module")
def short_files(tmp_path_factory):
    return write_short_files(tmp_path_factory.mktemp("short"))


@pytest.mark.parametrize("name", SHORT)
def test_every_arch_states_its_minimum(any_loaded, short_files, name):
    with pytest.raises(LabError, match="audio is too short") as e:
        trace_ctc(str(short_files[name]), any_loaded, policy=LEAN)
    arch = any_loaded.model_id.removeprefix("tiny-random-")
    assert _minimum(str(e.value)) == MIN[arch]
    assert f"({SHORT[name][0]} sample" in str(e.value)


def _raw_forward(loaded, samples):
    """The feature extractor + model without the lab's check (what crashed before issue 21)."""
    model, fe, _ = parts(loaded)
    spec = N.spec_for(model.config)
    key = "input_values" if spec.input == "waveform" else "input_features"
    with torch.no_grad():
        return model(fe(samples, sampling_rate=16000, return_tensors="pt")[key]).logits


def test_minimum_is_tight(any_loaded):
    """At the minimum the trace has a frame; one sample less, the raw model fails -- the check
    neither lets a crash through nor refuses a clip the model could take."""
    model, fe, _ = parts(any_loaded)
    n, _, _ = _min_samples(model.config, fe, N.spec_for(model.config), any_loaded.model_id)
    x = (0.3 * np.random.default_rng(1).standard_normal(n)).astype(np.float32)
    tr = trace_ctc((16000, x), any_loaded, policy=LEAN)
    assert tr.meta["n_frames"] >= 1
    with pytest.raises(Exception) as e:
        _raw_forward(any_loaded, x[:-1])
    assert not isinstance(e.value, LabError)
    with pytest.raises(LabError, match=f"needs at least .* \\({n} samples\\)"):
        trace_ctc((16000, x[:-1]), any_loaded, policy=LEAN)


@pytest.mark.parametrize("model,minimum", [(None, 201), ("tiny-wav2vec2-ctc-en", 400)])
@pytest.mark.parametrize("name", SHORT)
def test_cli_offline_models(short_files, name, model, minimum, capsys):
    argv = ["trace", "ctc", str(short_files[name]), "--json"] + (["--model", model] if model else [])
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("audiolab: error: audio is too short")
    assert _minimum(err[0]) == minimum and (model or "whisper-tiny.en-ctc") in err[0]


def test_default_model_at_its_minimum(capsys, tmp_path):
    x = (0.3 * np.random.default_rng(2).standard_normal(201)).astype(np.float32)
    sf.write(tmp_path / "201.wav", x, 16000)
    assert main(["trace", "ctc", str(tmp_path / "201.wav"), "--json"]) == 0
    assert '"n_frames": 1' in capsys.readouterr().out


def test_default_model_one_sample_less_crashes_raw():
    """Without the check, 200 samples end in torch's reflect-padding error (the issue's report)."""
    from lab.models import load_cached

    loaded = load_cached(None, family="ctc", attention=False)
    x = (0.3 * np.random.default_rng(3).standard_normal(200)).astype(np.float32)
    with pytest.raises(RuntimeError, match="Padding size"):
        _raw_forward(loaded, x)
