"""The one table of Whisper module paths, and the capture names the lab gives their outputs.

``MODULES`` maps a canonical part name to the Hugging Face module path inside
``WhisperForConditionalGeneration`` (transformers 5.x). When transformers renames a module, this
table and the golden test in ``tests/whisper/test_capture.py`` change -- nothing else.

Capture names (tensor names in the Trace) and their axes are listed in ``AXES`` (per-layer and
per-step names are patterns with ``{i}`` / ``{s}``); ``WHISPER_CONTRACT.md`` documents them.
"""
from __future__ import annotations

import torch

from ..trace import module_at

MODULES: dict[str, str] = {
    "encoder": "model.encoder",
    "encoder.conv.1": "model.encoder.conv1",            # Conv1d(n_mels -> d_model, k3, s1); GELU is functional
    "encoder.conv.2": "model.encoder.conv2",            # Conv1d(d_model -> d_model, k3, s2)
    "encoder.layers.{i}": "model.encoder.layers.{i}",
    "encoder.layers.{i}.attn": "model.encoder.layers.{i}.self_attn",
    "encoder.layer_norm": "model.encoder.layer_norm",
    "decoder": "model.decoder",
    "decoder.layers.{i}.self_attn": "model.decoder.layers.{i}.self_attn",
    "decoder.layers.{i}.cross_attn": "model.decoder.layers.{i}.encoder_attn",
}

# capture name -> axes (the contract; describe() of a trace matches these patterns)
AXES: dict[str, tuple[str, ...]] = {
    "input.waveform": ("sample",),
    "input.log_mel": ("mel_bin", "mel_frame"),
    "encoder.conv.1": ("channel", "stem_frame"),
    "encoder.conv.2": ("channel", "encoder_frame"),
    "encoder.layers.{i}.attn.pattern": ("head", "query_frame", "key_frame"),
    "encoder.hidden": ("layer", "encoder_frame", "hidden"),
    "encoder.output": ("encoder_frame", "hidden"),
    "decoder.prompt.self_attn.pattern": ("layer", "head", "query_token", "key_token"),
    "decoder.prompt.cross_attn.pattern": ("layer", "head", "query_token", "key_frame"),
    "decoder.step.{s}.self_attn.pattern": ("layer", "head", "key_token"),
    "decoder.step.{s}.cross_attn.pattern": ("layer", "head", "key_frame"),
    "decoder.logits": ("step", "vocab"),
    "timestamps.cross_attn": ("alignment_head", "step", "key_frame"),
    "timestamps.matrix": ("step", "encoder_frame"),
    "timestamps.path": ("point", "coord"),
}

TIME_BASES = {"sample": 16000.0, "mel_frame": 100.0, "stem_frame": 100.0, "encoder_frame": 50.0,
              "query_frame": 50.0, "key_frame": 50.0}


def path(name: str, **index: int) -> str:
    """HF module path of canonical part ``name`` (``{i}`` filled from ``index``)."""
    return MODULES[name].format(**index)


def module(model: torch.nn.Module, name: str, **index: int) -> torch.nn.Module:
    """The submodule of ``model`` for canonical part ``name``; LabError if transformers moved it."""
    return module_at(model, path(name, **index))


def enc_attn(i: int) -> str:
    return f"encoder.layers.{i}.attn.pattern"


def step_self(s: int) -> str:
    return f"decoder.step.{s}.self_attn.pattern"


def step_cross(s: int) -> str:
    return f"decoder.step.{s}.cross_attn.pattern"


def axes_of(name: str) -> tuple[str, ...]:
    """Axes of a concrete capture name (``encoder.layers.3.attn.pattern`` -> its pattern's axes)."""
    if name in AXES:
        return AXES[name]
    parts = name.split(".")
    for pattern, axes in AXES.items():
        pp = pattern.split(".")
        if len(pp) == len(parts) and all(a == b or (a.startswith("{") and b.isdigit())
                                         for a, b in zip(pp, parts)):
            return axes
    raise KeyError(f"{name!r} is not a Whisper capture name")
