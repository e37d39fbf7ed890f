"""``trace_ctc``: one clip through a CTC model, every stage captured (names: ``lab/ctc/names.py``).

    audio -> processor (normalise / mel) -> conv feature encoder -> feature projection
          -> transformer layers (attention) -> CTC head logits -> greedy collapse stages
          [-> forced alignment of a reference, WER/CER] [-> beam search, beam + n-gram LM]

The default capture policy (:func:`default_policy`) keeps everything for short clips and, for
long ones, only as many attention layers and conv feature maps as fit a fixed budget
(:data:`ATTN_BUDGET_BYTES`, :data:`CONV_BUDGET_BYTES`): 30 s on a base model would otherwise keep
12 layers x 12 heads x 1499 x 1499 attention weights (650 MB at fp16) and 390 MB of conv maps.
``CapturePolicy.full()`` (or any explicit policy) keeps what it names.
"""
from __future__ import annotations

import time
from typing import Any

import torch

from .. import capture as _core
from ..audio import Audio, require_samples
from ..capture import AttentionRecorder, hooks, module_at
from ..errors import LabError
from ..trace import CapturePolicy, Trace
from . import names as N
from .collapse import Vocab, collapse, with_seconds
from .constants import BEAM_SIZE, LM_ALPHA, LM_BETA, SAMPLE_RATE, TOP_K
from .frames import FrameGeometry, geometry, min_samples

ATTN_BUDGET_BYTES = 64 * 2**20  # fp16 attention patterns kept by the default policy
CONV_BUDGET_BYTES = 64 * 2**20  # conv feature maps (fp32) kept by the default policy


def _as_loaded(loaded):
    return _core.as_loaded(loaded, "ctc")


def parts(loaded) -> tuple[Any, Any, Any]:
    """(model, feature extractor, tokenizer) of a loaded CTC model."""
    proc = loaded.processor
    fe = getattr(proc, "feature_extractor", None) or proc
    tok = getattr(proc, "tokenizer", None)
    if tok is None:
        raise LabError(f"{loaded.model_id}: the processor has no tokenizer (a CTC model needs "
                       "its character vocabulary to turn frames into text)")
    return loaded.model, fe, tok


def vocab_of(loaded) -> Vocab:
    model, _, tok = parts(loaded)
    blank = getattr(model.config, "pad_token_id", None)
    return Vocab.from_tokenizer(tok, blank_id=blank if blank is not None else tok.pad_token_id)


def _conv_channels(module) -> int:
    for m in module.modules():
        if isinstance(m, torch.nn.Conv1d):
            return int(m.out_channels)
    return 0


