"""Whisper input features and the encoder pass, captured with hooks.

One 30 s window: waveform (16 kHz, <= 30 s) -> log-mel (80 x 3000, zero-padded audio after the
clip) -> conv stem (3000 -> 1500 frames) -> encoder layers -> final layer norm.
Hooks come from ``lab.capture.hooks`` (installed under the model's lock, removed in ``finally``).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..audio import Audio
from ..capture import AttentionRecorder, hooks, model_lock  # noqa: F401 (model_lock re-exported)
from ..errors import LabError
from ..trace import Trace
from . import names
from .constants import HOP, SAMPLE_RATE, WINDOW_SECONDS


def log_mel(audio: Audio, processor) -> tuple[torch.Tensor, int]:
    """(input_features (1, n_mels, 3000) float32, number of mel frames that hold audio).

    The feature extractor pads the waveform with zeros to 30 s; frames past
    ``ceil(n_samples / 160)`` are padding (the same count as the extractor's attention mask).
    """
    if audio.sample_rate != SAMPLE_RATE:
        raise LabError(f"Whisper needs 16 kHz audio, got {audio.sample_rate} Hz (use load_audio)")
    if audio.seconds > WINDOW_SECONDS + 1e-9:
        raise LabError(f"audio is {audio.seconds:.1f} s; one Whisper window holds 30 s "
                       "(use lab.whisper.trace_long for longer audio)")
    fe = processor.feature_extractor
    feats = fe(audio.samples, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
    n_content = min(feats.shape[-1], math.ceil(len(audio.samples) / HOP))
    return feats.to(torch.float32), int(n_content)


def capture_encoder(model, input_features: torch.Tensor, trace: Trace) -> torch.Tensor:
    """Run the encoder once on ``input_features`` (1, n_mels, 3000), recording into ``trace``:

    - ``encoder.conv.1`` (channel, stem_frame): GELU(conv1(mel)), d_model x 3000
    - ``encoder.conv.2`` (channel, encoder_frame): GELU(conv2(.)), d_model x 1500
    - ``encoder.layers.{i}.attn.pattern`` (head, query_frame, key_frame): softmax weights, for the
      layers/heads the policy keeps, at its ``attn_dtype``
    - ``encoder.hidden`` (layer, encoder_frame, hidden): layer 0 = conv stem + positions (input to
      layer 0), layer i+1 = output of layer i (before the final layer norm)
    - ``encoder.output`` (encoder_frame, hidden): after the final layer norm (what the decoder reads)

    Returns the encoder output (1, 1500, d_model) on the model's device.
    """
    enc = names.module(model, "encoder")
    n_layers = len(enc.layers)
    hidden: list[torch.Tensor | None] = [None] * (n_layers + 1)
    attn = AttentionRecorder(model, trace=trace, name="encoder.layers.{i}.attn.pattern",
                             axes=names.AXES["encoder.layers.{i}.attn.pattern"], part="encoder")
    want_attn = attn.wanted(n_layers)

    def conv_hook(name, axes):
        def fn(_m, _inp, out):
            # the model applies GELU functionally after each conv: record what the next stage sees
            trace.add(name, F.gelu(out[0]), axes)
        return fn

    def layer_in(_m, args):
        hidden[0] = args[0][0].detach()

    def layer_out(i):
        def fn(_m, _inp, out):
            hs = out[0] if isinstance(out, tuple) else out
            hidden[i + 1] = hs[0].detach()
        return fn

    installs = [(names.module(model, "encoder.conv.1"), conv_hook("encoder.conv.1", ("channel", "stem_frame"))),
                (names.module(model, "encoder.conv.2"), conv_hook("encoder.conv.2", ("channel", "encoder_frame")))]
    installs += [(names.module(model, "encoder.layers.{i}", i=i), layer_out(i)) for i in range(n_layers)]
    installs += [(names.module(model, "encoder.layers.{i}.attn", i=i), attn.hook(i)) for i in want_attn]
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    with torch.no_grad(), \
            hooks(model, [(names.module(model, "encoder.layers.{i}", i=0), layer_in)], pre=True), \
            hooks(model, installs):
        out = enc(input_features.to(device=device, dtype=dtype)).last_hidden_state
    attn.check()
    trace.add("encoder.hidden", torch.stack(hidden), names.AXES["encoder.hidden"])
    trace.add("encoder.output", out[0], names.AXES["encoder.output"])
    return out


def record_inputs(trace: Trace, audio: Audio, input_features: torch.Tensor, n_content: int) -> None:
    """``input.waveform`` (sample,) and ``input.log_mel`` (mel_bin, mel_frame) + padding meta."""
    trace.add("input.waveform", torch.from_numpy(np.ascontiguousarray(audio.samples)), ("sample",))
    trace.add("input.log_mel", input_features[0], ("mel_bin", "mel_frame"))
    trace.meta["n_content_mel_frames"] = n_content
    trace.meta["n_mel_frames"] = int(input_features.shape[-1])
    trace.meta["content_seconds"] = round(len(audio.samples) / SAMPLE_RATE, 4)
    trace.meta["audio_notes"] = list(audio.notes)
