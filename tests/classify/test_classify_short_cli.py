"""Very short clips through the classifiers (issue 21): AST needs one 25 ms fbank window, the
wav2vec2 / HuBERT sequence and frame classifiers their conv encoder's 400-sample receptive field
(from ``config.conv_kernel`` / ``conv_stride``); both are checked before the model runs and the
message states the minimum in ms and samples -- through trace_classify and
``audiolab trace classify``, on the tiny random models and the offline zoo classifiers."""
from __future__ import annotations


import numpy as np
import pytest

from lab.audio import conv_min_length
from lab.classify import trace_classify
from lab.cli import main
from lab.errors import LabError
from short_clips import SHORT, write_short_files, minimum as _minimum

KINDS = ("ast", "wav2vec2-seq", "hubert-seq", "wav2vec2-frame")


@pytest.fixture(scope="module")
def short_files(tmp_path_factory):
    return write_short_files(tmp_path_factory.mktemp("short"))


def test_conv_min_length():
    assert conv_min_length((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)) == 400  # wav2vec2 base
    assert conv_min_length((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2), frames=2) == 720
    assert conv_min_length((3, 3), (1, 2), (1, 1)) == 1  # Whisper's padded convs
    assert conv_min_length((), ()) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SHORT)
def test_trace_states_the_minimum(loaded, short_files, kind, name):
    with pytest.raises(LabError, match="audio is too short") as e:
        trace_classify(str(short_files[name]), loaded[kind])
    assert _minimum(str(e.value)) == 400
    assert f"({SHORT[name][0]} sample" in str(e.value)


@pytest.mark.parametrize("kind", KINDS)
def test_minimum_is_tight(loaded, kind):
    x = (0.3 * np.random.default_rng(1).standard_normal(400)).astype(np.float32)
    t = trace_classify((16000, x), loaded[kind])
    assert t.meta["top_k"]
    with pytest.raises(LabError, match=r"\(399 samples at 16000 Hz\)"):
        trace_classify((16000, x[:-1]), loaded[kind])


def test_sequence_minimum_counts_content_not_padding(loaded):
    """With padding appended, the check counts the real samples (the attention mask)."""
    from lab.classify import trace_sequence

    x = (0.3 * np.random.default_rng(2).standard_normal(160)).astype(np.float32)
    with pytest.raises(LabError, match=r"\(160 samples at 16000 Hz\)"):
        trace_sequence((16000, x), loaded["wav2vec2-seq"], pad_seconds=1.0)


@pytest.mark.parametrize("model", ["tiny-ast-sounds", "tiny-wav2vec2-keywords", "tiny-wav2vec2-frames"])
@pytest.mark.parametrize("name", SHORT)
def test_cli_offline_classifiers(short_files, model, name, capsys):
    code = main(["trace", "classify", str(short_files[name]), "--model", model, "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("audiolab: error: audio is too short") and _minimum(err[0]) == 400
