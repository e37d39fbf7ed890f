"""Tiny random SpeechT5 models for tests, the chapter notebook and the app's demo choice.

These are UNTRAINED (random weights): every tensor, picture and number the lab shows is real
plumbing, but the "speech" is noise and the cross-attention is no diagonal. A trained offline
model comes from the model-zoo issue; until then this is what runs without the hub.

``build_tiny_tts(dir)`` saves a ``SpeechT5ForTextToSpeech`` (hidden 32, 2+2 layers, 2 heads,
80 mel bins, reduction factor 2, 512-d speaker embedding) and a ``SpeechT5Processor`` whose
tokenizer is the lab's character SentencePiece model (``assets/tts/spm_char.model``).
``build_tiny_hifigan(dir)`` saves a tiny random ``SpeechT5HifiGan`` (80 mels -> 16 kHz, hop 256).
``tiny_tts_dir()`` builds the demo model once into the lab's cache and returns its path.
"""
from __future__ import annotations

import os
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "tts"
SPM_MODEL = ASSETS / "spm_char.model"
TINY_ID = "speecht5-tiny-random"
DEMO_STOP_BIAS = -2.5
TINY_VERSION = 1

TINY_CONFIG = dict(
    hidden_size=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
    decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
    speech_decoder_prenet_units=32, speech_decoder_postnet_units=32,
    speech_decoder_postnet_layers=2, speech_decoder_postnet_kernel=5,
    num_mel_bins=80, reduction_factor=2, speaker_embedding_dim=512,
    max_text_positions=200, max_speech_positions=1200, encoder_max_relative_position=16,
)


def tiny_processor(spm_model: str | Path = SPM_MODEL):
    """A ``SpeechT5Processor``: the lab's char tokenizer + SpeechT5's default feature extractor
    (16 kHz, 80 log10-mel bins 80-7600 Hz, window 1024, hop 256)."""
    from transformers import SpeechT5FeatureExtractor, SpeechT5Processor, SpeechT5Tokenizer

    tok = SpeechT5Tokenizer(vocab_file=str(spm_model))
    return SpeechT5Processor(feature_extractor=SpeechT5FeatureExtractor(), tokenizer=tok)


def build_tiny_tts(directory: str | Path, *, seed: int = 0, stop_bias: float | None = None,
                   **overrides) -> Path:
    """Save a tiny random SpeechT5ForTextToSpeech + processor into ``directory``; returns it.

    ``overrides``: SpeechT5Config fields. ``stop_bias``: if given, the stop layer's bias
    (``speech_decoder_postnet.prob_out.bias``) is set to it: a large positive value forces a
    stop at the first step the rules allow, a negative one makes the model run long.
    """
    import torch
    from transformers import SpeechT5Config, SpeechT5ForTextToSpeech

    proc = tiny_processor()
    cfg = dict(TINY_CONFIG, vocab_size=len(proc.tokenizer), **overrides)
    torch.manual_seed(seed)
    model = SpeechT5ForTextToSpeech(SpeechT5Config(**cfg)).eval()
    if stop_bias is not None:
        with torch.no_grad():
            model.speech_decoder_postnet.prob_out.bias.fill_(stop_bias)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(d)
    proc.save_pretrained(d)
    return d


def build_tiny_hifigan(directory: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny random SpeechT5HifiGan (upsampling 4*4*4*4 = 256 = the mel hop)."""
    import torch
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    torch.manual_seed(seed)
    cfg = SpeechT5HifiGanConfig(upsample_initial_channel=32, resblock_kernel_sizes=[3],
                                resblock_dilation_sizes=[[1, 3]])
    d = Path(directory)
    SpeechT5HifiGan(cfg).eval().save_pretrained(d)
    return d


def tiny_tts_dir() -> Path:
    """The demo model's directory under the lab's cache, built on first use."""
    from lab.models import cache_dir

    d = cache_dir() / "tiny" / f"{TINY_ID}-v{TINY_VERSION}"  # bump when the recipe changes
    if not (d / "config.json").is_file():
        tmp = d.with_name(d.name + f".tmp{os.getpid()}")
        # stop layer biased low: the random stop probability wiggles around ~0.15 (summed over
        # the 2 frames of a step), so a run goes on to max length unless the threshold is lowered
        build_tiny_tts(tmp, stop_bias=DEMO_STOP_BIAS)
        if not d.exists():
            tmp.replace(d)
    return d


def loaded(*, seed: int = 0, stop_bias: float | None = -2.5):
    """A :class:`lab.models.Loaded` around a random SpeechT5 TTS in memory (eager attention).
    ``stop_bias`` (the stop logit's bias; -2.5 runs a few steps to the max length instead of
    stopping at once)."""
    import torch
    from transformers import SpeechT5Config, SpeechT5ForTextToSpeech

    from ..models import Loaded

    proc = tiny_processor()
    torch.manual_seed(seed)
    cfg = SpeechT5Config(**dict(TINY_CONFIG, vocab_size=len(proc.tokenizer)),
                         attn_implementation="eager")
    model = SpeechT5ForTextToSpeech(cfg).eval()
    if stop_bias is not None:
        with torch.no_grad():
            model.speech_decoder_postnet.prob_out.bias.fill_(stop_bias)
    return Loaded(model=model, processor=proc, model_id="tiny-tts", family="tts",
                  weights_source="random (test)", path="", device=torch.device("cpu"))
