"""Whisper test fixtures: a tiny random Whisper saved with the bundle's processor (tokenizer of
tiny.en, so real special ids), an English-only and a "multilingual" variant, and the real
offline tiny.en for ``@pytest.mark.real`` tests."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

CLIPS = Path(__file__).resolve().parents[2] / "assets" / "clips"
CLIP_TEXT = {k: v["text"] for k, v in json.loads((CLIPS / "clips.json").read_text()).items()}


def _save_tiny(out: Path, *, multilingual: bool = False, seed: int = 0) -> Path:
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration, WhisperProcessor

    from lab.models import locate

    bundle, _, _ = locate("whisper-tiny.en")
    real_gen = GenerationConfig.from_pretrained(bundle)
    torch.manual_seed(seed)
    cfg = WhisperConfig(vocab_size=51864, num_mel_bins=80, d_model=64, encoder_layers=2, decoder_layers=2,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                        decoder_ffn_dim=128, max_source_positions=1500, max_target_positions=64,
                        decoder_start_token_id=50257, bos_token_id=50256, eos_token_id=50256,
                        pad_token_id=50256, tie_word_embeddings=True)
    model = WhisperForConditionalGeneration(cfg).eval()
    # random weights: bias the end-of-text logit per sample so some runs stop by themselves
    gen = GenerationConfig(decoder_start_token_id=50257, bos_token_id=50256, eos_token_id=50256,
                           pad_token_id=50256, max_length=64,
                           suppress_tokens=list(real_gen.suppress_tokens),
                           begin_suppress_tokens=[220, 50256])
    gen.alignment_heads = [[1, 0], [1, 1]]
    gen.no_timestamps_token_id = 50362
    gen.is_multilingual = multilingual
    if multilingual:
        gen.lang_to_id = {"<|en|>": 50258, "<|de|>": 50260, "<|fr|>": 50264}
        gen.task_to_id = {"transcribe": 50358, "translate": 50357}
        gen.forced_decoder_ids = [[1, None], [2, 50358]]  # as the hub's multilingual checkpoints
    gen._from_model_config = False
    model.generation_config = gen
    model.save_pretrained(out)
    WhisperProcessor.from_pretrained(bundle).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return _save_tiny(tmp_path_factory.mktemp("tiny_whisper"))


@pytest.fixture(scope="session")
def tiny_multi_dir(tmp_path_factory) -> Path:
    return _save_tiny(tmp_path_factory.mktemp("tiny_whisper_multi"), multilingual=True, seed=1)


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    from lab.models import resolve

    return resolve(str(tiny_dir), family="whisper")


@pytest.fixture(scope="session")
def tiny_multi(tiny_multi_dir):
    from lab.models import resolve

    return resolve(str(tiny_multi_dir), family="whisper")


@pytest.fixture(scope="session")
def real():
    from lab.models import load_cached

    return load_cached("whisper-tiny.en", family="whisper")


@pytest.fixture(scope="session")
def fox() -> Path:
    return CLIPS / "quick_brown_fox.wav"


def _features(loaded, path):
    from lab.audio import load_audio
    from lab.whisper.capture import log_mel

    return log_mel(load_audio(path), loaded.processor)[0]


@pytest.fixture(scope="session")
def features():
    """``features(loaded, path) -> (1, 80, 3000)`` input features of a clip."""
    return _features


@pytest.fixture(scope="session")
def clip_text():
    return dict(CLIP_TEXT)


@pytest.fixture
def make_long(tmp_path):
    """``make_long(first, second)``: ``first`` padded with silence to exactly 30 s, then ``second``
    -- a > 30 s clip made with sox in tmp_path (nothing big is committed)."""
    import subprocess

    import soundfile as sf

    def make(first="quick_brown_fox.wav", second="open_the_door.wav") -> Path:
        n = sf.info(str(CLIPS / first)).frames
        padded, out = tmp_path / "padded.wav", tmp_path / "long.wav"
        subprocess.run(["sox", str(CLIPS / first), str(padded), "pad", "0", f"{480000 - n}s"], check=True)
        subprocess.run(["sox", str(padded), str(CLIPS / second), str(out)], check=True)
        return out

    return make
