"""Audio of any length: Whisper's own sequential long-form algorithm, every window traced.

The algorithm of openai ``transcribe()`` as transformers 5 ``WhisperGenerationMixin.generate``
implements it for input over 30 s (same arithmetic, tested token-for-token against
``model.generate(input_features, attention_mask, return_timestamps=True, ...)``):

1. log-mel of the WHOLE clip (``truncation=False, padding="longest"``); ``seek`` = 0 (mel frames).
2. The window = frames ``[seek, seek + 3000)``, zero-padded (in log-mel space) to 3000; encoder.
3. Prompt: ``[<|startofprev|>, last <= 223 tokens of the previous segments,]`` (only with
   ``condition_on_prev_tokens`` and after a window decoded at temperature < 0.5), then
   ``<|startoftranscript|> [<|lang|> <|task|>]`` (language detected once, on the first window).
4. Decode with timestamp tokens (``lab.whisper.timestamp_rules``), greedy at temperature 0, else
   sampled (seeded). Temperature fallback: the next temperature is tried while the compression
   ratio (zlib, ``compression_ratio_threshold``) is too high or the average log-probability
   (``logprob_threshold``) too low. No-speech: when the average log-probability is below
   ``logprob_threshold`` and the ``<|nospeech|>`` probability at the start-of-transcript position
   is above ``no_speech_threshold``, the window is skipped.
5. Segments from the timestamp pairs (``lab.whisper.segments``); ``seek`` moves to the last
   complete timestamp, or by the whole window (single final timestamp / no pair / skipped).

Lean capture by default (``LONG_DEFAULT_NAMES``): the window's waveform and log-mel, the decoder's
per-step self- and cross-attention (all layers and heads, fp16, over the 1500 encoder frames) and
the word-timestamp tensors; no encoder internals (conv, hidden states, self-attention:
~110-220 MB per window) and no per-step full-vocabulary logits (the steps keep their top-k).
"""
from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..audio import Audio
from ..errors import LabError
from ..trace import CapturePolicy, Trace
from . import names
from .capture import capture_encoder, record_inputs
from .constants import HOP, MEL_FRAMES_PER_SECOND, SAMPLE_RATE, WINDOW_MEL_FRAMES, WINDOW_SECONDS
from .decode import Prompt, build_prompt, decode_greedy
from .language import describe_prompt, record_language
from .segments import split_segments, with_text
from .tracer import _check_policy, _model_meta, alignment_heads, as_audio, as_loaded

LONG_DEFAULT_NAMES = ["input.*", "decoder.prompt.*", "decoder.step.*", "timestamps.*"]

# openai transcribe()'s defaults, for callers who want its fallback behaviour (the lab's default,
# like generate()'s, is greedy with no thresholds and no conditioning)
OPENAI_DEFAULTS = dict(temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), compression_ratio_threshold=2.4,
                       logprob_threshold=-1.0, no_speech_threshold=0.6, condition_on_prev_tokens=True)


@dataclass
class LongResult:
    """The whole recording.

    ``traces[k]``: the trace of window ``k`` (the kept attempt; times inside start at 0; its
    ``meta["window"]`` is ``windows[k]``). ``windows[k]``: ``{index, start, end`` (s, absolute:
    the span the window consumed, seek start -> new seek), ``decoded_end`` (s: 30 s window end or
    audio end), ``end_reason`` (last_timestamp | single_timestamp | no_timestamp_pair | no_speech
    | end_of_audio | max_tokens), ``temperature`` (of the kept attempt), ``fallbacks`` ([{temperature,
    reasons, compression_ratio, avg_logprob}] of the rejected attempts), ``compression_ratio``,
    ``avg_logprob``, ``no_speech_prob``, ``skipped`` (no speech), ``text``, ``prompt_tokens`` (ids
    of the previous text fed after <|startofprev|>), ``prompt_text``, ``n_segments}``.
    ``segments``: [{start, end (s, absolute), text, tokens, window}]. ``words``: every window's
    words inside its kept segments, absolute times, ``window``. ``token_ids``: all segments'
    tokens (timestamps included) = ``generate()``'s long-form ``sequences``. ``text``: their
    decoded text. ``wer`` when a reference was given. ``options``: the decoding options used.
    """

    traces: list[Trace]
    text: str
    windows: list[dict]
    segments: list[dict] = field(default_factory=list)
    words: list[dict] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    wer: dict | None = None
    language: str | None = None
    options: dict = field(default_factory=dict)

    def nbytes(self) -> int:
        """Bytes of tensors held by all window traces."""
        return sum(t.nbytes() for t in self.traces)


