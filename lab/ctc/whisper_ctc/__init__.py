"""``whisper-tiny.en-ctc``'s architecture (the runtime half of the lab's default CTC model).

- ``model.py``  ``WhisperCTCForCTC`` / ``WhisperCTCConfig`` / ``WhisperCTCFeatureExtractor`` and the
  resolver's loader ``load(path, attn)``
- ``build.py``  the shipped head (``lab/zoo/whisper-tiny.en-ctc/``) + the Whisper bundle's encoder
  -> a full HF directory in the cache (the registry's bundle row, ``lab/ctc/register.py``)

Training it is ``training/zoo/train_whisper_ctc.py`` (a checkout with the ``[train]`` extra).
"""
from .model import WhisperCTCConfig, WhisperCTCFeatureExtractor, WhisperCTCForCTC, load, register

__all__ = ["WhisperCTCConfig", "WhisperCTCFeatureExtractor", "WhisperCTCForCTC", "load", "register"]
