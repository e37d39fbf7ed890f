"""A tiny random-weight Whisper for tests and demos: 2 + 2 layers, 2 heads, eager attention,
tiny.en's tokenizer and feature extractor (80 mels, real special ids) from the offline bundle."""
from __future__ import annotations


def loaded(*, d_model: int = 64, max_positions: int = 64, seed: int = 0):
    """A :class:`lab.models.Loaded` around a random Whisper (``d_model`` hidden, FFN ``2 *
    d_model``, at most ``max_positions`` decoder tokens); alignment heads ``[[1, 0], [1, 1]]``."""
    import torch
    from transformers import (GenerationConfig, WhisperConfig, WhisperForConditionalGeneration,
                              WhisperProcessor)

    from ..models import Loaded, locate

    torch.manual_seed(seed)
    cfg = WhisperConfig(vocab_size=51864, num_mel_bins=80, d_model=d_model, encoder_layers=2,
                        decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
                        encoder_ffn_dim=2 * d_model, decoder_ffn_dim=2 * d_model,
                        max_source_positions=1500, max_target_positions=max_positions,
                        decoder_start_token_id=50257, bos_token_id=50256, eos_token_id=50256,
                        pad_token_id=50256, attn_implementation="eager")
    model = WhisperForConditionalGeneration(cfg).eval()
    gen = GenerationConfig(decoder_start_token_id=50257, bos_token_id=50256, eos_token_id=50256,
                           pad_token_id=50256, max_length=max_positions,
                           begin_suppress_tokens=[220, 50256])
    gen.alignment_heads = [[1, 0], [1, 1]]
    gen.no_timestamps_token_id = 50362
    gen.is_multilingual = False
    model.generation_config = gen
    proc = WhisperProcessor.from_pretrained(locate("whisper-tiny.en")[0])
    return Loaded(model=model, processor=proc, model_id="tiny-whisper", family="whisper",
                  weights_source="random (test)", path="", device=torch.device("cpu"))
