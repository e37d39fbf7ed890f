"""``audiolab trace classify FILE --model DIR --json``."""
import json

import pytest

from lab.cli import main


def run_cli(capsys, *argv):
    code = main(["trace", "classify", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    import numpy as np
    import soundfile as sf

    p = tmp_path_factory.mktemp("cli") / "chirp.wav"
    t = np.arange(8000) / 16000
    sf.write(p, (0.3 * np.sin(2 * np.pi * (200 + 2000 * t) * t)).astype("float32"), 16000)
    return p


def test_ast_json(capsys, tiny_dirs, wav):
    code, out, _ = run_cli(capsys, str(wav), "--model", str(tiny_dirs["ast"]), "--top-k", "3", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["patch_grid"] == [12, 12] and doc["n_patches"] == 144
    assert len(doc["labels"]) == 3 and set(doc["labels"][0]) == {"label", "score"}
    assert doc["model"] == str(tiny_dirs["ast"])
    assert doc["weights_source"].startswith("local:") and doc["kind"] == "ast"
    assert "frame_labels" not in doc


def test_frame_and_sequence_json(capsys, tiny_dirs, wav):
    code, out, _ = run_cli(capsys, str(wav), "--model", str(tiny_dirs["wav2vec2-frame"]), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["kind"] == "frames" and doc["n_frames"] == 24
    assert doc["frame_labels"] and set(doc["frame_labels"][0]) == {"label", "start", "end", "score"}
    assert "patch_grid" not in doc
    code, out, _ = run_cli(capsys, str(wav), "--model", str(tiny_dirs["hubert-seq"]), "--json",
                           "--activation", "sigmoid")
    doc = json.loads(out)
    assert code == 0 and doc["kind"] == "sequence" and doc["activation"] == "sigmoid"
    assert len(doc["labels"]) == 5


def test_no_model_names_the_offline_ids(capsys, wav, tmp_path, monkeypatch):
    import lab.models

    monkeypatch.setattr(lab.models, "ZOO_DIR", tmp_path)  # a zoo without a classifier
    code, _, err = run_cli(capsys, str(wav), "--json")
    assert code == 2
    assert "no offline classification model" in err and "whisper-tiny.en" in err


def test_user_errors_exit_2(capsys, tiny_dirs, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    code, _, err = run_cli(capsys, str(empty), "--model", str(tiny_dirs["ast"]))
    assert code == 2 and "empty" in err
    code, _, err = run_cli(capsys, str(empty), "--model", str(tmp_path / "nope"))
    assert code == 2 and "not available" in err


def test_a_zoo_classifier_becomes_the_default(capsys, tiny_dirs, wav, tmp_path, monkeypatch):
    import shutil

    import lab.models
    from lab.classify.cli import architecture_of, default_model

    zoo = tmp_path / "zoo"
    shutil.copytree(tiny_dirs["wav2vec2-frame"], zoo / "tiny-frames")
    monkeypatch.setattr(lab.models, "ZOO_DIR", zoo)
    assert default_model() == "tiny-frames"
    assert architecture_of("tiny-frames") == "Wav2Vec2ForAudioFrameClassification"
    code, out, _ = run_cli(capsys, str(wav), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["model"] == "tiny-frames" and doc["weights_source"].startswith("zoo:")


def test_tab_intro_names_the_shipped_classifiers(tiny_dirs, tmp_path, monkeypatch):
    """The Classify tab's intro is computed from the zoo: it names what ships (and its labels),
    and says nothing ships only when the zoo has no classifier."""
    import json
    import shutil

    import lab.models
    from apps import classify_tab

    zoo = tmp_path / "zoo"
    zoo.mkdir()
    monkeypatch.setattr(lab.models, "ZOO_DIR", zoo)
    assert "No trained classifier ships" in classify_tab.about_text()
    shutil.copytree(tiny_dirs["wav2vec2-frame"], zoo / "tiny-frames")
    text = classify_tab.about_text()
    labels = json.loads((zoo / "tiny-frames" / "config.json").read_text())["id2label"].values()
    assert "**tiny-frames**" in text and "Wav2Vec2ForAudioFrameClassification" in text
    assert all(str(v) in text for v in labels)
    assert "No trained classifier" not in text and "No offline real classifier" not in text
    assert classify_tab.default_model() == "tiny-frames" and "the default" in text
