"""``audiolab trace ... --ablate / --force-token / --what-if``: the JSON holds the changed run,
``intervention`` and ``diff`` (tiny random models saved to disk; the real tiny.en for Whisper)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.cli import main

FOX = str(Path(__file__).resolve().parents[2] / "assets" / "clips" / "quick_brown_fox.wav")


def _run(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def ctc_dir(tmp_path_factory):
    from lab.ctc import tiny

    return str(tiny.save_tiny("wav2vec2", tmp_path_factory.mktemp("ctc")))


def test_ctc_ablate_and_what_if_file(capsys, ctc_dir, tmp_path):
    out = _run(capsys, ["trace", "ctc", FOX, "--model", ctc_dir, "--json",
                        "--ablate", "encoder.layers.1.attn.heads=0", "--ablate", "encoder.layers.0.ffn"])
    assert [a["target"] for a in out["intervention"]["ablations"]] == ["encoder.layers.1.attn", "encoder.layers.0.ffn"]
    assert out["diff"]["family"] == "ctc" and out["diff"]["frames"]["max_logit_change"] > 0
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps([{"kind": "ablate", "target": "encoder.layers.1.attn", "heads": []}]))
    out = _run(capsys, ["trace", "ctc", FOX, "--model", ctc_dir, "--json", "--what-if", str(spec)])
    assert out["diff"]["changed"] is False and out["intervention"]["ablations"][0]["heads"] == []


def test_bad_what_if_flags_exit_2(capsys, ctc_dir, tmp_path):
    assert main(["trace", "ctc", FOX, "--model", ctc_dir, "--ablate", "encoder.layers.7.attn"]) == 2
    assert "no intervention target" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    assert main(["trace", "ctc", FOX, "--model", ctc_dir, "--what-if", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


@pytest.mark.real
def test_whisper_force_token_cli(capsys):
    base = _run(capsys, ["trace", "whisper", FOX, "--json", "--no-words"])
    alt = base["steps"][2]["top_k"][1]["token_id"]
    out = _run(capsys, ["trace", "whisper", FOX, "--json", "--no-words", "--force-token", f"2={alt}"])
    assert out["token_ids"][:3] == base["token_ids"][:2] + [alt]  # the forced run, prompt excluded
    assert out["intervention"]["force"] == {"2": alt}
    assert out["diff"]["steps"]["first_divergent_step"] == 2
    assert out["steps"][2]["forced"] and out["steps"][2]["model_token_id"] == base["token_ids"][2]
    assert not any(s.get("forced") for k, s in enumerate(out["steps"]) if k != 2)
    out = _run(capsys, ["trace", "whisper", FOX, "--json", "--no-words",
                        "--ablate", "decoder.layers.3.cross_attn.heads=0,1,2,3,4"])
    assert out["intervention"]["ablations"][0]["calls"] == len(out["token_ids"])
    assert out["diff"]["steps"]["kl_max"] > 0


def test_classify_and_tts_ablate(capsys, tmp_path):
    from lab.classify import tiny as ctiny
    from lab.tts import tiny as ttiny

    ast = str(ctiny.make_tiny("ast", tmp_path / "ast"))
    out = _run(capsys, ["trace", "classify", FOX, "--model", ast, "--json",
                        "--ablate", "encoder.layers.0.attn.heads=1"])
    assert out["diff"]["labels"]["max_prob_change"] > 0
    out = _run(capsys, ["trace", "tts", "hello world", "--model", str(ttiny.tiny_tts_dir()), "--json",
                        "--vocoder", "griffin-lim", "--maxlenratio", "2", "--out", str(tmp_path / "tts"),
                        "--ablate", "decoder.layers.0.cross_attn"])
    assert out["intervention"]["ablations"][0]["target"] == "decoder.layers.0.cross_attn"
    assert out["diff"]["stop"]["mel_mean_abs_diff"] > 0


def test_ctc_edit_and_patch_flags(capsys, ctc_dir):
    door = str(Path(FOX).with_name("open_the_door.wav"))
    out = _run(capsys, ["trace", "ctc", FOX, "--model", ctc_dir, "--json",
                        "--edit", "silence:1.0-1.5", "--edit", "noise:2-2.5@5"])
    assert out["intervention"]["interventions"] == [
        {"kind": "edit", "op": "silence", "start": 1.0, "end": 1.5},
        {"kind": "edit", "op": "noise", "start": 2.0, "end": 2.5, "snr_db": 5.0, "seed": 0}]
    assert out["diff"]["same_input"] is False and out["diff"]["edited_seconds"] == [[1.0, 1.5], [2.0, 2.5]]
    assert out["diff"]["frames"]["n_changed"] > 0
    out = _run(capsys, ["trace", "ctc", FOX, "--model", ctc_dir, "--json", "--edit", f"swap:1-1.2={door}@0.5"])
    assert out["intervention"]["interventions"][0]["source_start"] == 0.5
    out = _run(capsys, ["trace", "ctc", FOX, "--model", ctc_dir, "--json", "--patch", f"encoder.output={door}@0.5-1"])
    assert out["intervention"]["patches"][0]["frames"] == [25, 50]
    assert out["diff"]["frames"]["changed_seconds"][0][0] >= 0.5


def test_bad_edit_and_patch_flags_exit_2(capsys, ctc_dir):
    assert main(["trace", "ctc", FOX, "--model", ctc_dir, "--edit", "silence:1.6-1.2"]) == 2
    assert "must be after start" in capsys.readouterr().err
    assert main(["trace", "ctc", FOX, "--model", ctc_dir, "--edit", "silence:3-9"]) == 2
    assert "outside the clip" in capsys.readouterr().err
    assert main(["trace", "ctc", FOX, "--model", ctc_dir, "--patch", "encoder.output"]) == 2
    assert "expected TARGET=B.wav" in capsys.readouterr().err
