"""TTS knobs that are model internals (issue 19, intervention 7): the stop logit, the speaker
x-vector and the span of text the decoder may read.

Three kinds, all for the ``tts`` family (SpeechT5), applied by ``lab.tts.capture`` around its own
decoder loop (``lab.tts.loop.decode``) -- not hooks, so :class:`lab.interventions.Plan` hands them
over in ``plan.others`` and :func:`resolve` turns them into one :class:`Knobs`:

- :class:`StopScale` ``(scale, offset)``: at every decoder step the ``r`` stop logits ``z`` that
  ``speech_decoder_postnet.prob_out`` returns (one per new mel frame) become ``scale * z +
  offset`` *before* the sigmoid; the stop rule is unchanged (stop when ``sum_r sigmoid(.) >=
  threshold``, 0.5). A trained model's logits are very negative while it speaks and cross zero at
  the end, so ``scale < 1`` pulls every logit toward 0 (probability toward 0.5): the model stops
  **earlier** (``scale = 0``: every probability is 0.5, the sum is ``r * 0.5 >= 0.5``: it stops at
  the first step the minimum length allows). ``scale > 1`` pushes the speaking logits further
  down and only the last ones (near 0) over: it stops a little **later**. ``offset`` shifts
  them all: ``offset > 0`` stops earlier, ``offset = -20`` (probabilities ~1e-9) means it
  **never stops** by itself and runs to the length limit (``maxlenratio``). No-op: ``(1, 0)``.
  The stop logits do not feed back into the loop (only the mel frame does), so a changed run is
  the unchanged run cut earlier or continued: its stop step is the first step where the
  *unchanged* logits, transformed, pass the threshold. Measured on the zoo's
  tiny-speecht5-tts-en ("The birch canoe slid on the smooth planks.", stop at step 67): the
  logits sit near -22 / -10 (first / second frame of a step) while it speaks and jump to +2.5 at
  the end -- a cliff -- so ``scale`` in [0.1, 100] moves the stop by at most one step (0.09: 66,
  0.08: 63, 0.07: step 1) and ``scale > 1`` cannot delay it (the last logit is already > 0);
  ``offset`` is the graded knob: +4 -> 66, +6 -> 65, +8 -> 39 (mid-sentence), +9 -> 1; -3 or
  lower: never stops.
- :class:`SpeakerEdit` ``(direction, amount)``: the x-vector ``x`` (512 values) becomes
  ``x + amount * |x| * d`` before the model sees it, ``d`` the unit vector named ``direction``
  (:func:`speaker_directions`). SpeechT5 L2-normalises the x-vector in the decoder prenet
  (``speaker_embeds_layer`` reads ``x / |x|`` at every step), so only the direction matters: every
  direction but ``"self"`` is made orthogonal to ``x``, and ``amount`` is then ``tan`` of the
  angle the speaker turns by (1 = 45 degrees). ``"self"`` (``x``'s own direction) only rescales
  ``x``: it teaches that the length is thrown away (the output changes by float rounding only).
  No-op: ``amount = 0`` (exactly ``x``).
- :class:`ClampCrossAttn` ``(start, end)``: the decoder's cross-attention may read only the text
  tokens ``[start, end)`` (0-based, as ``trace.tokens`` lists them, ``</s>`` last), at every step
  and in every layer and head: the *encoder attention mask* the decoder gets (``encoder_attention
  _mask``) is 0 outside the span, so those keys get a ``-inf``-like bias and exactly zero weight.
  The text encoder itself still reads the whole text (its own mask is untouched), so the span's
  encoder states still carry some context from their neighbours. No-op: ``(0, n_tokens)``.

Several ``speaker_edit`` add up; at most one ``stop_scale`` and one ``clamp_cross_attn`` per run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..errors import LabError
from .spec import register

RANDOM_SEED = 0
N_SINGULAR = 3


def _number(kind: str, name: str, v, *, integer: bool = False):
    ok = (isinstance(v, int) if integer else isinstance(v, (int, float))) and not isinstance(v, bool)
    if not ok or (not integer and not math.isfinite(v)):
        what = "an integer" if integer else "a finite number"
        raise LabError(f"{kind}: {name} must be {what}, got {v!r}")
    return int(v) if integer else float(v)


@register("stop_scale", families=("tts",))
@dataclass(frozen=True)
class StopScale:
    """Stop logit ``z -> scale * z + offset`` before the sigmoid, at every decoder step (see the
    module doc: ``scale < 1`` or ``offset > 0`` stops earlier, ``scale > 1`` later, ``offset
    = -20`` never by itself)."""

    scale: float = 1.0
    offset: float = 0.0
    kind: str = "stop_scale"

    def __post_init__(self):
        object.__setattr__(self, "scale", _number("stop_scale", "scale", self.scale))
        object.__setattr__(self, "offset", _number("stop_scale", "offset", self.offset))
        if self.scale < 0:
            raise LabError(f"stop_scale: scale must be >= 0 (a negative scale flips speaking and "
                           f"stopping), got {self.scale:g}")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "scale": self.scale, "offset": self.offset}


@register("speaker_edit", families=("tts",))
@dataclass(frozen=True)
class SpeakerEdit:
    """x-vector ``x -> x + amount * |x| * d``, ``d`` the unit direction named ``direction``
    (a key of :func:`speaker_directions`: ``sv1``..``sv3``, ``random``, ``self``,
    ``toward:<speaker>``)."""

    direction: str
    amount: float
    kind: str = "speaker_edit"

    def __post_init__(self):
        if not isinstance(self.direction, str) or not self.direction:
            raise LabError(f"speaker_edit: direction must be a name such as 'sv1', got {self.direction!r}")
        object.__setattr__(self, "amount", _number("speaker_edit", "amount", self.amount))

    def as_dict(self) -> dict:
        return {"kind": self.kind, "direction": self.direction, "amount": self.amount}


@register("clamp_cross_attn", families=("tts",))
@dataclass(frozen=True)
class ClampCrossAttn:
    """Decoder cross-attention restricted to text tokens ``[start, end)`` (every step, layer and
    head), through the encoder attention mask the decoder receives."""

    start: int
    end: int
    kind: str = "clamp_cross_attn"

    def __post_init__(self):
        s = _number("clamp_cross_attn", "start", self.start, integer=True)
        e = _number("clamp_cross_attn", "end", self.end, integer=True)
        if s < 0 or e <= s:
            raise LabError(f"clamp_cross_attn: need 0 <= start < end, got [{s}, {e})")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "start": self.start, "end": self.end}


# -- directions ------------------------------------------------------------------------------
def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm()


def _orthogonal(v: torch.Tensor, x_hat: torch.Tensor | None) -> torch.Tensor | None:
    """``v`` without its component along ``x_hat``, unit length (None when nothing is left)."""
    if x_hat is not None:
        v = v - (v @ x_hat) * x_hat
    n = float(v.norm())
    return None if n < 1e-6 else v / n


def speaker_directions(loaded, speaker=None) -> dict[str, torch.Tensor]:
    """Named unit directions (each a float32 tensor ``(speaker_dim,)``) to move the x-vector along.

    - ``sv1``, ``sv2``, ``sv3``: the top right-singular vectors of the speaker columns of the
      decoder prenet's ``speaker_embeds_layer`` (``weight[:, hidden:]``, shape (hidden,
      speaker_dim)): the directions of x-vector space the model's weights respond to most
      (sign fixed so the largest component is positive);
    - ``random``: a fixed random direction (``torch.Generator`` seed 0): the control -- does any
      turn matter, or only the ones the model listens to?;
    - ``self``: the speaker's own direction (only with ``speaker``): changes the length only;
    - ``toward:<name>``: toward each known speaker (:func:`lab.tts.speaker.known_speakers`) that
      points elsewhere than ``speaker`` (``tan`` of the angle between them is the ``amount`` that
      reaches it, see :func:`Knobs.record`).

    ``speaker``: the x-vector the run uses (anything :func:`lab.tts.speaker.load_speaker` takes;
    None: the lab's default). Every direction but ``self`` is made orthogonal to it. Principal
    components of a speaker set are not offered: the lab has one speaker offline (the zoo model
    was trained on one voice with the lab's default vector).
    """
    from ..tts.loop import MODULES
    from ..tts.speaker import known_speakers, load_speaker
    from ..capture import module_at

    model = loaded.model if hasattr(loaded, "model") else loaded
    cfg = model.config
    dim = int(cfg.speaker_embedding_dim)
    x = load_speaker(speaker, dim)[0][0].float()
    x_hat = _unit(x)
    layer = module_at(model, MODULES["decoder_prenet"]).speaker_embeds_layer
    w = layer.weight.detach().float().cpu()[:, -dim:]  # (hidden, speaker_dim): the speaker columns
    _, _, vh = torch.linalg.svd(w, full_matrices=False)
    out: dict[str, torch.Tensor] = {}
    for k in range(min(N_SINGULAR, vh.shape[0])):
        v = vh[k] * torch.sign(vh[k][vh[k].abs().argmax()])
        d = _orthogonal(v, x_hat)
        if d is not None:
            out[f"sv{k + 1}"] = d
    g = torch.Generator().manual_seed(RANDOM_SEED)
    out["random"] = _orthogonal(torch.randn(dim, generator=g), x_hat)
    out["self"] = x_hat.clone()
    for name, vec in known_speakers(dim).items():
        d = _orthogonal(_unit(vec.float()), x_hat)
        if d is not None:
            out[f"toward:{name}"] = d
    return out


# -- the resolved knobs of one run ---------------------------------------------------------
@dataclass
class Knobs:
    """The TTS knobs of one run, resolved against the model, the text and the speaker.

    ``stop``: the :class:`StopScale` or None; ``edits``: the :class:`SpeakerEdit` list with their
    unit directions; ``clamp``: the :class:`ClampCrossAttn` or None; ``n_tokens``: text tokens.
    """

    stop: StopScale | None = None
    edits: list[tuple[SpeakerEdit, torch.Tensor]] = field(default_factory=list)
    clamp: ClampCrossAttn | None = None
    n_tokens: int = 0
    tokens: list[str] = field(default_factory=list)
    _speaker_in: torch.Tensor | None = field(default=None, repr=False)
    _speaker_out: torch.Tensor | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return self.stop is not None or bool(self.edits) or self.clamp is not None

    def speaker(self, x: torch.Tensor) -> torch.Tensor:
        """The edited x-vector: ``x`` (1, speaker_dim) + sum of ``amount * |x| * d``."""
        self._speaker_in = x
        if not self.edits:
            self._speaker_out = x
            return x
        norm = x.norm()
        out = x
        for e, d in self.edits:
            out = out + (e.amount * norm) * d.to(x.dtype).to(x.device)[None]
        if not torch.isfinite(out).all() or float(out.norm()) < 1e-8:
            raise LabError("speaker_edit: the edited x-vector is zero or not finite; use a smaller amount")
        self._speaker_out = out
        return out

    def stop_transform(self):
        """``z (1, r) -> scale * z + offset`` for :func:`lab.tts.loop.decode`, or None."""
        if self.stop is None:
            return None
        scale, offset = self.stop.scale, self.stop.offset
        return lambda z: z * scale + offset

    def encoder_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """The decoder's encoder attention mask (1, text_token): ``mask`` with zeros outside
        ``[start, end)`` (``mask`` itself without a clamp)."""
        if self.clamp is None:
            return mask
        out = mask.clone()
        out[:, :self.clamp.start] = 0
        out[:, self.clamp.end:] = 0
        return out

    def record(self) -> dict:
        """JSON-able: what each knob did (``trace.meta["intervention"]["tts_knobs"]``)."""
        out: dict = {}
        if self.stop is not None:
            out["stop"] = {"scale": self.stop.scale, "offset": self.stop.offset,
                           "where": "speech_decoder_postnet.prob_out logits, each step, before the sigmoid"}
        if self.edits:
            a, b = self._speaker_in, self._speaker_out
            cos = None if a is None or b is None else float(
                torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1)[0])
            out["speaker"] = {"edits": [e.as_dict() for e, _ in self.edits],
                              "cosine_to_original": None if cos is None else round(cos, 6),
                              "turned_degrees": None if cos is None else
                              round(math.degrees(math.acos(max(-1.0, min(1.0, cos)))), 3)}
        if self.clamp is not None:
            s, e = self.clamp.start, self.clamp.end
            out["clamp"] = {"start": s, "end": e, "tokens": self.tokens[s:e],
                            "where": "the decoder's encoder_attention_mask (every step, layer, head)"}
        return out


def resolve(plan, loaded, n_tokens: int, tokens: list[str] | None = None, speaker=None) -> Knobs:
    """The :class:`Knobs` of ``plan`` (its ``stop_scale`` / ``speaker_edit`` /
    ``clamp_cross_attn`` interventions) for a text of ``n_tokens`` tokens; LabError for two
    stop scales or clamps, an unknown direction, or a span outside the text."""
    stops, edits, clamps = (plan.of_kind(k) for k in ("stop_scale", "speaker_edit", "clamp_cross_attn"))
    if len(stops) > 1:
        raise LabError(f"stop_scale given {len(stops)} times; give one (scale and offset together)")
    if len(clamps) > 1:
        raise LabError(f"clamp_cross_attn given {len(clamps)} times; give one span")
    k = Knobs(stop=stops[0] if stops else None, n_tokens=int(n_tokens), tokens=list(tokens or []))
    if clamps:
        c = clamps[0]
        if c.end > n_tokens:
            raise LabError(f"clamp_cross_attn [{c.start}, {c.end}): the text has {n_tokens} tokens "
                           f"(0..{n_tokens - 1}, the last is </s>); end must be <= {n_tokens}")
        k.clamp = c
    if edits:
        dirs = speaker_directions(loaded, speaker)
        for e in edits:
            if e.direction not in dirs:
                raise LabError(f"speaker_edit: unknown direction {e.direction!r}; this model has: "
                               f"{', '.join(dirs)}")
            k.edits.append((e, dirs[e.direction]))
    return k


def word_span(trace, word: str, occurrence: int = 0) -> tuple[int, int]:
    """``[start, end)`` (token indices of ``trace.tokens``) of ``word`` in a TTS trace's text, for
    :class:`ClampCrossAttn`. A letter model's tokens are characters: the word's letters are
    searched. A phone model (``trace.meta["phones"]``) has no word boundaries in its tokens: the
    word is phonemized alone by the same flite voice and its phones are searched (a word said
    differently in context, e.g. "the" as dh-iy, is not found: LabError). ``occurrence``: which
    match (0 = first)."""
    import re

    from ..tts.phones import phone_string, readable

    w = (word or "").strip()
    if not w:
        raise LabError("word_span: give a word")
    tokens = list(trace.tokens)
    if trace.meta.get("phones"):
        m = re.search(r"voice '([^']+)'", str(trace.meta.get("text_frontend") or ""))
        target = readable(phone_string(w, m.group(1) if m else "awb").rstrip(".?!"))
    else:
        target = list(w)
    n = len(target)
    hits = [i for i in range(len(tokens) - n + 1) if tokens[i:i + n] == target] if n else []
    if len(hits) <= occurrence:
        raise LabError(f"word_span: {w!r} ({' '.join(target)}) occurs {len(hits)} time(s) in the "
                       f"tokens ({' '.join(tokens)}); asked for occurrence {occurrence}")
    return hits[occurrence], hits[occurrence] + n


__all__ = ["StopScale", "SpeakerEdit", "ClampCrossAttn", "speaker_directions", "Knobs", "resolve",
           "word_span"]
