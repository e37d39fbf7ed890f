"""Loading M-CTC-T checkpoints (hub id or local HF directory) through the lab's own classes.

``load(path, attn, **kw) -> (MCTCTForCTC, MCTCTProcessor)`` is the resolver's loader for
``architectures: ["MCTCTForCTC"]`` / ``model_type: "mctct"`` (see ``lab.models``). Weights come
from safetensors only; no remote code. ``register_auto()`` makes transformers 5's
``AutoConfig`` / ``AutoModelForCTC`` / ``AutoFeatureExtractor`` know ``model_type "mctct"``
(v5 has no entry for it at all, so there is nothing to override); when a transformers release
does own the name, the lab leaves its registry alone and still loads through these classes.
"""
from __future__ import annotations

from ...errors import LabError
from .config import MCTCTConfig
from .features import MCTCTFeatureExtractor
from .modeling import MCTCTForCTC
from .processing import MCTCTProcessor

MODEL_TYPE = "mctct"
ARCHITECTURE = "MCTCTForCTC"
_PROC_KW = ("local_files_only", "revision", "cache_dir")


def is_mctct(config: dict) -> bool:
    """True for a ``config.json`` dict of an M-CTC-T checkpoint."""
    return config.get("model_type") == MODEL_TYPE or ARCHITECTURE in (config.get("architectures") or [])


def register_auto() -> bool:
    """Register the lab's classes under ``model_type "mctct"`` with the transformers Auto
    classes, once. Returns False (and registers nothing) if transformers already has "mctct"."""
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForCTC
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING, CONFIG_MAPPING_NAMES

    if MODEL_TYPE in CONFIG_MAPPING_NAMES:  # a release that ships its own M-CTC-T
        return False
    if MODEL_TYPE not in CONFIG_MAPPING:
        AutoConfig.register(MODEL_TYPE, MCTCTConfig)
        AutoModelForCTC.register(MCTCTConfig, MCTCTForCTC)
        AutoFeatureExtractor.register(MCTCTConfig, MCTCTFeatureExtractor)
    return CONFIG_MAPPING[MODEL_TYPE] is MCTCTConfig


def load(path: str, attn: str = "eager", **kw):
    """(model, processor) from a local HF directory or a hub id.

    The lab's attention is always eager (it returns attention weights); ``attn`` is accepted
    for the resolver's signature. ``kw``: ``use_safetensors``, ``local_files_only``,
    ``revision``, ``cache_dir``, ``dtype`` -- passed to ``from_pretrained``.
    """
    kw = {**kw, "use_safetensors": True}
    try:
        model = MCTCTForCTC.from_pretrained(path, attn_implementation="eager", **kw)
    except OSError as exc:
        if "safetensors" in str(exc):
            raise LabError(
                f"{path}: no model.safetensors. The lab loads safetensors only: put the checkpoint "
                f"in a directory (for a hub id: `huggingface-cli download {path} --local-dir DIR`), "
                f"convert its pytorch_model.bin once with `python -m lab.ctc.mctct.convert DIR` "
                f"and load DIR") from None
        raise
    proc_kw = {k: v for k, v in kw.items() if k in _PROC_KW}
    try:
        processor = MCTCTProcessor.from_pretrained(path, **proc_kw)
    except (OSError, TypeError, ValueError) as exc:
        raise LabError(f"{path}: M-CTC-T needs preprocessor_config.json (features) and "
                       f"vocab.json + tokenizer_config.json (Wav2Vec2CTCTokenizer): {exc}") from None
    return model, processor
