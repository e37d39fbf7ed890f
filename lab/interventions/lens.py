"""Lenses: read every encoder layer through the model's own output head.

- CTC (:func:`ctc_lens`): the CTC head applied to each layer's hidden state, exactly as the model
  applies it to its last layer. Which layer first "knows" the characters?
- Whisper (:func:`whisper_lens`, :func:`whisper_lens_all`): the decoder run on an intermediate
  encoder layer's output, passed through the encoder's final ``layer_norm`` as the last layer is.

How the CTC head is applied, per architecture (:func:`_final_norm`, :func:`_whisper_ctc_lens`):

- wav2vec2 / HuBERT / WavLM / UniSpeech(-SAT), ``do_stable_layer_norm=True`` (pre-norm layers):
  the encoder applies ``<prefix>.encoder.layer_norm`` after its last layer, before ``lm_head``.
  The lens applies the same norm to every state (embeddings + each layer's output), then
  ``lm_head`` (the last state, if transformers already gave it normed, gets ``lm_head`` only:
  :func:`_wav_lens`).
  ``do_stable_layer_norm=False`` (post-norm layers, and data2vec-audio always): every layer ends
  with its own ``final_layer_norm`` and the encoder's ``layer_norm`` runs *before* the layers, so
  each state already is what ``lm_head`` would read: ``lm_head`` only.
- wav2vec2-conformer: ``wav2vec2_conformer.encoder.layer_norm`` after the layers (as stable).
- Wav2Vec2-BERT: conformer layers end with their own norm, no encoder norm: ``lm_head`` only.
- the lab's Whisper-CTC (``whisper_ctc``): encoder states (embeddings, layers 0..N-2) get
  ``encoder.layer_norm`` then the whole trained head (``head_logits``: projection, head layers,
  ``head.layer_norm``, ``lm_head``); the last encoder state is already normed. The model reads a
  softmax mix of all encoder layers (``use_weighted_layer_sum``); the lens feeds one layer alone,
  which the head never saw in training. The head's own states (projection, head layers) get
  ``head.layer_norm`` + ``lm_head``; the last of them is the model's output.

Dropout before ``lm_head`` is the identity in eval mode. Parity: the last row of the lens equals
``trace_ctc``'s ``ctc.logits`` (checked on every call: a LabError when it does not, e.g. an
architecture whose head is not mapped here); ``tests/interventions/test_lens.py`` checks every
row against HF's own forward on the model with its layers cut after that layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from .. import capture as _core
from ..errors import LabError
from ..trace import CapturePolicy, Trace

PARITY_ATOL = 1e-3  # logits; float32 recomputation of the same ops differs by ~1e-6


@dataclass
class Lens:
    """What every encoder layer "knows", read through the output head.

    ``log_probs``: (layer, frame, vocab) CTC log-probabilities (natural log) of the head on each
    layer's hidden state; ``tokens``: (layer, frame) argmax token per frame as the CTC views show
    them (blank ``_``, word delimiter ``|``); ``texts``: per layer, the greedy CTC collapse;
    ``cer``: per layer, CER of that text against the final layer's text (``None`` when the final
    text is empty); ``reference_cer``: against ``reference`` when given; ``frames_per_second``:
    CTC frames per second (50 for wav2vec2 and Whisper-CTC). ``layer_names``: what each row is
    (``embeddings``, ``layer 0`` ... , for Whisper-CTC also ``head proj``, ``head layer 0`` ...).
    """

    family: str
    log_probs: torch.Tensor
    tokens: list[list[str]]
    texts: list[str]
    cer: list[float | None]
    frames_per_second: float
    layer_names: list[str] = field(default_factory=list)
    reference: str | None = None
    reference_cer: list[float | None] | None = None
    model_id: str = ""
    how: str = ""

    def first_correct(self, *, max_cer: float = 0.0, against: str = "final") -> int | None:
        """Index of the first layer whose CER (``against``: ``final`` | ``reference``) is at most
        ``max_cer``, or None."""
        cers = self.cer if against == "final" else self.reference_cer
        if cers is None:
            raise LabError("this lens has no reference: use against='final' or pass reference=")
        return next((i for i, c in enumerate(cers) if c is not None and c <= max_cer + 1e-12), None)

    def as_dict(self) -> dict:
        """JSON-able summary (no log-probabilities)."""
        return {"family": self.family, "model_id": self.model_id, "layer_names": self.layer_names,
                "texts": self.texts, "cer": self.cer, "reference": self.reference,
                "reference_cer": self.reference_cer, "frames_per_second": self.frames_per_second,
                "how": self.how}


# -- CTC ------------------------------------------------------------------------------------------
def _states(trace: Trace) -> list[torch.Tensor]:
    """The hidden states a ``trace_ctc`` trace holds, in order: (frame, hidden) each."""
    if "encoder.hidden" in trace:
        return list(trace["encoder.hidden"].float())
    out, i = [], 0
    while f"encoder.hidden.{i}" in trace:
        out.append(trace[f"encoder.hidden.{i}"].float())
        i += 1
    if not out:
        raise LabError("the trace holds no encoder.hidden: trace with a policy that keeps "
                       "'encoder.hidden*' (ctc_lens does)")
    return out


def _identity(x):
    return x


# config.model_type -> (the encoder's final norm, applied to states before the last, or None)
def _final_norm(model, spec) -> tuple[Callable, str]:
    mt = model.config.model_type
    prefix = spec.layers[0].rsplit(".encoder.layers", 1)[0]
    if mt in ("wav2vec2", "hubert", "wavlm", "unispeech", "unispeech-sat"):
        if getattr(model.config, "do_stable_layer_norm", False):
            path = f"{prefix}.encoder.layer_norm"
            return _core.module_at(model, path), f"do_stable_layer_norm: {path} then {spec.head}"
        return _identity, f"post-norm layers (do_stable_layer_norm=False): {spec.head} only"
    if mt == "data2vec-audio":
        return _identity, f"post-norm layers: {spec.head} only"
    if mt == "wav2vec2-conformer":
        path = f"{prefix}.encoder.layer_norm"
        return _core.module_at(model, path), f"{path} then {spec.head}"
    if mt == "wav2vec2-bert":
        return _identity, f"conformer layers end in their own norm: {spec.head} only"
    raise LabError(f"the CTC lens does not know how the head of {mt!r} models reads a layer; "
                   "known: wav2vec2, hubert, wavlm, unispeech(-sat), data2vec-audio, "
                   "wav2vec2-conformer, wav2vec2-bert, whisper_ctc")


def _wav_lens(model, spec, states, target):
    """Head logits per state. Whether the last state in ``encoder.hidden`` already went through
    the encoder's final norm depends on the transformers version (5.x ties ``hidden_states[-1]``
    to ``last_hidden_state`` for some models, not for others): the variant whose last row equals
    the trace's ``ctc.logits`` (``target``) is used and named in ``how``."""
    if getattr(model.config, "add_adapter", False) or getattr(model.config, "use_intermediate_ffn_before_adapter", False):
        raise LabError(f"{type(model).__name__} has an adapter between encoder and head "
                       "(add_adapter): the CTC lens does not map it")
    norm, how = _final_norm(model, spec)
    head = _core.module_at(model, spec.head)
    logits = [head(norm(h)) for h in states]
    if norm is not _identity and target is not None:
        raw_last = head(states[-1])
        if _gap(raw_last, target) < _gap(logits[-1], target):
            logits[-1] = raw_last
            how += " (the last state is already normed: lm_head only)"
    names = ["embeddings"] + [f"layer {i}" for i in range(len(states) - 1)]
    return logits, names, how


