"""Rebuild the two small TTS assets shipped here (run from anywhere; deterministic):

- ``spm_char.model``: a character-level SentencePiece model (lowercase + uppercase letters,
  digits, common punctuation, ``▁`` for space; ids 0 ``<s>``, 1 ``<pad>``, 2 ``</s>``,
  3 ``<unk>``), the same kind of tokenizer file as microsoft/speecht5_tts ships. The lab needs
  it to build tiny random SpeechT5 models (tests, notebook, demo) without the hub. It is NOT
  microsoft's file: a real model must use the tokenizer saved with it.
- ``default_speaker.npy``: the lab's default speaker embedding, 512 float32 values. It is NOT
  an x-vector of a real speaker (the CMU Arctic x-vectors cannot be fetched without the hub):
  it is a fixed pseudo-random vector (numpy default_rng(5), standard normal x 0.05). SpeechT5
  L2-normalises the embedding, so only its direction matters. With the real microsoft model
  it gives *a* voice, of unknown quality; pass a real x-vector (``--speaker FILE.npy``) when you
  have one.

    python assets/tts/make_assets.py
"""
from __future__ import annotations

import string
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
PUNCTUATION = ".,!?'\"-:;()&"
CORPUS = """The quick brown fox jumps over the lazy dog.
Audio transformers turn text into speech one spectrogram frame at a time.
She sells sea shells by the sea shore; the shells she sells are surely sea shells!
How vexingly quick daft zebras jump. Pack my box with five dozen liquor jugs.
"""


def build_spm(out: Path) -> Path:
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        # every character of the vocabulary appears, so model_type=char keeps them all
        alphabet = " ".join([string.ascii_lowercase, string.ascii_uppercase, string.digits,
                             PUNCTUATION])
        corpus.write_text((CORPUS + alphabet + "\n") * 3)
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(Path(tmp) / "spm_char"), model_type="char",
            vocab_size=200, hard_vocab_limit=False, character_coverage=1.0,
            bos_id=0, pad_id=1, eos_id=2, unk_id=3, normalization_rule_name="identity",
            minloglevel=2)
        out.write_bytes((Path(tmp) / "spm_char.model").read_bytes())
    return out


def build_speaker(out: Path) -> Path:
    vec = (np.random.default_rng(5).standard_normal(512) * 0.05).astype(np.float32)
    np.save(out, vec)
    return out


if __name__ == "__main__":
    print(build_spm(HERE / "spm_char.model"))
    print(build_speaker(HERE / "default_speaker.npy"))
