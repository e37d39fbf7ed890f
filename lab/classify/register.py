"""The audio-classification family's rows in the resolver's registry (entry point
``audiolab.families``)."""
from __future__ import annotations

from lab import registry

HUB_IDS = ("MIT/ast-finetuned-audioset-10-10-0.4593", "MIT/ast-finetuned-speech-commands-v2",
           "superb/wav2vec2-base-superb-ks", "superb/hubert-base-superb-ks",
           ("anton-l/wav2vec2-base-superb-sd",
            "Wav2Vec2ForAudioFrameClassification (speaker diarization)"))


def load(path: str, attn: str, **kw):
    """Audio classifiers: ``*ForAudioFrameClassification`` architectures load with
    AutoModelForAudioFrameClassification (per-frame labels), everything else with
    AutoModelForAudioClassification (one distribution per clip)."""
    from transformers import AutoConfig

    archs = list(AutoConfig.from_pretrained(path, **registry.proc_kw(kw)).architectures or [])
    frame = any(a.endswith("ForAudioFrameClassification") for a in archs)
    auto = "AutoModelForAudioFrameClassification" if frame else "AutoModelForAudioClassification"
    return registry.auto_loader(auto, "AutoFeatureExtractor")(path, attn, **kw)


def register() -> None:
    registry.add_hub("classify", *HUB_IDS)
    registry.add_family("classify", load, architectures=("ASTForAudioClassification",),
                        suffixes=("ForSequenceClassification", "ForAudioFrameClassification",
                                  "ForAudioClassification"))