def compression_ratio(tokens: list[int], vocab_size: int) -> float:
    """HF ``_retrieve_compression_ratio``: raw token bytes / zlib-compressed bytes."""
    length = int(math.log2(vocab_size) / 8) + 1
    raw = b"".join(int(t).to_bytes(length, "little") for t in tokens)
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def full_features(audio: Audio, processor) -> torch.Tensor:
    """(1, n_mels, n_frames) log-mel of the whole clip, as ``processor(audio, truncation=False,
    padding="longest")`` gives ``generate()``'s long-form mode."""
    fe = processor.feature_extractor
    out = fe(audio.samples, sampling_rate=SAMPLE_RATE, truncation=False, padding="longest",
             return_attention_mask=True, return_tensors="pt")
    return out.input_features.to(torch.float32)


def _prev_tokens(segments: list[dict], timestamp_begin: int, cut_off: int) -> list[int]:
    """HF ``_pad_to_max_length(..., skip_ending_double_timestamps=True, cut_off_length)``: the
    previous segments' tokens (a segment ending in two timestamps loses its last one), last
    ``cut_off`` kept."""
    seq: list[int] = []
    for s in segments:
        t = s["tokens"]
        seq += t[:-1] if len(t) > 2 and t[-2] >= timestamp_begin else t
    return seq[-cut_off:]


def _temperatures(temperature) -> list[float]:
    temps = list(temperature) if isinstance(temperature, (list, tuple)) else [temperature]
    if not temps or any(t is None or t < 0 for t in temps):
        raise LabError(f"temperature must be >= 0 (or a tuple of them), got {temperature!r}")
    return [float(t) for t in temps]


