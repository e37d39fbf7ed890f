"""The one table of Whisper module paths, and the capture names the lab gives their outputs.

``MODULES`` maps a canonical part name to the Hugging Face module path inside
``WhisperForConditionalGeneration`` (transformers 5.x). When transformers renames a module, this
table and the golden test in ``tests/whisper/test_capture.py`` change -- nothing else.

Capture names (tensor names in the Trace) and their axes are listed in ``AXES`` (per-layer and
per-step names are patterns with ``{i}`` / ``{s}``), the meta keys in ``META``; ``describe()``
lists both (a test checks every name and meta key of real traces against them).
"""
from __future__ import annotations

import torch

from .. import tables
from ..capture import module_at
from .constants import ENCODER_FRAMES_PER_SECOND, MEL_FRAMES_PER_SECOND, SAMPLE_RATE

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

# intervention target -> (HF path of the part, its output projection inside it): lab.interventions
# cuts heads at the projection's input and replaces a whole part's output (intervention_targets)
INTERVENTION_TARGETS: dict[str, tuple[str, str | None]] = {
    "encoder.layers.{i}.attn": ("model.encoder.layers.{i}.self_attn", "out_proj"),
    "encoder.layers.{i}.ffn": ("model.encoder.layers.{i}.fc2", None),
    "decoder.layers.{i}.self_attn": ("model.decoder.layers.{i}.self_attn", "out_proj"),
    "decoder.layers.{i}.cross_attn": ("model.decoder.layers.{i}.encoder_attn", "out_proj"),
    "decoder.layers.{i}.ffn": ("model.decoder.layers.{i}.fc2", None),
}


def intervention_targets(model) -> dict[str, tuple[str, str | None]]:
    """Concrete intervention targets of ``model`` (``encoder.layers.0.attn`` ...)."""
    from ..interventions.targets import expand

    c = model.config
    return expand(INTERVENTION_TARGETS, {"encoder": c.encoder_layers, "decoder": c.decoder_layers})


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
    "decoder.language_probs": ("language",),
    "timestamps.cross_attn": ("alignment_head", "step", "key_frame"),
    "timestamps.matrix": ("step", "encoder_frame"),
    "timestamps.path": ("point", "coord"),
}

# meta key -> what it holds (trace.meta of trace_whisper / trace_long)
META: dict[str, str] = {
    "model": "config numbers: d_model, layers, heads, vocab_size, n_mels, attn_implementation ...",
    "source": "where the audio came from",
    "timings": "seconds per stage: encoder_s, decode_s, timestamps_s, beam_s",
    "n_content_mel_frames": "mel frames holding audio (the rest of the 3000 is padding)",
    "n_mel_frames": "mel frames of the window (3000)",
    "content_seconds": "seconds of audio in the window",
    "audio_notes": "what loading changed (resampled, down-mixed ...)",
    "prompt": "[{token_id, token, role}] fed before the first generated token; role: previous | sot | "
              "language | task | no_timestamps",
    "language": "language code in the prompt (multilingual checkpoints), else None",
    "task": "transcribe | translate (multilingual checkpoints), else None",
    "language_probs": "the language step: top 10 [{language (code), name, prob}] best first",
    "language_codes": "language codes in token-id order: the language axis of decoder.language_probs",
    "detected_language": "the language step's own pick (argmax), also when a language was forced",
    "language_source": "detected (the language step chose it) | forced (given) | None (English-only)",
    "alignment_heads": "[[layer, head]] whose cross-attention gives word timestamps",
    "captured_layers": "{encoder: [...], decoder: [...]} layers the policy kept",
    "captured_heads": "heads the policy kept (None: all)",
    "stop_reason": "end_of_text | max_steps | repetition",
    "token_ids": "generated token ids (the steps' token_id)",
    "text": "decoded text (special tokens skipped)",
    "timestamps": "DTW settings and rows behind timestamps.matrix / timestamps.path",
    "words": "[{word, start, end, probability, tokens}] from the alignment heads (seconds)",
    "reference": "the reference transcript given",
    "wer": "WER alignment of the text against the reference (lab.wer)",
    "beam": "beam tree: nodes, finished hypotheses, best_text (beam_size > 1)",
    "window": "trace_long: this window's record {index, start, end (s, absolute: seek start -> new seek), "
              "decoded_end, end_reason (last_timestamp | single_timestamp | no_timestamp_pair | no_speech | "
              "end_of_audio | max_tokens), temperature, fallbacks [{temperature, reasons, compression_ratio, "
              "avg_logprob}], compression_ratio, avg_logprob, no_speech_prob, skipped, text, prompt_tokens "
              "(previous text fed after <|startofprev|>), prompt_text, n_segments} (LongResult.windows)",
    "segments": "timestamp-token mode: [{start, end (s, window-relative), text, tokens (ids, timestamps "
                "included), complete}] between <|t|> pairs (trace_long: the window's kept segments; "
                "LongResult.segments: absolute times + window)",
    "no_speech_prob": "trace_long: probability of <|nospeech|> from the logits at the start-of-transcript position",
    "temperature": "trace_long: sampling temperature of this decode attempt (0 = greedy)",
    "lens": "whisper_lens runs: {layer, n_layers, what} -- encoder.output = "
            "encoder.layer_norm(encoder.hidden[layer]) (lab.interventions.lens)",
    "intervention": "what-if runs: {interventions (the spec), ablations [{target, mode, heads, n_heads, "
                    "module, hooked, hook, calls}], force {step: token_id}"
                    ", patches [{target, module, hook, source, source_frames, frames, n_frames, frames_per_second, seconds | tokens_replaced, calls}], edited_seconds [[start, end]]} (lab.interventions)",
}

TIME_BASES = {"sample": float(SAMPLE_RATE), "mel_frame": MEL_FRAMES_PER_SECOND,
              "stem_frame": MEL_FRAMES_PER_SECOND, "encoder_frame": ENCODER_FRAMES_PER_SECOND,
              "query_frame": ENCODER_FRAMES_PER_SECOND, "key_frame": ENCODER_FRAMES_PER_SECOND}


def describe() -> list[dict]:
    """What a Whisper trace can hold: rows ``{name, kind, axes, doc}`` from ``AXES`` and ``META``."""
    return tables.rows(AXES, META)


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
