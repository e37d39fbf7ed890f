"""Text -> Trace: SpeechT5 text-to-speech with every step recorded.

``trace_tts(text, loaded)`` runs :mod:`lab.tts.loop` (the decoder loop, equal to
``generate_speech``) and a vocoder, and returns a :class:`lab.trace.Trace` (family ``"tts"``).
Capture names, axes and meta keys: the tables in :mod:`lab.tts.names` (``AXES``, ``NOTES``,
``META``; ``lab.tts.describe()``), checked against real traces by tests/tts/test_tts_tables.py.

``time_bases``: ``sample`` (16000), ``mel_frame`` (sample rate / hop = 62.5), ``step``
(mel_frame / reduction_factor = 31.25). ``trace.tokens``: the text tokens (characters; for a phone
model, :mod:`lab.tts.phones`, the ARPAbet phone names, with ``meta["phones"]``). ``trace.steps``:
one dict per decoder step (see :func:`_step_dict`).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from lab import capture as _core
from lab.errors import LabError
from lab.trace import CapturePolicy, Trace

from ..interventions import tts_knobs  # registers the TTS knobs (stop_scale, speaker_edit, clamp_cross_attn)
from . import loop
from .constants import SAMPLE_RATE, STOP_THRESHOLD
from .alignment import head_diagonality
from .speaker import load_speaker
from .phones import readable
from .text import TextCheck, frontend_of, prepare_text
from .tiny import TINY_ID, tiny_tts_dir
from .vocoder import GRIFFIN_LIM, HIFIGAN, MelParams, griffin_lim, vocode


# -- models --------------------------------------------------------------------------------
def no_model_message() -> str:
    from lab.models import BUNDLES, ZOO_DIR, family_of_dir, offline_ids

    ids = offline_ids()
    tts = [i for i in ids if i not in BUNDLES and _safe_family(family_of_dir, ZOO_DIR / i) == "tts"]
    listing = ", ".join(ids) or "none"
    have = (f"offline TTS ids here: {', '.join(tts)} (pass one as the model)" if tts
            else "no offline text-to-speech model is installed here yet (the model-zoo issue adds one)")
    return (f"no default TTS model: {have}; offline ids available: {listing}. Give a model: a directory "
            "holding a SpeechT5ForTextToSpeech saved with its SpeechT5Processor, "
            "'microsoft/speecht5_tts' where the hub or the HF cache has it, or "
            f"'{TINY_ID}' (an untrained tiny model: real plumbing, noise for audio).")


def _safe_family(fn, path) -> str:
    try:
        return fn(path)
    except Exception:
        return ""


def model_ref(model_id: str | None) -> str:
    """The id or path to hand to the resolver / app factory for ``model_id`` (``None``: the
    lab's default TTS model; ``speecht5-tiny-random``: the demo model's cached directory)."""
    if not model_id:
        from lab.models import DEFAULTS

        model_id = DEFAULTS.get("tts")
        if not model_id:
            raise LabError(no_model_message())
    if model_id == TINY_ID:
        return str(tiny_tts_dir())
    return model_id


def load_tts(model_id: str | None = None):
    """A cached ``lab.models.Loaded`` for a TTS model id (see :func:`model_ref`)."""
    from lab.models import load_cached

    loaded = load_cached(model_ref(model_id), family="tts")
    if model_id == TINY_ID:
        loaded = dataclasses.replace(loaded, model_id=TINY_ID, weights_source=(
            f"tiny random SpeechT5 (untrained, built by lab.tts.tiny; {loaded.path})"))
    return loaded


def _loaded(loaded):
    """A TTS ``Loaded`` from a Loaded or an id (``None``: the default; ids via :func:`load_tts`)."""
    return _core.as_loaded(loaded, "tts", load=load_tts)


# -- trace ---------------------------------------------------------------------------------
def _settings(threshold, minlenratio, maxlenratio, seed) -> loop.LoopSettings:
    for name, v in (("threshold", threshold), ("minlenratio", minlenratio), ("maxlenratio", maxlenratio)):
        if not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
            raise LabError(f"{name} must be a number >= 0, got {v!r}")
    if maxlenratio <= 0:
        raise LabError("maxlenratio must be > 0 (it bounds the number of decoder steps)")
    return loop.LoopSettings(threshold=float(threshold), minlenratio=float(minlenratio),
                             maxlenratio=float(maxlenratio), seed=seed)


def _step_dict(st: loop.Step, r: int, fps: float, tokens: list[str]) -> dict:
    """``index``; ``frames`` [first, end) mel frames; ``start_s``; ``stop_prob`` (summed);
    ``stop_probs`` (per frame); ``decision``; ``below_min_length``; ``attn_peak``: text token
    with the most cross-attention (mean over layers and heads) and ``attn_peak_token``."""
    d = {"index": st.index, "frames": [st.index * r, st.index * r + r],
         "start_s": st.index * r / fps, "stop_prob": st.stop_prob,
         "stop_probs": [float(p) for p in st.stop_probs], "decision": st.decision,
         "below_min_length": st.below_min_length, "attn_peak": None, "attn_peak_token": None}
    if st.cross_attn is not None:
        peak = int(st.cross_attn.float().mean(dim=(0, 1)).argmax())
        d["attn_peak"], d["attn_peak_token"] = peak, tokens[peak] if peak < len(tokens) else None
    return d


def _add_encoder(tr: Trace, enc: loop.EncoderOut, ids: torch.Tensor) -> None:
    pol = tr.policy
    tr.add("input.token_ids", ids[0], ("text_token",))
    if enc.hidden_states:
        tr.add("encoder.hidden", torch.stack([h[0] for h in enc.hidden_states]),
               ("layer", "text_token", "hidden"))
    tr.add("encoder.output", enc.last_hidden[0], ("text_token", "hidden"))
    for i, a in enumerate(enc.attentions):
        if a is not None and pol.keeps_layer(i):
            tr.add(f"encoder.layers.{i}.attn.pattern", pol.select_heads(a[0], 0),
                   ("head", "query_token", "key_token"), attention=True)


def _add_steps(tr: Trace, steps: list[loop.Step], r: int) -> None:
    """(Re)write the per-step stacks from ``steps`` (called when yielding / at the end)."""
    pol = tr.policy
    tr.add("tts.decoder_input", torch.stack([s.decoder_input for s in steps]), ("step", "mel_bin"))
    tr.add("tts.decoder_hidden", torch.stack([s.decoder_hidden for s in steps]), ("step", "hidden"))
    tr.add("tts.stop_prob", torch.stack([s.stop_probs.sum() for s in steps]), ("step",), force=True)
    tr.add("tts.stop_prob_frames", torch.stack([s.stop_probs for s in steps]), ("step", "frame_in_step"))
    tr.add("tts.mel_pre_postnet", torch.cat([s.frames for s in steps]), ("mel_frame", "mel_bin"))
    if steps[0].cross_attn is not None:
        x = torch.stack([s.cross_attn for s in steps])  # (step, layer, head, text_token)
        if pol.layers is not None:
            x = x.index_select(1, torch.tensor([i for i in range(x.shape[1]) if pol.keeps_layer(i)]))
        tr.add("tts.cross_attn", pol.select_heads(x, 2), ("step", "layer", "head", "text_token"),
               attention=True)
    fps = tr.time_bases["mel_frame"]
    tr.steps = [_step_dict(s, r, fps, tr.tokens) for s in steps]
    tr.meta.update(n_steps=len(steps), n_frames=len(steps) * r)


def iter_trace_tts(text: str, loaded=None, *, speaker=None, threshold: float = STOP_THRESHOLD,
                   minlenratio: float = 0.0, maxlenratio: float = 20.0, seed: int | None = 0,
                   vocoder="auto", griffin_lim_too: bool = True,
                   policy: CapturePolicy | None = None, drop_unknown: bool = False,
                   every: int = 1, interventions=None) -> Iterator[Trace]:
    """Yield the same growing Trace after the encoder, after every ``every`` decoder steps
    (``every=0``: none), and once complete (post-net, waveform; ``meta["complete"] = True``).
    ``interventions``: a what-if run (``lab.interventions`` ablations, hooked around the encoder
    pass and each decoder step, and the TTS knobs of :mod:`lab.interventions.tts_knobs`:
    ``stop_scale`` / ``clamp_cross_attn`` act inside :func:`lab.tts.loop.decode`, ``speaker_edit``
    on the x-vector before it, so ``tts.speaker_embedding`` is the edited vector); adds
    ``meta["intervention"]`` (with ``tts_knobs``: what each knob did).
    Arguments as :func:`trace_tts`. Each intermediate yield re-stacks the steps so far: keep
    ``every`` around n_steps / 50 for long texts."""
    loaded = _loaded(loaded)
    model, proc = loaded.model, loaded.processor
    cfg = model.config
    if proc is None:
        raise LabError(f"{loaded.model_id}: no processor (tokenizer) was saved with this model")
    settings = _settings(threshold, minlenratio, maxlenratio, seed)
    from ..interventions.hooks import plan_for

    plan = plan_for(model, "tts", interventions)
    check: TextCheck = prepare_text(text, proc, cfg.max_text_positions, drop_unknown=drop_unknown)
    dev = next(model.parameters()).device
    ids = torch.tensor([check.token_ids], device=dev)
    spk, spk_desc = load_speaker(speaker, cfg.speaker_embedding_dim)
    tokens = list(check.tokens) if not check.phones else readable(check.tokens)
    knobs = tts_knobs.resolve(plan, model, ids.shape[1], tokens, spk)
    spk = knobs.speaker(spk)
    params = MelParams.from_processor(proc)
    if params.n_mels != cfg.num_mel_bins:
        params = dataclasses.replace(params, n_mels=cfg.num_mel_bins)
    r = cfg.reduction_factor
    tr = Trace(family="tts", model_id=loaded.model_id, weights_source=loaded.weights_source,
               policy=policy or CapturePolicy())
    tr.time_bases = {"sample": float(params.sample_rate), "mel_frame": params.frames_per_second,
                     "step": params.frames_per_second / r}
    tr.tokens = tokens
    front = frontend_of(proc)
    tr.meta = {
        "text": text, "spoken_text": check.cleaned, "text_problems": check.problems,
        "phones": check.phones, "text_frontend": front.describe() if front else None,
        "unknown_chars": check.unknown, "replaced_chars": [list(x) for x in check.replaced],
        "n_tokens": check.n_tokens, "max_text_positions": cfg.max_text_positions,
        "max_speech_positions": cfg.max_speech_positions, "reduction_factor": r,
        "num_mel_bins": cfg.num_mel_bins, "threshold": settings.threshold,
        "minlenratio": settings.minlenratio, "maxlenratio": settings.maxlenratio,
        "seed": seed, "prenet_dropout": float(cfg.speech_decoder_prenet_dropout),
        "speaker": spk_desc, "mel": dataclasses.asdict(params), "complete": False,
        "timings": {},
    }
    tr.add("tts.speaker_embedding", spk[0], ("speaker_dim",))
    t0 = time.perf_counter()
    with plan.installed():
        enc = loop.encode(model, ids)
    tr.meta["timings"]["encoder_s"] = time.perf_counter() - t0
    tr.meta["minlen"], tr.meta["maxlen"] = loop.lengths(ids.shape[1], cfg, settings)
    _add_encoder(tr, enc, ids)
    yield tr

    every = max(0, int(every or 0))
    steps: list[loop.Step] = []
    t0 = time.perf_counter()
    decoding = loop.decode(model, enc, spk.to(dev), settings, stop_transform=knobs.stop_transform(),
                           encoder_mask=knobs.encoder_mask(enc.attention_mask))
    for st in plan.stepwise(decoding):
        steps.append(st)
        if every and st.decision == "continue" and len(steps) % every == 0:
            _add_steps(tr, steps, r)
            yield tr
    tr.meta["timings"]["decoder_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = loop.finish(model, ids, enc, steps, settings)
    tr.meta["timings"]["postnet_s"] = time.perf_counter() - t0
    _add_steps(tr, steps, r)
    tr.add("tts.mel_postnet", res.mel_post, ("mel_frame", "mel_bin"), force=True)
    tr.add("tts.postnet_delta", res.mel_post - res.mel_pre, ("mel_frame", "mel_bin"))
    tr.meta.update(stop_reason=res.stop_reason, stop_step=res.stop_step)
    if steps[0].cross_attn is not None:
        scores = head_diagonality(torch.stack([s.cross_attn for s in steps]).float().cpu().numpy())
        best = np.unravel_index(int(scores.argmax()), scores.shape)
        tr.meta["diagonality"] = {"per_head": scores.round(4).tolist(),
                                  "best_layer_head": [int(best[0]), int(best[1])],
                                  "best": float(scores.max()), "mean": float(scores.mean())}
    if vocoder is not None:
        t0 = time.perf_counter()
        out = vocode(res.mel_post, params, vocoder)
        tr.add("tts.waveform", torch.from_numpy(out.waveform), ("sample",))
        tr.time_bases["sample"] = float(out.sample_rate)
        tr.meta.update(vocoder=out.name, vocoder_source=out.source, vocoder_note=out.note,
                       sample_rate=out.sample_rate, seconds=len(out.waveform) / out.sample_rate)
        if griffin_lim_too and out.name == HIFIGAN:
            tr.add("tts.waveform_griffin_lim", torch.from_numpy(griffin_lim(res.mel_post, params)),
                   ("sample",))
        tr.meta["timings"]["vocoder_s"] = time.perf_counter() - t0
    if plan:
        plan.check()
        tr.meta["intervention"] = plan.record()
        if knobs:
            tr.meta["intervention"]["tts_knobs"] = knobs.record()
    tr.meta["complete"] = True
    yield tr


def trace_tts(text: str, loaded=None, **kw) -> Trace:
    """Speak ``text`` with a SpeechT5 model and record everything (names: module docstring).

    ``loaded``: a ``lab.models.Loaded`` or a model id (``None``: the lab's default TTS model).
    ``speaker``: a ``.npy`` path / array of ``config.speaker_embedding_dim`` values (``None``:
    the lab's default vector). ``threshold`` / ``minlenratio`` / ``maxlenratio``: the stop rules
    (transformers' defaults). ``seed``: the prenet dropout seed (``None``: torch's global
    generator). ``vocoder``: ``"auto"`` | ``"hifigan"`` | ``"griffin-lim"`` | an id | a Loaded |
    ``None`` (no waveform). ``griffin_lim_too``: also keep Griffin-Lim's audio when HiFi-GAN ran.
    ``drop_unknown``: drop characters outside the vocabulary instead of raising.
    Raises LabError for text the model cannot take (see :mod:`lab.tts.text`).
    """
    tr = None
    kw.setdefault("every", 0)
    for tr in iter_trace_tts(text, loaded, **kw):
        pass
    return tr


@dataclass
class SentencesResult:
    """A long text traced sentence by sentence: one Trace per piece, and the joined audio
    (``gap_s`` of silence between pieces)."""

    sentences: list[str]
    traces: list[Trace]
    waveform: np.ndarray
    sample_rate: int
    check: TextCheck
    notes: list[str] = field(default_factory=list)


def trace_sentences(text: str, loaded=None, *, gap_s: float = 0.2, drop_unknown: bool = False,
                    **kw) -> SentencesResult:
    """Split ``text`` into sentences that fit the model (see ``lab.tts.text.split_sentences``) and
    trace them one by one (``kw`` as :func:`trace_tts`)."""
    from .text import prepare_text as _prep

    loaded = _loaded(loaded)
    check = _prep(text, loaded.processor, loaded.model.config.max_text_positions,
                  drop_unknown=drop_unknown, allow_split=True)
    traces = [trace_tts(s, loaded, drop_unknown=drop_unknown, **kw) for s in check.sentences]
    waves, rate = [], SAMPLE_RATE
    for t in traces:
        if "tts.waveform" in t:
            rate = int(t.time_bases["sample"])
            waves += [t["tts.waveform"].numpy(), np.zeros(int(gap_s * rate), np.float32)]
    wav = np.concatenate(waves[:-1]) if waves else np.zeros(0, np.float32)
    return SentencesResult(sentences=check.sentences, traces=traces, waveform=wav,
                           sample_rate=rate, check=check, notes=list(check.problems))


__all__ = ["trace_tts", "iter_trace_tts", "trace_sentences", "load_tts", "model_ref",
           "no_model_message", "SentencesResult", "GRIFFIN_LIM", "HIFIGAN"]
