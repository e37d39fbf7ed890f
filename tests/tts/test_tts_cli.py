"""``audiolab trace tts "TEXT" --json`` on a tiny random model directory."""
import json

import soundfile as sf

from lab import cli


def run_cli(capsys, *argv):
    code = cli.main(["trace", "tts", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json(tmp_path, capsys, tts_long, speaker):
    import numpy as np

    spk = tmp_path / "spk.npy"
    np.save(spk, speaker[0].numpy())
    code, out, err = run_cli(capsys, "Hello, world!", "--model", tts_long.path, "--threshold", "0.5",
                             "--maxlenratio", "1.0", "--vocoder", "griffin-lim", "--speaker", str(spk),
                             "--out", str(tmp_path / "o"), "--json")
    assert code == 0, err
    d = json.loads(out)
    for key in ("tokens", "n_steps", "stop_step", "stop_reason", "stop_prob", "n_frames", "audio",
                "model", "weights_source"):
        assert key in d, key
    assert d["tokens"][-1] == "</s>" and d["n_steps"] == len(d["stop_prob"]) == d["stop_step"] + 1
    assert d["stop_reason"] == "max_length" and d["n_frames"] == 2 * d["n_steps"]
    assert d["model"] == tts_long.path and d["weights_source"].startswith("local:")
    wav, rate = sf.read(d["audio"])
    assert rate == 16000 and len(wav) == d["n_frames"] * 256
    assert (tmp_path / "o" / "trace" / "trace.json").is_file()
    assert d["speaker"] == "file spk.npy"


def test_cli_split(tmp_path, capsys, tts_long):
    code, out, err = run_cli(capsys, "One sentence here. And another sentence there. Done.",
                             "--model", tts_long.path, "--maxlenratio", "1.0", "--vocoder",
                             "griffin-lim", "--split", "--out", str(tmp_path), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert len(d["sentences"]) == 3 and d["n_steps"] == sum(s["n_steps"] for s in d["sentences"])


def test_cli_errors_are_messages(tmp_path, capsys, tts_long, monkeypatch):
    from lab import models

    monkeypatch.setattr(models, "DEFAULTS", {k: v for k, v in models.DEFAULTS.items() if k != "tts"})
    code, _, err = run_cli(capsys, "Hi \U0001F600", "--model", tts_long.path, "--out", str(tmp_path))
    assert code == 2 and "U+1F600" in err and "--drop-unknown" in err
    code, _, err = run_cli(capsys, "Hi", "--out", str(tmp_path), "--json")
    assert code == 2 and "no default TTS model" in err and "offline ids available" in err
    assert "speecht5-tiny-random" in err