def _gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float().cpu() - b.float().cpu()).abs().max())


def _whisper_ctc_lens(model, trace, states):
    n_enc = len(model.encoder.layers) + 1  # embeddings + each encoder layer
    if len(states) != n_enc + 1 + len(model.head.layers):
        raise LabError(f"expected {n_enc + 1 + len(model.head.layers)} hidden states from "
                       f"{type(model).__name__}, the trace has {len(states)}")
    mask = trace["input.attention_mask"] if "input.attention_mask" in trace else None
    T = states[0].shape[0]
    frame_mask = None if mask is None else mask[::2][:T][None].float()
    enc_norm = model.encoder.layer_norm
    logits = []
    for i, h in enumerate(states[:n_enc]):
        x = h if i == n_enc - 1 else enc_norm(h)
        logits.append(model.head_logits(x[None], frame_mask)[0])
    for h in states[n_enc:]:
        logits.append(model.lm_head(model.head.layer_norm(h)))
    names = (["embeddings"] + [f"layer {i}" for i in range(n_enc - 1)] + ["head proj"]
             + [f"head layer {i}" for i in range(len(model.head.layers))])
    how = ("encoder states: encoder.layer_norm (except the last, already normed) then the whole "
           "CTC head (fed one layer, not the trained softmax mix of layers); head states: "
           "head.layer_norm then lm_head")
    return logits, names, how