def default_policy(model, spec: N.ArchSpec, geom: FrameGeometry) -> CapturePolicy:
    """Everything, except attention layers / conv maps beyond their byte budgets.

    Attention: evenly spaced layers (always the last) while fp16 ``heads x T x T`` per layer fits
    :data:`ATTN_BUDGET_BYTES`. Conv maps: from the last (smallest) layer backwards while fp32
    ``channels x length`` fits :data:`CONV_BUDGET_BYTES`.
    """
    keep = ["input.*", "feature_projection.output", "encoder.hidden*", "ctc.*"]
    T = geom.n_frames or 0
    attn = N.attention_modules(model, spec)
    heads = int(getattr(model.config, "num_attention_heads", 1) or 1)
    per_layer = max(heads * T * T * 2, 1)
    k = min(len(attn), ATTN_BUDGET_BYTES // per_layer)
    if k >= len(attn):
        layers = list(range(len(attn)))
    elif k <= 0:
        layers = []
    else:  # evenly spaced, ending on the last layer
        step = len(attn) / k
        layers = sorted({len(attn) - 1 - int(i * step) for i in range(k)})
    keep += [f"encoder.layers.{i}.attn.pattern" for i in layers]
    convs = N.expand(model, spec.convs)
    total, conv_keep = 0, []
    for i in range(len(convs) - 1, -1, -1):
        length = geom.layers[i].length if i < len(geom.layers) and geom.layers[i].length else 0
        size = _conv_channels(convs[i][1]) * length * 4
        if total + size > CONV_BUDGET_BYTES:
            break
        total += size
        conv_keep.append(i)
    keep += [f"feature_encoder.conv.{i}" for i in sorted(conv_keep)]
    pol = CapturePolicy(names=keep)
    pol.note = (f"default policy: attention layers {layers or 'none'} of {len(attn)} "
                f"(budget {ATTN_BUDGET_BYTES >> 20} MB fp16), conv maps {sorted(conv_keep) or 'none'} "
                f"of {len(convs)} (budget {CONV_BUDGET_BYTES >> 20} MB)")
    return pol


def _min_samples(config, fe, spec, model_id: str) -> tuple[int, str, str]:
    """(minimum samples, who, why) for :func:`lab.audio.require_samples` (before the model runs)."""
    n, why = min_samples(geometry(config, fe, spec=spec), fe)
    return n, f"{model_id} ({type(fe).__name__})", why


def _prepare(audio, fe) -> Audio:
    """``audio`` at the feature extractor's sampling rate."""
    return _core.as_audio(audio, int(getattr(fe, "sampling_rate", SAMPLE_RATE)))


def trace_ctc(audio, loaded=None, *, policy: CapturePolicy | None = None, top_k: int = TOP_K,
              reference: str | None = None, lm=None, lm_text: str | None = None,
              beam_size: int | None = None, alpha: float | None = None, beta: float | None = None,
              hotwords: list[str] | None = None, interventions=None) -> Trace:
    """Run ``audio`` through a CTC model and capture every stage.

    ``audio``: anything :func:`lab.audio.load_audio` takes, or an :class:`Audio`.
    ``loaded``: a :class:`lab.models.Loaded` (or a model id). ``reference``: a transcript to
    force-align (character / word spans) and score (WER / CER). ``lm`` (an
    :class:`lab.ctc.lm.NgramLM`) or ``lm_text`` (text to build one from), ``beam_size``: also run
    beam search with / without the LM (``meta["decoders"]``, ``meta["beam_text"]``).
    ``interventions``: a what-if run (``lab.interventions`` ablations, hooked around the forward
    pass); adds ``meta["intervention"]``.
    """
    from ..interventions.edit import apply_edits
    from ..interventions.hooks import plan_for

    loaded = _as_loaded(loaded)
    model, fe, tok = parts(loaded)
    plan = plan_for(model, "ctc", interventions, loaded=loaded)
    spec = N.spec_for(model.config)
    clip = apply_edits(_prepare(audio, fe), plan.of_kind("edit"))  # what-if: the edited clip is the input
    sr = clip.sample_rate
    require_samples(len(clip.samples), sr, *_min_samples(model.config, fe, spec, loaded.model_id))
    inputs = fe(clip.samples, sampling_rate=sr, return_tensors="pt")
    key = "input_values" if spec.input == "waveform" else "input_features"
    if key not in inputs:
        raise LabError(f"the processor gave {sorted(inputs)} but {type(model).__name__} needs {key}")
    x = inputs[key]
    # (batch, feature_frame, feature_bin) whatever the processor's layout (Whisper's is bins-first);
    # the model itself still gets ``x`` as the processor made it.
    feats = spec.features_frame_first(x) if spec.input == "features" else None
    n_feat = int(feats.shape[1]) if feats is not None else None
    geom = geometry(model.config, fe, spec=spec, n_samples=len(clip.samples), n_feature_frames=n_feat)
    policy = policy or default_policy(model, spec, geom)
    tr = Trace(family="ctc", model_id=loaded.model_id, weights_source=loaded.weights_source,
               policy=policy)

    # -- inputs ---------------------------------------------------------------------------
    tr.add("input.waveform", torch.from_numpy(clip.samples), ("sample",), force=True)
    if spec.input == "waveform":
        tr.add("input.waveform_normalized", x[0], ("sample",))
    else:
        tr.add("input.features", feats[0], ("feature_frame", "feature_bin"))
    mask = inputs.get("attention_mask")
    mask_axis = "sample" if spec.input == "waveform" else "feature_frame"
    n_in = int(x.shape[1]) if feats is None else n_feat
    tr.add("input.attention_mask", mask[0] if mask is not None else torch.ones(n_in, dtype=torch.long),
           (mask_axis,))

    # -- hooks ------------------------------------------------------------------------------
    installs = []
    conv_lengths: dict[int, int] = {}

    def conv_hook(i):
        name = f"feature_encoder.conv.{i}"

        def fn(_m, _inp, out):
            out = out[0] if isinstance(out, tuple) else out
            conv_lengths[i] = int(out.shape[-1])
            tr.add(name, out[0], ("channel", f"conv_frame_{i}"))
        return fn

    for i, (_, mod) in enumerate(N.expand(model, spec.convs)):
        installs.append((mod, conv_hook(i)))
    if spec.feature_projection and policy.keeps("feature_projection.output"):
        def proj_hook(_m, _inp, out):
            out = out[0] if isinstance(out, tuple) else out
            tr.add("feature_projection.output", out[0], ("frame", "hidden"))
        installs.append((module_at(model, spec.feature_projection), proj_hook))
    attn_mods = N.attention_modules(model, spec)
    attn = AttentionRecorder(model, trace=tr, name="encoder.layers.{i}.attn.pattern",
                             axes=("head", "query_frame", "key_frame"), index=spec.attn_index,
                             part=f"{loaded.model_id} encoder")
    wanted = attn.wanted(len(attn_mods))
    for i in wanted:
        installs.append((attn_mods[i][1], attn.hook(i)))

    keep_hidden = any(policy.keeps(n) for n in ("encoder.hidden", "encoder.hidden.0"))
    dev = getattr(loaded, "device", None) or next(model.parameters()).device
    kw = {key: x.to(dev)}
    if mask is not None:
        kw["attention_mask"] = mask.to(dev)
    t0 = time.perf_counter()
    with torch.inference_mode(), plan.installed(), hooks(model, installs):
        out = model(**kw, output_hidden_states=keep_hidden,
                    output_attentions=bool(wanted) and spec.attn_needs_flag, return_dict=True)
    forward_s = time.perf_counter() - t0
    attn.check()
    if plan:
        plan.check()
        tr.meta["intervention"] = plan.record()

    # -- hidden states ------------------------------------------------------------------------
    if keep_hidden and out.hidden_states:
        hs = [h[0] for h in out.hidden_states]
        if len({tuple(h.shape) for h in hs}) == 1:
            tr.add("encoder.hidden", torch.stack(hs), ("layer", "frame", "hidden"))
        else:
            for i, h in enumerate(hs):
                tr.add(f"encoder.hidden.{i}", h, ("frame", "hidden"))

    # -- the CTC head -------------------------------------------------------------------------
    vocab = vocab_of(loaded)
    log_probs = fill_ctc(tr, out.logits[0], vocab, top_k=top_k, frames_per_second=geom.frames_per_second)
    fps = geom.frames_per_second
    n_frames = int(log_probs.shape[0])

    # -- time bases & meta --------------------------------------------------------------------
    tr.time_bases = {"sample": float(sr)}
    if spec.input == "features":
        tr.time_bases["feature_frame"] = sr / geom.feature_hop
    for layer in geom.layers:
        tr.time_bases[f"conv_frame_{layer.index}"] = layer.frames_per_second
    for ax in ("frame", "query_frame", "key_frame"):
        tr.time_bases[ax] = fps
    gdict = geom.as_dict()
    for layer, d in zip(geom.layers, gdict["layers"]):
        if layer.index in conv_lengths:
            d["captured_length"] = conv_lengths[layer.index]
    gdict["n_frames"] = n_frames
    tr.meta.update({
        "geometry": gdict,
        "seconds": clip.seconds,
        "input": spec.input,
        "model_type": model.config.model_type,
        "architecture": type(model).__name__,
        "do_normalize": bool(getattr(fe, "do_normalize", False)),
        "processor_returns_attention_mask": mask is not None,
        "heads_averaged": spec.heads_averaged,
        "audio_notes": clip.notes,
        "timings": {"forward_s": forward_s},
        "policy": getattr(policy, "note", "explicit policy"),
    })
    if reference:
        score_reference(tr, reference, vocab=vocab, log_probs=log_probs)
    if lm is not None or lm_text or beam_size:
        decode_with_beams(tr, vocab=vocab, lm=lm, lm_text=lm_text, beam_size=beam_size,
                          alpha=alpha, beta=beta, log_probs=log_probs, hotwords=hotwords)
    return tr


def fill_ctc(tr: Trace, logits, vocab: Vocab, *, top_k: int = TOP_K,
             frames_per_second: float | None = None) -> torch.Tensor:
    """Record the CTC head output ``logits`` (frame, vocab) in ``tr``: ``ctc.*`` tensors and the
    greedy collapse (``meta``: stage strings, ``collapse``, ``words``, ``vocab`` ...). Returns the
    log-probabilities. Also used to show hand-made logits through the same figures."""
    fps = float(frames_per_second or tr.meta["frames_per_second"])
    logits = logits.detach().float().cpu()
    log_probs = torch.log_softmax(logits, dim=-1)
    probs = log_probs.exp()
    tr.add("ctc.logits", logits, ("frame", "vocab"), force=True)
    tr.add("ctc.probs", probs, ("frame", "vocab"))
    k = max(1, min(int(top_k), probs.shape[-1]))
    tp, ti = probs.topk(k, dim=-1)
    tr.add("ctc.topk_ids", ti, ("frame", "top_k"), force=True)
    tr.add("ctc.topk_probs", tp, ("frame", "top_k"), force=True)
    tr.add("ctc.frame_ids", ti[:, 0], ("frame",), force=True)
    col = collapse(ti[:, 0].tolist(), vocab, tp[:, 0].tolist())
    tr.tokens = [s.token for s in col.no_blanks]
    tr.meta.update(col.strings())
    tr.meta.update({"collapse": col.as_dict(), "words": with_seconds(col.words, fps),
                    "words_from": "greedy", "frames_per_second": fps, "n_frames": int(logits.shape[0]),
                    "vocab": vocab.tokens, "blank_id": vocab.blank_id,
                    "word_delimiter": vocab.delimiter})
    return log_probs


def score_reference(tr: Trace, reference: str, *, vocab: Vocab, log_probs=None) -> dict:
    """Force-align ``reference`` (``meta["alignment"]``, ``meta["words"]`` from it) and score the
    greedy text against it (``meta["wer"]``)."""
    from .align import align_reference
    from .score import wer_cer

    if log_probs is None:
        log_probs = torch.log_softmax(tr["ctc.logits"].float(), dim=-1)
    al = align_reference(log_probs, reference, vocab, tr.meta["frames_per_second"])
    tr.meta["alignment"] = al.as_dict()
    tr.meta["words"] = al.words
    tr.meta["words_from"] = "forced alignment of the reference"
    tr.meta["reference"] = reference
    tr.meta["wer"] = wer_cer(reference, tr.meta["text"])
    return tr.meta["alignment"]


def decode_with_beams(tr: Trace, *, vocab: Vocab, lm=None, lm_text: str | None = None,
                      beam_size: int | None = None, alpha: float | None = None,
                      beta: float | None = None, log_probs=None, hotwords=None) -> dict:
    """Greedy vs beam (vs beam + LM) into ``meta["decoders"]``; ``meta["beam_text"]`` is the
    best of them (beam + LM when there is an LM). ``beam_size``: hypotheses kept
    (default ``BEAM_SIZE``)."""
    from . import lm as L

    beam_size = beam_size or BEAM_SIZE
    if lm is None and lm_text:
        lm = L.build_lm(lm_text, vocab)
    if log_probs is None:
        log_probs = torch.log_softmax(tr["ctc.logits"].float(), dim=-1)
    t0 = time.perf_counter()
    dec = L.compare(log_probs, vocab, tr.meta["text"], lm=lm, beam_size=beam_size,
                    alpha=LM_ALPHA if alpha is None else alpha,
                    beta=LM_BETA if beta is None else beta,
                    frames_per_second=tr.meta["frames_per_second"])
    if hotwords:
        dec["beam_hotwords"] = L.beam_decode(log_probs, vocab, beam_size=beam_size,
                                             lm=lm, hotwords=hotwords,
                                             frames_per_second=tr.meta["frames_per_second"])
    tr.meta["timings"]["decode_s"] = time.perf_counter() - t0
    tr.meta["decoders"] = dec
    tr.meta["beam_text"] = dec["beam_lm" if "beam_lm" in dec else "beam"]["text"]
    if "reference" in tr.meta:
        from .score import wer_cer

        for k in ("beam", "beam_lm"):
            if k in dec:
                dec[k]["wer"] = wer_cer(tr.meta["reference"], dec[k]["text"])["wer"]
    return dec
