"""The TTS family's tables: HF module paths inside ``SpeechT5ForTextToSpeech`` (``MODULES``), the
capture names and their axes (``AXES``) and the meta keys (``META``) of a ``trace_tts`` Trace.

When transformers renames a module, ``MODULES`` and its golden test (tests/tts/test_tts_loop.py)
change. ``describe()`` lists what a TTS trace can hold; a test checks real traces against it.
Time bases: ``sample`` (16000, or the vocoder's rate), ``mel_frame`` (sample rate / hop = 62.5),
``step`` (mel_frame / reduction_factor = 31.25).
"""
from __future__ import annotations

from .. import tables

# canonical part -> module path inside SpeechT5ForTextToSpeech (transformers 5.x)
MODULES = {
    "encoder": "speecht5.encoder",                  # SpeechT5EncoderWithTextPrenet
    "encoder_layers": "speecht5.encoder.wrapped_encoder.layers",
    "decoder_prenet": "speecht5.decoder.prenet",    # SpeechT5SpeechDecoderPrenet (dropout!)
    "decoder": "speecht5.decoder.wrapped_decoder",  # SpeechT5Decoder (layers + KV cache)
    "feat_out": "speech_decoder_postnet.feat_out",  # hidden -> r * n_mels
    "prob_out": "speech_decoder_postnet.prob_out",  # hidden -> r stop logits
    "postnet": "speech_decoder_postnet",            # .postnet(mel) = mel + conv stack(mel)
}

# intervention target -> (HF path of the part, its output projection inside it): lab.interventions
# cuts heads at the projection's input and replaces a whole part's output (intervention_targets)
_ENC, _DEC = "speecht5.encoder.wrapped_encoder.layers.{i}", "speecht5.decoder.wrapped_decoder.layers.{i}"
INTERVENTION_TARGETS: dict[str, tuple[str, str | None]] = {
    "encoder.layers.{i}.attn": (f"{_ENC}.attention", "out_proj"),
    "encoder.layers.{i}.ffn": (f"{_ENC}.feed_forward", None),
    "decoder.layers.{i}.self_attn": (f"{_DEC}.self_attn", "out_proj"),
    "decoder.layers.{i}.cross_attn": (f"{_DEC}.encoder_attn", "out_proj"),
    "decoder.layers.{i}.ffn": (f"{_DEC}.feed_forward", None),
}


def intervention_targets(model) -> dict[str, tuple[str, str | None]]:
    """Concrete intervention targets of ``model`` (``decoder.layers.0.cross_attn`` ...)."""
    from ..interventions.targets import expand

    c = model.config
    return expand(INTERVENTION_TARGETS, {"encoder": c.encoder_layers, "decoder": c.decoder_layers})


# capture name -> axes
AXES: dict[str, tuple[str, ...]] = {
    "input.token_ids": ("text_token",),
    "encoder.hidden": ("layer", "text_token", "hidden"),
    "encoder.output": ("text_token", "hidden"),
    "encoder.layers.{i}.attn.pattern": ("head", "query_token", "key_token"),
    "tts.speaker_embedding": ("speaker_dim",),
    "tts.decoder_input": ("step", "mel_bin"),
    "tts.decoder_hidden": ("step", "hidden"),
    "tts.stop_prob": ("step",),
    "tts.stop_prob_frames": ("step", "frame_in_step"),
    "tts.cross_attn": ("step", "layer", "head", "text_token"),
    "tts.mel_pre_postnet": ("mel_frame", "mel_bin"),
    "tts.mel_postnet": ("mel_frame", "mel_bin"),
    "tts.postnet_delta": ("mel_frame", "mel_bin"),
    "tts.waveform": ("sample",),
    "tts.waveform_griffin_lim": ("sample",),
}

NOTES: dict[str, str] = {
    "input.token_ids": "int64, ends with </s>",
    "encoder.hidden": "layer 0 = input to layer 0",
    "encoder.output": "what the decoder reads",
    "tts.speaker_embedding": "as given (the model L2-normalises)",
    "tts.decoder_input": "frame fed back (zeros at step 0)",
    "tts.decoder_hidden": "decoder output per step",
    "tts.stop_prob": "sum over the step's r frames of sigmoid(stop logit)",
    "tts.stop_prob_frames": "per new frame",
    "tts.cross_attn": "decoder query over the text",
    "tts.mel_pre_postnet": "log10 mel, before the post-net",
    "tts.mel_postnet": "after it (= generate_speech's output)",
    "tts.postnet_delta": "post - pre",
    "tts.waveform": "the vocoder's audio (meta['vocoder'])",
    "tts.waveform_griffin_lim": "also Griffin-Lim, when the main vocoder is HiFi-GAN",
}

META: dict[str, str] = {
    "text": "the text given",
    "spoken_text": "the text after cleaning (what the model reads)",
    "text_problems": "what the text check changed or warned about",
    "phones": "phone model: the phone sequence, else None",
    "text_frontend": "phone model: the text frontend, else None",
    "unknown_chars": "characters outside the vocabulary",
    "replaced_chars": "[[from, to]] replacements made",
    "n_tokens": "text tokens",
    "max_text_positions": "config.max_text_positions",
    "max_speech_positions": "config.max_speech_positions",
    "reduction_factor": "mel frames per decoder step (r)",
    "num_mel_bins": "config.num_mel_bins",
    "threshold": "stop threshold on the summed stop probability",
    "minlenratio": "minimum steps / (text tokens / r)",
    "maxlenratio": "maximum steps / (text tokens / r)",
    "minlen": "minimum decoder steps",
    "maxlen": "maximum decoder steps",
    "seed": "prenet dropout seed (None: torch's global generator)",
    "prenet_dropout": "config.speech_decoder_prenet_dropout (applied at inference too)",
    "speaker": "where the speaker embedding came from",
    "mel": "vocoder mel settings (lab.tts.vocoder.MelParams)",
    "complete": "False while streaming, True once post-net and waveform are in",
    "timings": "encoder_s, decoder_s, postnet_s, vocoder_s",
    "n_steps": "decoder steps run",
    "n_frames": "mel frames (n_steps * r)",
    "stop_reason": "threshold | max_length | max_positions",
    "stop_step": "0-based index of the step where the stop rule fired",
    "diagonality": "cross-attention diagonality per (layer, head), best and mean",
    "vocoder": "the vocoder that made tts.waveform",
    "vocoder_source": "where its weights came from",
    "vocoder_note": "why this vocoder",
    "sample_rate": "waveform sample rate",
    "seconds": "waveform length",
    "intervention": "what-if runs: {interventions (the spec), ablations [{target, mode, heads, n_heads, "
                    "module, hooked, hook, calls}], tts_knobs {stop, speaker, clamp}: what each TTS knob "
                    "did (lab.interventions.tts_knobs)} (lab.interventions)",
}


def describe() -> list[dict]:
    """What a TTS trace can hold: rows ``{name, kind, axes, doc}`` from ``AXES`` and ``META``."""
    return tables.rows(AXES, META, NOTES)