def lens_from_trace(trace: Trace, loaded, *, reference: str | None = None) -> Lens:
    """:class:`Lens` of a ``trace_ctc`` trace that kept ``encoder.hidden*`` and ``ctc.logits``,
    with ``loaded`` (the same model). LabError when the last layer through the lens differs from
    the trace's ``ctc.logits`` (by more than :data:`PARITY_ATOL`)."""
    from ..ctc import names as N
    from ..ctc.capture import vocab_of
    from ..ctc.collapse import collapse
    from ..ctc.score import wer_cer

    model = loaded.model
    spec = N.spec_for(model.config)
    states = _states(trace)
    dtype = next(model.parameters()).dtype
    dev = next(model.parameters()).device
    states = [h.to(dev, dtype) for h in states]
    with torch.inference_mode():
        if model.config.model_type == "whisper_ctc":
            logits, names, how = _whisper_ctc_lens(model, trace, states)
        else:
            logits, names, how = _wav_lens(model, spec, states, trace["ctc.logits"] if "ctc.logits" in trace else None)
    logits = torch.stack([x.float().cpu() for x in logits])  # (layer, frame, vocab)
    if "ctc.logits" in trace:
        gap = float((logits[-1] - trace["ctc.logits"].float()).abs().max())
        if gap > PARITY_ATOL:
            raise LabError(f"CTC lens parity failed for {model.config.model_type}: the last layer "
                           f"through the lens differs from ctc.logits by {gap:.2e}")
    log_probs = torch.log_softmax(logits, -1)
    vocab = vocab_of(loaded)
    tokens, texts = [], []
    for lp in log_probs:
        col = collapse(lp.argmax(-1).tolist(), vocab)
        tokens.append(col.frame_tokens)
        texts.append(col.text)

    def cers(ref: str) -> list[float | None]:
        return [wer_cer(ref, t)["cer"] for t in texts]

    return Lens(family="ctc", log_probs=log_probs, tokens=tokens, texts=texts, cer=cers(texts[-1]),
                frames_per_second=float(trace.meta["frames_per_second"]), layer_names=names,
                reference=reference, reference_cer=cers(reference) if reference else None,
                model_id=getattr(loaded, "model_id", ""), how=how)


LENS_POLICY = ["input.*", "encoder.hidden*", "ctc.*"]


def ctc_lens(audio, loaded, *, reference: str | None = None) -> Lens:
    """Run ``audio`` through a CTC model (``trace_ctc``, hidden states kept, no attention) and
    read every layer through its head (module docstring: how, per architecture).
    ``reference``: also score each layer's text against it (``Lens.reference_cer``)."""
    from ..ctc.capture import trace_ctc

    loaded = _core.as_loaded(loaded, "ctc")
    trace = trace_ctc(audio, loaded, policy=CapturePolicy(names=LENS_POLICY))
    return lens_from_trace(trace, loaded, reference=reference)


