"""Saving and loading M-CTC-T through the lab's resolver (local dir, hub id via the HF cache)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from mctct_helpers import tone

from lab.ctc.mctct import MCTCTConfig, MCTCTFeatureExtractor, MCTCTForCTC, MCTCTProcessor
from lab.ctc.mctct.convert import convert
from lab.errors import LabError
from lab.models import resolve

# config.json keys of the 4.x MCTCTConfig (transformers 4.46 to_dict, minus bookkeeping)
KEYS_4X = {"attention_head_dim", "attention_probs_dropout_prob", "bos_token_id", "conv_channels",
           "conv_dropout", "conv_glu_dim", "conv_kernel", "conv_stride", "ctc_loss_reduction",
           "ctc_zero_infinity", "eos_token_id", "hidden_act", "hidden_dropout_prob", "hidden_size",
           "initializer_range", "input_channels", "input_feat_per_channel", "intermediate_size",
           "layer_norm_eps", "layerdrop", "max_position_embeddings", "model_type",
           "num_attention_heads", "num_conv_layers", "num_hidden_layers", "pad_token_id",
           "vocab_size"}


def _logits(model, processor, wave):
    feats = processor(wave, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        return model(**feats).logits


def test_resolver_round_trip(tiny_dir, tiny_model):
    cfg = json.loads((tiny_dir / "config.json").read_text())
    assert cfg["architectures"] == ["MCTCTForCTC"] and cfg["model_type"] == "mctct"
    assert KEYS_4X <= set(cfg)
    assert (tiny_dir / "model.safetensors").is_file()
    pre = json.loads((tiny_dir / "preprocessor_config.json").read_text())
    assert pre["feature_extractor_type"] == "MCTCTFeatureExtractor" and pre["win_length"] == 25

    loaded = resolve(str(tiny_dir), family="ctc")
    assert loaded.family == "ctc" and loaded.weights_source.startswith("local:")
    assert isinstance(loaded.model, MCTCTForCTC) and isinstance(loaded.processor, MCTCTProcessor)
    assert not loaded.model.training
    wave = tone(0.7)
    torch.testing.assert_close(_logits(loaded.model, loaded.processor, wave),
                               _logits(tiny_model, loaded.processor, wave), atol=0, rtol=0)
    # the tokenizer round-trips and CTC-decodes (blank = <pad> = id 1)
    assert loaded.processor.decode([7, 7, 1, 7, 4, 8]) == "cc d"


def test_model_type_only_config_resolves(tiny_dir):
    cfg = json.loads((tiny_dir / "config.json").read_text())
    cfg.pop("architectures")
    (tiny_dir / "config.json").write_text(json.dumps(cfg))
    assert isinstance(resolve(str(tiny_dir)).model, MCTCTForCTC)


def test_hub_id_resolves_through_the_lab_loader(tiny_dir, tmp_path, monkeypatch):
    """``speechbrain/m-ctc-t-large`` as it would sit in the HF cache after a download: the
    resolver finds it offline and loads it with the lab's classes (not AutoModelForCTC)."""
    import huggingface_hub.constants as hf_constants

    cache = tmp_path / "hf-cache"
    repo = cache / "models--speechbrain--m-ctc-t-large"
    commit = "0" * 40
    shutil.copytree(tiny_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    loaded = resolve("speechbrain/m-ctc-t-large", family="ctc")
    assert loaded.weights_source == "hub:speechbrain/m-ctc-t-large (HF cache)"
    assert isinstance(loaded.model, MCTCTForCTC) and isinstance(loaded.processor, MCTCTProcessor)


def test_missing_tokenizer_is_a_lab_error(tiny_dir):
    (tiny_dir / "vocab.json").unlink()
    with pytest.raises(LabError, match="vocab.json"):
        resolve(str(tiny_dir))


def test_bin_only_checkpoint_is_converted(tiny_dir, tiny_model):
    from safetensors.torch import load_file

    state = load_file(tiny_dir / "model.safetensors")
    (tiny_dir / "model.safetensors").unlink()
    torch.save(state, tiny_dir / "pytorch_model.bin")
    with pytest.raises(LabError, match="safetensors"):
        resolve(str(tiny_dir))
    convert(tiny_dir)
    model = resolve(str(tiny_dir)).model
    for k, v in tiny_model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, atol=0, rtol=0)


def test_transformers_auto_classes_know_mctct(tiny_dir):
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForCTC

    assert isinstance(AutoConfig.from_pretrained(tiny_dir), MCTCTConfig)
    assert isinstance(AutoModelForCTC.from_pretrained(tiny_dir), MCTCTForCTC)
    assert isinstance(AutoFeatureExtractor.from_pretrained(tiny_dir), MCTCTFeatureExtractor)


def test_processor_text_and_audio(tiny_dir):
    proc = MCTCTProcessor.from_pretrained(tiny_dir)
    out = proc(tone(0.5), text="ab c", sampling_rate=16000)
    assert out["labels"] == [5, 6, 4, 7]
    assert np.asarray(out["input_features"]).shape == (1, 48, 80)
