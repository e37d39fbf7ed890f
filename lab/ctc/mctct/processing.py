"""``MCTCTProcessor``: the feature extractor and the character tokenizer of M-CTC-T together.

As transformers 4.x ``MCTCTProcessor``: audio -> ``input_features`` + ``attention_mask``
(``MCTCTFeatureExtractor``), ids -> text with the checkpoint's ``Wav2Vec2CTCTokenizer``
(``vocab.json``, ``tokenizer_config.json``; blank = the pad token). A plain class: transformers 5's
``ProcessorMixin`` only resolves classes that live inside transformers.
"""
from __future__ import annotations

from pathlib import Path

from .features import MCTCTFeatureExtractor


class MCTCTProcessor:
    """``processor(audio, sampling_rate=16000, return_tensors="pt")`` -> features;
    ``processor(text=...)`` -> ``input_ids``; both -> features with ``labels``;
    ``decode`` / ``batch_decode`` -> the tokenizer's CTC decode (repeats merged, blanks dropped)."""

    def __init__(self, feature_extractor: MCTCTFeatureExtractor, tokenizer):
        self.feature_extractor = feature_extractor
        self.tokenizer = tokenizer

    @classmethod
    def from_pretrained(cls, path, **kw) -> "MCTCTProcessor":
        from transformers import Wav2Vec2CTCTokenizer

        return cls(MCTCTFeatureExtractor.from_pretrained(path, **kw),
                   Wav2Vec2CTCTokenizer.from_pretrained(path, **kw))

    def save_pretrained(self, path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        self.feature_extractor.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    @property
    def sampling_rate(self) -> int:
        return self.feature_extractor.sampling_rate

    @property
    def model_input_names(self) -> list[str]:
        return list(self.feature_extractor.model_input_names)

    def __call__(self, audio=None, *, text=None, **kwargs):
        if audio is None and text is None:
            raise ValueError("MCTCTProcessor needs audio, text or both")
        if audio is None:
            return self.tokenizer(text, **kwargs)
        out = self.feature_extractor(audio, **kwargs)
        if text is not None:
            out["labels"] = self.tokenizer(text)["input_ids"]
        return out

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)

    def __repr__(self) -> str:
        return (f"MCTCTProcessor(feature_extractor={type(self.feature_extractor).__name__}, "
                f"tokenizer={type(self.tokenizer).__name__}, vocab={len(self.tokenizer)})")