# -- Whisper --------------------------------------------------------------------------------------
def whisper_lens(audio, loaded, layer: int, **trace_kw) -> Trace:
    """Whisper's decoder run on encoder layer ``layer``'s output, passed through the encoder's
    final ``layer_norm``: a normal ``trace_whisper`` Trace (``trace_kw`` as ``trace_whisper``'s).

    ``layer`` indexes ``encoder.hidden``: 0 = the conv stem + positions (the input to layer 0),
    ``i`` = the output of encoder layer ``i - 1``, ``n_layers`` (or -1) = the last layer (the
    normal run). How: a forward hook keeps that state and a forward-pre hook on
    ``model.encoder.layer_norm`` gives it to the norm in place of the last layer's output; the
    layers above still run, so ``encoder.hidden`` is the unchanged stack and ``encoder.output``
    (what the decoder reads) is ``layer_norm(encoder.hidden[layer])``. ``meta["lens"]`` says
    which layer. Any encoder pass inside the run (also a ``patch`` intervention's clip B) is
    read through the same layer.
    """
    from ..whisper import names as W
    from ..whisper.tracer import trace_whisper

    loaded = _core.as_loaded(loaded, "whisper")
    model = loaded.model
    n = int(model.config.encoder_layers)
    if isinstance(layer, bool) or not isinstance(layer, int) or not -(n + 1) <= layer <= n:
        raise LabError(f"lens layer must be an integer in 0..{n} (0 = the conv stem, {n} = the "
                       f"last encoder layer; -1 also means the last), got {layer!r}")
    layer = layer % (n + 1)
    kept: list[torch.Tensor] = []

    def keep_input(_m, args):
        kept.append(args[0])

    def keep_output(_m, _args, out):
        kept.append(out[0] if isinstance(out, (tuple, list)) else out)

    def swap(_m, args):
        if not kept:
            raise LabError(f"lens: encoder layer {layer} did not run before the final layer norm")
        return (kept.pop(),) + tuple(args[1:])

    if layer == 0:
        grab = _core.hooks(model, [(W.module(model, "encoder.layers.{i}", i=0), keep_input)], pre=True)
    else:
        grab = _core.hooks(model, [(W.module(model, "encoder.layers.{i}", i=layer - 1), keep_output)])
    with grab, _core.hooks(model, [(W.module(model, "encoder.layer_norm"), swap)], pre=True):
        trace = trace_whisper(audio, loaded, **trace_kw)
    trace.meta["lens"] = {"layer": layer, "n_layers": n,
                          "what": f"encoder.output = encoder.layer_norm(encoder.hidden[{layer}])"
                                  + (" (the normal run)" if layer == n else "")}
    return trace


LENS_TRACE_KW = {"policy": CapturePolicy(names=["decoder.logits"]), "word_timestamps": False}


def whisper_lens_all(audio, loaded, *, reference: str | None = None, max_steps: int | None = 100,
                     **kw) -> list[dict]:
    """:func:`whisper_lens` on every encoder layer (0 = conv stem .. n = last). Rows ``{layer,
    name, text, n_tokens, stop_reason, wer, cer}`` (WER / CER against the last layer's text; None
    when it is empty) plus ``reference_wer`` / ``reference_cer`` with ``reference``. Each run is
    a greedy decode of at most ``max_steps`` tokens (intermediate layers tend to loop; the
    repetition stop applies); ``kw`` go to ``trace_whisper`` (default: keep only the logits)."""
    from ..wer import normalize_text, wer_alignment

    loaded = _core.as_loaded(loaded, "whisper")
    n = int(loaded.model.config.encoder_layers)
    kw = {**LENS_TRACE_KW, "max_steps": max_steps, **kw}
    runs = [whisper_lens(audio, loaded, layer, **kw) for layer in range(n + 1)]
    final = runs[-1].meta["text"]
    rows = []
    for layer, t in enumerate(runs):
        text = t.meta["text"]
        row = {"layer": layer, "name": "conv stem" if layer == 0 else f"layer {layer - 1}",
               "text": text, "n_tokens": len(t.steps), "stop_reason": t.meta.get("stop_reason")}
        for key, ref in (("", final), ("reference_", reference)):
            if ref is None:
                continue
            if normalize_text(ref):
                s = wer_alignment(ref, text)
                row[f"{key}wer"], row[f"{key}cer"] = s["wer"], s["cer"]
            else:
                row[f"{key}wer"] = row[f"{key}cer"] = None
        rows.append(row)
    return rows