def trace_long(audio, loaded=None, *, policy: CapturePolicy | None = None, reference: str | None = None,
               temperature=0.0, compression_ratio_threshold: float | None = None,
               logprob_threshold: float | None = None, no_speech_threshold: float | None = None,
               condition_on_prev_tokens: bool = False, seed: int = 0, language: str | None = None,
               task: str | None = None, top_k: int = 5, word_timestamps: bool = True,
               max_steps: int | None = None, stop_on_repetition: bool = False, beam_size: int | None = None,
               progress=None) -> LongResult:
    """Transcribe ``audio`` of any length with Whisper's sequential long-form algorithm
    (module docstring), keeping every window's trace.

    Options as ``generate()``: ``temperature`` (a float or a tuple tried in order),
    ``compression_ratio_threshold``, ``logprob_threshold``, ``no_speech_threshold`` (needs
    ``logprob_threshold``), ``condition_on_prev_tokens``. ``seed`` seeds the sampling at
    temperature > 0 (runs are reproducible). ``OPENAI_DEFAULTS`` holds openai's fallback settings.
    ``max_steps`` caps each window's decode (default: the 448-position limit, as generate());
    ``stop_on_repetition`` is the lab's own loop stop (off: generate() has none).
    ``progress(k, seek_s, total_s)`` is called before window ``k`` is decoded.
    """
    if beam_size is not None and beam_size > 1:
        raise LabError("long-form decoding here is greedy / sampled (as generate()'s default); "
                       "beam search runs on one <= 30 s window (trace_whisper)")
    if no_speech_threshold is not None and logprob_threshold is None:
        raise LabError("no_speech_threshold needs logprob_threshold (a window is skipped when its average "
                       "log-probability is below logprob_threshold and <|nospeech|> is likely)")
    temps = _temperatures(temperature)
    loaded = as_loaded(loaded)
    audio = as_audio(audio)
    model, tokenizer = loaded.model, loaded.processor.tokenizer
    policy = policy or CapturePolicy(names=LONG_DEFAULT_NAMES)
    _check_policy(policy, model)
    gen = model.generation_config
    eos = int(gen.eos_token_id)
    nts = getattr(gen, "no_timestamps_token_id", None)
    if nts is None:
        raise LabError("this Whisper checkpoint has no no_timestamps_token_id: timestamp tokens are unknown")
    tb = int(nts) + 1
    prev_sot = getattr(gen, "prev_sot_token_id", None)
    if prev_sot is None:
        sup = list(getattr(gen, "suppress_tokens", None) or [])
        prev_sot = sup[-2] if len(sup) >= 2 else None  # HF's rule (the hub lists end ..., <|startofprev|>, x)
    cut_off = int(model.config.max_target_positions) // 2 - 1
    heads = alignment_heads(model)
    generator = torch.Generator().manual_seed(int(seed))

    feats = full_features(audio, loaded.processor)
    max_frames = int(feats.shape[-1])
    total_s = max_frames / MEL_FRAMES_PER_SECOND
    seek = 0
    init: Prompt | None = None
    traces: list[Trace] = []
    windows: list[dict] = []
    segments: list[dict] = []
    words: list[dict] = []
    all_segments_raw: list[dict] = []
    do_condition = condition_on_prev_tokens
    while seek < max_frames:
        k = len(windows)
        if progress is not None:
            progress(k, seek / MEL_FRAMES_PER_SECOND, total_s)
        n_frames = min(max_frames - seek, WINDOW_MEL_FRAMES)
        seg_feats = feats[:, :, seek:seek + n_frames]
        if n_frames < WINDOW_MEL_FRAMES:
            seg_feats = F.pad(seg_feats, (0, WINDOW_MEL_FRAMES - n_frames))
        offset_s = seek / MEL_FRAMES_PER_SECOND
        piece = Audio(samples=audio.samples[seek * HOP:(seek + n_frames) * HOP], sample_rate=SAMPLE_RATE,
                      source=f"{audio.source}[{offset_s:.2f}s-]")
        prev = (_prev_tokens(all_segments_raw, tb, cut_off)
                if condition_on_prev_tokens and do_condition and all_segments_raw and prev_sot is not None else [])
        attempts, kept = [], None
        enc_cache = None
        for temp in temps:
            tr, enc_cache = _decode_window(loaded, seg_feats, n_frames, piece, policy, init=init, prev=prev,
                                           prev_sot=prev_sot, language=language, task=task, top_k=top_k,
                                           max_steps=max_steps, stop_on_repetition=stop_on_repetition,
                                           heads=heads if word_timestamps else None, temperature=temp,
                                           generator=generator, enc_cache=enc_cache)
            if init is None:
                init = tr.meta.pop("_init_prompt")
            else:
                tr.meta.pop("_init_prompt", None)
            gen_ids = [s["token_id"] for s in tr.steps]
            cr = compression_ratio(gen_ids, int(model.config.vocab_size))
            avg = sum(s["logprob"] for s in tr.steps) / max(1, len(tr.steps))
            reasons = []
            if compression_ratio_threshold is not None and cr > compression_ratio_threshold:
                reasons.append("compression_ratio")
            if logprob_threshold is not None and avg < logprob_threshold:
                reasons.append("avg_logprob")
            skip = (no_speech_threshold is not None and avg < logprob_threshold
                    and tr.meta["no_speech_prob"] > no_speech_threshold)
            attempt = {"temperature": temp, "reasons": reasons, "compression_ratio": round(cr, 4),
                       "avg_logprob": round(avg, 4), "skip": skip}
            attempts.append(attempt)
            kept = (tr, attempt)
            do_condition = condition_on_prev_tokens and temp < 0.5
            if skip or not reasons:
                break
        tr, attempt = kept
        gen_ids = [s["token_id"] for s in tr.steps]
        hit_limit = tr.meta.get("stop_reason") in ("max_steps", "repetition")
        seq = gen_ids[:-1] if gen_ids and gen_ids[-1] == eos else gen_ids
        if attempt["skip"]:
            segs, advance, kind = [], n_frames, "no_speech"
        else:
            segs, advance, kind = split_segments(seq, tb, n_frames)
        new_seek = seek + advance
        if kind != "no_speech":
            if hit_limit and kind != "last_timestamp":
                kind = "max_tokens"
            elif new_seek >= max_frames:
                kind = "end_of_audio"
        rows = with_text(segs, tokenizer, offset_s, window=k)
        all_segments_raw += segs
        segments += rows
        used = segs[-1]["slice"][1] if segs else 0
        if word_timestamps and not attempt["skip"]:
            words += [dict(w, start=round(w["start"] + offset_s, 3), end=round(w["end"] + offset_s, 3), window=k)
                      for w in tr.meta.get("words", []) if w["tokens"] and max(w["tokens"]) < used]
        win = {"index": k, "start": round(offset_s, 3), "end": round(min(new_seek, max_frames) / MEL_FRAMES_PER_SECOND, 3),
               "decoded_end": round((seek + n_frames) / MEL_FRAMES_PER_SECOND, 3), "end_reason": kind,
               "temperature": attempt["temperature"],
               "fallbacks": [{k2: a[k2] for k2 in ("temperature", "reasons", "compression_ratio", "avg_logprob")}
                             for a in attempts[:-1]],
               "compression_ratio": attempt["compression_ratio"], "avg_logprob": attempt["avg_logprob"],
               "no_speech_prob": round(tr.meta["no_speech_prob"], 6), "skipped": attempt["skip"],
               "text": "".join(r["text"] for r in rows), "prompt_tokens": prev,
               "prompt_text": tokenizer.decode(prev, skip_special_tokens=True), "n_segments": len(rows)}
        tr.meta["window"] = win
        tr.meta["segments"] = with_text(segs, tokenizer, 0.0)
        traces.append(tr)
        windows.append(win)
        seek = new_seek
    token_ids = [t for s in all_segments_raw for t in s["tokens"]]
    text = tokenizer.decode(token_ids, skip_special_tokens=True)
    wer = None
    if reference is not None:
        from ..wer import wer_alignment

        wer = wer_alignment(reference, text)
    options = dict(temperature=temps, compression_ratio_threshold=compression_ratio_threshold,
                   logprob_threshold=logprob_threshold, no_speech_threshold=no_speech_threshold,
                   condition_on_prev_tokens=condition_on_prev_tokens, seed=seed,
                   policy_names=None if policy.names is None else list(policy.names))
    return LongResult(traces=traces, text=text, windows=windows, segments=segments, words=words,
                      token_ids=token_ids, wer=wer, language=init.language if init else None, options=options)


