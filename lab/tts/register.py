"""The TTS family's rows in the resolver's registry (entry point ``audiolab.families``):
SpeechT5 text-to-speech and its HiFi-GAN vocoder."""
from __future__ import annotations

from pathlib import Path

from lab import registry


def text_frontend(model, processor, path: str) -> None:
    """A ``text_frontend.json`` in the directory (a model that reads phones, :mod:`lab.tts.phones`)
    becomes ``processor.text_frontend``."""
    if processor is not None and Path(path).is_dir():
        from .phones import load_frontend

        processor.text_frontend = load_frontend(path)


def register() -> None:
    registry.add_hub("tts", "microsoft/speecht5_tts")
    registry.add_hub("vocoder", "microsoft/speecht5_hifigan")
    registry.add_family("tts", registry.auto_loader("SpeechT5ForTextToSpeech", "SpeechT5Processor"),
                        architectures=("SpeechT5ForTextToSpeech",))
    registry.add_post_load("tts", text_frontend)
    registry.add_family("vocoder", registry.auto_loader("SpeechT5HifiGan", ""),
                        architectures=("SpeechT5HifiGan",))
