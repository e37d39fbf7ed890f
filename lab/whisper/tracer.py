"""``trace_whisper`` / ``iter_trace_whisper``: one <= 30 s window through Whisper, everything kept.

audio -> log-mel -> encoder (hooks) -> prompt -> greedy steps (hooks, KV cache) -> text,
word timestamps (DTW over the alignment heads' cross-attention), WER against a reference, and
optionally a beam search over the same encoder output.
"""
from __future__ import annotations

import time
from typing import Iterator

from .. import capture as _core
from ..audio import Audio
from ..errors import LabError
from ..trace import CapturePolicy, Trace
from . import names
from .capture import capture_encoder, log_mel, record_inputs
from .constants import SAMPLE_RATE
from .decode import build_prompt, decode_greedy
from .language import describe_prompt, record_language


def as_loaded(loaded):
    """A ``lab.models.Loaded`` from a Loaded or a model id (resolved with ``load_cached``)."""
    return _core.as_loaded(loaded, "whisper")


def as_audio(audio) -> Audio:
    """Mono float32 audio at 16 kHz (see ``lab.capture.as_audio``)."""
    return _core.as_audio(audio, SAMPLE_RATE)


def alignment_heads(model) -> list[list[int]]:
    """[[layer, head]...] from ``generation_config.alignment_heads``; when missing (random test
    models), the cross-attention heads of the upper half of the decoder (openai/whisper's default)."""
    heads = getattr(model.generation_config, "alignment_heads", None)
    if heads:
        return [[int(l), int(h)] for l, h in heads]
    L, H = model.config.decoder_layers, model.config.decoder_attention_heads
    return [[l, h] for l in range(L // 2, L) for h in range(H)]


def _check_policy(policy: CapturePolicy, model) -> None:
    c = model.config
    n_layers = max(c.encoder_layers, c.decoder_layers)
    n_heads = min(c.encoder_attention_heads, c.decoder_attention_heads)
    bad_l = [i for i in (policy.layers or []) if not 0 <= i < n_layers]
    bad_h = [h for h in (policy.heads or []) if not 0 <= h < n_heads]
    if bad_l or bad_h:
        raise LabError(f"capture policy asks for layers {bad_l} / heads {bad_h} this model does not have "
                       f"(layers 0..{n_layers - 1}, heads 0..{n_heads - 1})")


def _model_meta(model) -> dict:
    c = model.config
    return {"d_model": c.d_model, "encoder_layers": c.encoder_layers, "decoder_layers": c.decoder_layers,
            "encoder_heads": c.encoder_attention_heads, "decoder_heads": c.decoder_attention_heads,
            "vocab_size": c.vocab_size, "n_mels": c.num_mel_bins,
            "max_target_positions": c.max_target_positions,
            "attn_implementation": c._attn_implementation}


def iter_trace_whisper(audio, loaded=None, *, policy: CapturePolicy | None = None, top_k: int = 10,
                       max_steps: int | None = None, beam_size: int | None = None,
                       reference: str | None = None, word_timestamps: bool = True,
                       language: str | None = None, task: str | None = None,
                       stop_on_repetition: bool = True, timestamps: bool = False,
                       interventions=None) -> Iterator[Trace]:
    """Yield the same growing Trace: after the encoder, after each decoder step, and once complete
    (text, words, wer, beam). Names, axes and meta keys: ``lab.whisper.names.AXES`` / ``META``
    (``lab.whisper.describe()``). ``timestamps``: timestamp-token mode (no <|notimestamps|> in the
    prompt, ``<|0.00|>`` tokens decoded as ``generate(return_timestamps=True)``); adds
    ``meta["segments"]``. ``interventions``: a what-if run (``lab.interventions``: ablations and patches
    hooked around every forward pass, ``force_token`` steps, audio edits applied to the clip first);
    adds ``meta["intervention"]``."""
    from ..interventions.edit import apply_edits
    from ..interventions.hooks import plan_for

    loaded = as_loaded(loaded)
    audio = as_audio(audio)
    model, tokenizer = loaded.model, loaded.processor.tokenizer
    if top_k < 1:
        raise LabError(f"top_k must be >= 1, got {top_k}")
    policy = policy or CapturePolicy()
    _check_policy(policy, model)
    plan = plan_for(model, "whisper", interventions, loaded=loaded)
    audio = apply_edits(audio, plan.of_kind("edit"))  # what-if: the trace keeps the edited clip
    trace = Trace(family="whisper", model_id=loaded.model_id, weights_source=loaded.weights_source,
                  policy=policy)
    trace.time_bases = dict(names.TIME_BASES)
    trace.meta["model"] = _model_meta(model)
    trace.meta["source"] = audio.source
    timings = trace.meta["timings"] = {}

    t0 = time.perf_counter()
    feats, n_content = log_mel(audio, loaded.processor)
    record_inputs(trace, audio, feats, n_content)
    with plan.installed():
        enc_out = capture_encoder(model, feats, trace)
    timings["encoder_s"] = round(time.perf_counter() - t0, 4)
    yield trace

    t0 = time.perf_counter()
    # the language step is shown also when the language is forced (one decoder step, cheap)
    with plan.installed():
        prompt = build_prompt(model, tokenizer, enc_out, language=language, task=task,
                              timestamps=timestamps, show_language_step=True)
    trace.meta["prompt"] = describe_prompt(prompt.ids, tokenizer, model)
    record_language(trace, prompt)
    heads = alignment_heads(model)
    trace.meta["alignment_heads"] = heads
    kept = trace.policy.layers
    trace.meta["captured_layers"] = {
        "encoder": [i for i in range(model.config.encoder_layers) if kept is None or i in kept],
        "decoder": [i for i in range(model.config.decoder_layers) if kept is None or i in kept]}
    trace.meta["captured_heads"] = None if trace.policy.heads is None else list(trace.policy.heads)
    for _ in plan.stepwise(decode_greedy(model, tokenizer, enc_out, prompt, trace, top_k=top_k,
                                         max_steps=max_steps, stop_on_repetition=stop_on_repetition,
                                         alignment_heads=heads if word_timestamps else None,
                                         timestamps=timestamps, force=plan.force or None)):
        yield trace
    if plan:
        plan.check_force(len(trace.steps))
    timings["decode_s"] = round(time.perf_counter() - t0, 4)
    trace.meta["token_ids"] = [s["token_id"] for s in trace.steps]
    trace.meta["text"] = tokenizer.decode(trace.meta["token_ids"], skip_special_tokens=True)
    if timestamps:
        from .segments import window_segments

        trace.meta["segments"] = window_segments(trace, model, tokenizer)

    if word_timestamps:
        from .timestamps import word_timestamps as _words

        t0 = time.perf_counter()
        trace.meta["words"] = _words(trace, tokenizer, eos=int(model.generation_config.eos_token_id))
        timings["timestamps_s"] = round(time.perf_counter() - t0, 4)
    else:
        trace.meta["words"] = []
    if reference is not None:
        from ..wer import wer_alignment

        trace.meta["reference"] = reference
        trace.meta["wer"] = wer_alignment(reference, trace.meta["text"])
    if beam_size is not None and beam_size > 1:
        from .beam import beam_search

        t0 = time.perf_counter()
        with plan.fresh().installed():  # ablations only: force_token applies to the greedy run
            trace.meta["beam"] = beam_search(model, tokenizer, enc_out, prompt, beam_size=beam_size,
                                             max_steps=max_steps, timestamps=timestamps)
        timings["beam_s"] = round(time.perf_counter() - t0, 4)
    if plan:
        plan.check()
        trace.meta["intervention"] = plan.record()
    yield trace


def trace_whisper(audio, loaded=None, **kwargs) -> Trace:
    """Trace one <= 30 s window (greedy; ``beam_size > 1`` adds ``meta["beam"]``). Arguments as
    :func:`iter_trace_whisper`; returns the complete Trace."""
    trace = None
    for trace in iter_trace_whisper(audio, loaded, **kwargs):
        pass
    return trace
