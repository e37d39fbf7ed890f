"""Tiny random-weight CTC models (HF format) for tests, the notebook and the benchmark.

They have the real architectures, module paths, processors and a character vocabulary like
``facebook/wav2vec2-base-960h``'s (``<pad>`` = blank, ``|`` = word delimiter, A-Z, ``'``), but
random weights: their transcripts are noise. ``save_tiny(arch, directory)`` writes a model
directory the resolver loads as a local path.
"""
from __future__ import annotations

import json
from pathlib import Path

from .constants import SAMPLE_RATE

VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|"] + list("ETAOINSRHDLUCMFWGYPBVKXJQZ'")
BASE_KERNELS = (10, 3, 3, 3, 3, 2, 2)
BASE_STRIDES = (5, 2, 2, 2, 2, 2, 2)
ARCHS = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "wav2vec2-bert")


def write_vocab(directory: Path) -> Path:
    path = Path(directory) / "vocab.json"
    path.write_text(json.dumps({t: i for i, t in enumerate(VOCAB)}))
    return path


def tokenizer(directory: Path):
    from transformers import Wav2Vec2CTCTokenizer

    return Wav2Vec2CTCTokenizer(str(write_vocab(directory)), unk_token="<unk>", pad_token="<pad>",
                                word_delimiter_token="|", bos_token="<s>", eos_token="</s>")


def config(arch: str = "wav2vec2", *, hidden: int = 32, layers: int = 2, heads: int = 2,
           conv_dim: int = 16, base_size: bool = False):
    """A config for ``arch``; ``base_size=True`` gives wav2vec2-base dimensions (768 x 12)."""
    import transformers as T

    common = dict(vocab_size=len(VOCAB), pad_token_id=0, bos_token_id=1, eos_token_id=2,
                  hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                  intermediate_size=2 * hidden, hidden_dropout=0.0, attention_dropout=0.0,
                  activation_dropout=0.0, feat_proj_dropout=0.0, final_dropout=0.0, layerdrop=0.0,
                  ctc_loss_reduction="mean")
    if base_size:
        common.update(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072)
    if arch == "wav2vec2-bert":
        return T.Wav2Vec2BertConfig(**common, feature_projection_input_dim=160,
                                    conv_depthwise_kernel_size=3, add_adapter=False)
    wav = dict(conv_dim=(512,) * 7 if base_size else (conv_dim,) * 7, conv_kernel=BASE_KERNELS,
               conv_stride=BASE_STRIDES, num_conv_pos_embeddings=128 if base_size else 16,
               num_conv_pos_embedding_groups=16 if base_size else 2, feat_extract_norm="group",
               do_stable_layer_norm=False, mask_time_prob=0.0)
    cls = {"wav2vec2": T.Wav2Vec2Config, "hubert": T.HubertConfig, "wavlm": T.WavLMConfig,
           "data2vec-audio": T.Data2VecAudioConfig}[arch]
    if arch == "wavlm":
        wav.update(num_buckets=32, max_bucket_distance=64)
    if arch == "data2vec-audio":
        wav.pop("feat_extract_norm"), wav.pop("do_stable_layer_norm")
        wav.update(conv_pos_kernel_size=5, num_conv_pos_embeddings=5)
    return cls(**common, **wav)


def build(arch: str = "wav2vec2", directory: str | Path | None = None, *, seed: int = 0,
          attn: str = "eager", **kw):
    """(model, processor) with random weights (``seed``); the tokenizer's vocab.json lives in
    ``directory`` (a temporary one by default)."""
    import tempfile

    import torch
    import transformers as T

    directory = Path(directory or tempfile.mkdtemp(prefix=f"tiny-{arch}-"))
    directory.mkdir(parents=True, exist_ok=True)
    cfg = config(arch, **kw)
    cfg._attn_implementation = attn
    torch.manual_seed(seed)
    model = T.AutoModelForCTC.from_config(cfg, attn_implementation=attn).eval()
    tok = tokenizer(directory)
    if arch == "wav2vec2-bert":
        fe = T.SeamlessM4TFeatureExtractor(feature_size=80, num_mel_bins=80, sampling_rate=SAMPLE_RATE,
                                           stride=2, padding_value=1.0)
        proc = T.Wav2Vec2BertProcessor(feature_extractor=fe, tokenizer=tok)
    else:
        fe = T.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                        do_normalize=True, return_attention_mask=arch != "wav2vec2")
        proc = T.Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok)
    return model, proc


def save_tiny(arch: str, directory: str | Path, **kw) -> Path:
    """Write a tiny random ``arch`` model + processor to ``directory`` (resolvable by path)."""
    directory = Path(directory)
    model, proc = build(arch, directory, **kw)
    model.save_pretrained(directory, safe_serialization=True)
    proc.save_pretrained(directory)
    return directory


def loaded(arch: str = "wav2vec2", directory: str | Path | None = None, **kw):
    """A :class:`lab.models.Loaded` around a tiny model (no resolver, no disk model file)."""
    import torch

    from ..models import Loaded

    model, proc = build(arch, directory, **kw)
    return Loaded(model=model, processor=proc, model_id=f"tiny-random-{arch}", family="ctc",
                  weights_source="random weights (lab.ctc.tiny, for tests)", path=str(directory or ""),
                  device=torch.device("cpu"))