def _decode_window(loaded, feats: torch.Tensor, n_frames: int, piece: Audio, policy: CapturePolicy, *,
                   init: Prompt | None, prev: list[int], prev_sot, language, task, top_k, max_steps,
                   stop_on_repetition, heads, temperature, generator, enc_cache):
    """One decode attempt of one window -> (Trace, encoder cache). The encoder runs once per
    window (fallback attempts re-use its output and its recorded tensors)."""
    model, tokenizer = loaded.model, loaded.processor.tokenizer
    trace = Trace(family="whisper", model_id=loaded.model_id, weights_source=loaded.weights_source, policy=policy)
    trace.time_bases = dict(names.TIME_BASES)
    trace.meta["model"] = _model_meta(model)
    trace.meta["source"] = piece.source
    timings = trace.meta["timings"] = {}
    t0 = time.perf_counter()
    if enc_cache is None:
        record_inputs(trace, piece, feats, n_frames)
        enc_out = capture_encoder(model, feats, trace)
        enc_cache = (enc_out, dict(trace.tensors), dict(trace.axes), {k: trace.meta[k] for k in
                     ("n_content_mel_frames", "n_mel_frames", "content_seconds", "audio_notes")})
    else:
        enc_out, tensors, axes, meta = enc_cache
        trace.tensors.update(tensors)
        trace.axes.update(axes)
        trace.meta.update(meta)
    timings["encoder_s"] = round(time.perf_counter() - t0, 4)
    t0 = time.perf_counter()
    if init is None:
        init = build_prompt(model, tokenizer, enc_out, language=language, task=task, timestamps=True,
                            show_language_step=True)
    trace.meta["_init_prompt"] = init
    ids = ([int(prev_sot)] + list(prev) if prev else []) + list(init.ids)
    prompt = Prompt(ids=ids, language=init.language, task=init.task, language_probs=init.language_probs,
                    detection=init.detection, language_source=init.language_source)
    trace.meta["prompt"] = describe_prompt(prompt.ids, tokenizer, model)
    record_language(trace, prompt)  # the first window's language step, in every window
    trace.meta["alignment_heads"] = alignment_heads(model)
    kept = policy.layers
    trace.meta["captured_layers"] = {
        "encoder": [i for i in range(model.config.encoder_layers) if kept is None or i in kept],
        "decoder": [i for i in range(model.config.decoder_layers) if kept is None or i in kept]}
    trace.meta["captured_heads"] = None if policy.heads is None else list(policy.heads)
    trace.meta["temperature"] = temperature
    no_speech = int(model.generation_config.no_timestamps_token_id) - 1
    for _ in decode_greedy(model, tokenizer, enc_out, prompt, trace, top_k=top_k, max_steps=max_steps,
                           stop_on_repetition=stop_on_repetition, alignment_heads=heads, timestamps=True,
                           temperature=temperature, generator=generator, no_speech_token=no_speech):
        pass
    timings["decode_s"] = round(time.perf_counter() - t0, 4)
    trace.meta["token_ids"] = [s["token_id"] for s in trace.steps]
    trace.meta["text"] = tokenizer.decode(trace.meta["token_ids"], skip_special_tokens=True)
    if heads:
        from .timestamps import word_timestamps as _words

        t0 = time.perf_counter()
        trace.meta["words"] = _words(trace, tokenizer, eos=int(model.generation_config.eos_token_id))
        timings["timestamps_s"] = round(time.perf_counter() - t0, 4)
    else:
        trace.meta["words"] = []
    if not policy.keeps("decoder.logits"):
        trace.tensors.pop("decoder.logits", None)  # lean: the steps keep their top-k
        trace.axes.pop("decoder.logits", None)
    return trace, enc_cache
