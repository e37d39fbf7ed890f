"""SpeechT5's text-to-speech decoder loop, run by the lab so every step can be watched.

transformers' ``generate_speech`` (``_generate_speech`` in ``modeling_speecht5.py``) throws away
the stop probabilities and the pre-post-net spectrogram. This module runs the same loop with the
model's own modules, in the same order, and yields one :class:`Step` per decoder step:

1. the text encoder runs once over the text tokens (characters, or phones for a phone model);
2. the decoder starts from one all-zero mel frame; at every step the speech *prenet* runs over the
   whole sequence of fed-back frames (with the speaker embedding concatenated and projected), the
   decoder layers run on its last position only (with a key/value cache), ``feat_out`` predicts
   ``reduction_factor`` new mel frames and ``prob_out`` one stop logit per new frame;
3. the last new frame is appended to the decoder's input sequence;
4. stop rule (identical to transformers): with ``idx = step + 1``, ``minlen = int(T * minlenratio
   / r)`` and ``maxlen = int(T * maxlenratio / r)`` (``T`` text tokens): no stop while
   ``idx < minlen``; otherwise stop when ``sum(sigmoid(stop logits)) >= threshold`` (the sum over
   the ``r`` new frames, so it can exceed 1) or when ``idx >= maxlen``. The lab adds one guard:
   it stops before the decoder runs out of positions (``config.max_speech_positions``) where
   transformers would crash;
5. the post-net (5 conv layers on the real model) adds a residual to the whole spectrogram.

Prenet dropout: SpeechT5 applies dropout in the speech-decoder prenet *also at inference*
(Tacotron 2's trick; ``_consistent_dropout`` with ``config.speech_decoder_prenet_dropout``, 0.5 on
microsoft/speecht5_tts), so two runs of the same text differ unless the random generator is
seeded. ``LoopSettings.seed`` (default 0) seeds a private copy of torch's generator: the lab's
output is reproducible and equals ``torch.manual_seed(seed); model.generate_speech(...)`` exactly.
``seed=None`` draws from torch's global generator like an unseeded ``generate_speech``.
(Setting the dropout to 0 does not switch it off: transformers' mask keeps an element with
probability p, so p=0 zeroes the prenet output.)
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Iterator

import torch

from lab.capture import model_lock, module_at

from .constants import STOP_THRESHOLD
from .names import MODULES  # noqa: F401 (the paths table, lab/tts/names.py; also loop.MODULES)

STOP_REASONS = ("threshold", "max_length", "max_positions")


@dataclass
class LoopSettings:
    """``threshold``: stop when the step's summed stop probability reaches it (transformers'
    default, ``STOP_THRESHOLD`` = 0.5). ``minlenratio`` / ``maxlenratio``: minimum / maximum number of steps as a ratio
    of text tokens / reduction factor (defaults 0.0 / 20.0 as in transformers). ``seed``: seeds
    the prenet dropout (``None``: the global generator)."""

    threshold: float = STOP_THRESHOLD
    minlenratio: float = 0.0
    maxlenratio: float = 20.0
    seed: int | None = 0


@dataclass
class EncoderOut:
    """``last_hidden``: (1, text_token, hidden); ``hidden_states``: layers+1 tensors (1, text_token,
    hidden), entry 0 = input to layer 0 (after the encoder's first layer norm);
    ``attentions``: one (1, head, query_token, key_token) per layer; ``attention_mask``: (1, text_token)."""

    last_hidden: torch.Tensor
    hidden_states: tuple
    attentions: tuple
    attention_mask: torch.Tensor


@dataclass
class Step:
    """One decoder step (``index`` 0-based; it produced mel frames ``index*r .. index*r + r - 1``).

    ``decoder_input``: (mel_bin,) the frame at the prenet's last position (zeros at step 0);
    ``frames``: (r, mel_bin) new pre-post-net frames; ``stop_probs``: (r,) sigmoid of the stop
    logits; ``stop_prob``: their sum (what the threshold is compared with);
    ``cross_attn``: (layer, head, text_token) this step's query over the text, or None;
    ``decoder_hidden``: (hidden,) decoder output; ``decision``: ``"continue"`` or the stop reason
    (``"threshold"``, ``"max_length"``, ``"max_positions"``); ``below_min_length``: the minimum
    length rule kept the loop going at this step.
    """

    index: int
    decoder_input: torch.Tensor
    frames: torch.Tensor
    stop_probs: torch.Tensor
    stop_prob: float
    cross_attn: torch.Tensor | None
    decoder_hidden: torch.Tensor
    decision: str
    below_min_length: bool
    spectrum: torch.Tensor = field(repr=False, default=None)  # (1, r, mel_bin) as transformers keeps it


@dataclass
class LoopResult:
    """A finished loop: ``mel_pre`` / ``mel_post``: (mel_frame, mel_bin) log10-mel before / after
    the post-net; ``stop_reason`` one of STOP_REASONS; ``minlen`` / ``maxlen`` in steps."""

    input_ids: torch.Tensor
    encoder: EncoderOut
    steps: list[Step]
    mel_pre: torch.Tensor
    mel_post: torch.Tensor
    stop_reason: str
    minlen: int
    maxlen: int
    settings: LoopSettings

    @property
    def stop_step(self) -> int:
        return self.steps[-1].index


def lengths(n_text: int, config, settings: LoopSettings) -> tuple[int, int]:
    """(minlen, maxlen) in decoder steps, computed exactly as transformers does."""
    r = config.reduction_factor
    return int(n_text * settings.minlenratio / r), int(n_text * settings.maxlenratio / r)


_RNG_LOCK = threading.Lock()


class _PrivateRNG:
    """A private copy of torch's generator state, swapped in around each prenet call, so a
    streaming loop interleaved with other work draws the same dropout masks as an uninterrupted
    ``torch.manual_seed(seed); generate_speech(...)``."""

    def __init__(self, seed: int | None, device: torch.device):
        self.cuda = device.type == "cuda"
        self.state = None
        if seed is not None:
            with _RNG_LOCK, torch.random.fork_rng(devices=[device] if self.cuda else []):
                torch.manual_seed(seed)
                self.state = self._get()

    def _get(self):
        return torch.cuda.get_rng_state() if self.cuda else torch.get_rng_state()

    def _set(self, state):
        torch.cuda.set_rng_state(state) if self.cuda else torch.set_rng_state(state)

    @contextlib.contextmanager
    def active(self):
        if self.state is None:
            yield
            return
        with _RNG_LOCK:
            saved = self._get()
            self._set(self.state)
            try:
                yield
            finally:
                self.state = self._get()
                self._set(saved)


@torch.no_grad()
def encode(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> EncoderOut:
    """Run the text encoder once. ``input_ids``: (1, text_token)."""
    if attention_mask is None:  # as transformers: everything that is not padding
        attention_mask = 1 - (input_ids == model.config.pad_token_id).int()
    with model_lock(model):
        out = module_at(model, MODULES["encoder"])(
            input_values=input_ids, attention_mask=attention_mask, output_attentions=True,
            output_hidden_states=True, return_dict=True)
    return EncoderOut(out.last_hidden_state, out.hidden_states or (), out.attentions or (),
                      attention_mask)


@torch.no_grad()
def decode(model, enc: EncoderOut, speaker: torch.Tensor, settings: LoopSettings,
           *, cross_attention: bool = True, stop_transform=None,
           encoder_mask: torch.Tensor | None = None) -> Iterator[Step]:
    """Yield the decoder steps until a stop rule fires (the last yielded step carries it).

    ``speaker``: (1, speaker_dim) on the model's device. What-if knobs
    (:mod:`lab.interventions.tts_knobs`): ``stop_transform`` maps the step's stop logits
    ``(1, r)`` (``prob_out``'s output) to new logits before the sigmoid; ``encoder_mask``
    ``(1, text_token)`` replaces ``enc.attention_mask`` as the decoder's cross-attention mask
    (the encoder already ran with its own). Both None: transformers' loop exactly.
    """
    cfg = model.config
    r, n_mels = cfg.reduction_factor, cfg.num_mel_bins
    prenet = module_at(model, MODULES["decoder_prenet"])
    decoder = module_at(model, MODULES["decoder"])
    feat_out = module_at(model, MODULES["feat_out"])
    prob_out = module_at(model, MODULES["prob_out"])
    hidden = enc.last_hidden
    minlen, maxlen = lengths(hidden.size(1), cfg, settings)
    rng = _PrivateRNG(settings.seed, hidden.device)

    cross_mask = enc.attention_mask if encoder_mask is None else encoder_mask
    output_sequence = hidden.new_zeros(1, 1, n_mels)  # the all-zero start frame
    past = None
    idx = 0
    while True:
        idx += 1
        with model_lock(model):  # one step's forward passes (not held across the yield)
            with rng.active():  # prenet dropout draws here (and only here)
                dec_in = prenet(output_sequence, speaker)
            out = decoder(hidden_states=dec_in[:, -1:], attention_mask=None,
                          encoder_hidden_states=hidden, encoder_attention_mask=cross_mask,
                          past_key_values=past, use_cache=True, output_attentions=cross_attention,
                          return_dict=True)
            last = out.last_hidden_state.squeeze(1)  # (1, hidden)
            past = out.past_key_values
            spectrum = feat_out(last).view(1, r, n_mels)
            logits = prob_out(last)  # (1, r) stop logits, one per new frame
            if stop_transform is not None:
                logits = stop_transform(logits)
            prob = torch.sigmoid(logits)  # (1, r)
        fed = output_sequence[0, -1]
        output_sequence = torch.cat((output_sequence, spectrum[:, -1, :].view(1, 1, n_mels)), dim=1)

        below = idx < minlen
        if below:
            decision = "continue"
        elif idx < maxlen:
            decision = "threshold" if bool(torch.sum(prob, dim=-1)[0] >= settings.threshold) else "continue"
        else:
            decision = "max_length"
        if decision == "continue" and idx + 1 > cfg.max_speech_positions:
            decision = "max_positions"  # transformers would index past its positional table
        xattn = None
        if cross_attention and out.cross_attentions:
            xattn = torch.cat([a[0, :, -1, :].unsqueeze(0) for a in out.cross_attentions])
        yield Step(index=idx - 1, decoder_input=fed, frames=spectrum[0], stop_probs=prob[0],
                   stop_prob=float(prob.sum()), cross_attn=xattn, decoder_hidden=last[0],
                   decision=decision, below_min_length=below, spectrum=spectrum)
        if decision != "continue":
            return


@torch.no_grad()
def postnet(model, steps: list[Step]) -> tuple[torch.Tensor, torch.Tensor]:
    """(mel_pre, mel_post), each (mel_frame, mel_bin), from the steps' spectra -- stacked and run
    through the post-net exactly as transformers does."""
    spectra = torch.stack([s.spectrum for s in steps])  # (step, 1, r, mel_bin)
    spectra = spectra.transpose(0, 1).flatten(1, 2)  # (1, step * r, mel_bin)
    with model_lock(model):
        post = module_at(model, MODULES["postnet"]).postnet(spectra)
    return spectra[0], post[0]


def run(model, input_ids: torch.Tensor, speaker: torch.Tensor,
        settings: LoopSettings | None = None, *, cross_attention: bool = True) -> LoopResult:
    """Encoder once, decoder until a stop rule, post-net: the whole loop in one call."""
    settings = settings or LoopSettings()
    enc = encode(model, input_ids)
    steps = list(decode(model, enc, speaker, settings, cross_attention=cross_attention))
    return finish(model, input_ids, enc, steps, settings)


def finish(model, input_ids, enc: EncoderOut, steps: list[Step], settings: LoopSettings) -> LoopResult:
    mel_pre, mel_post = postnet(model, steps)
    minlen, maxlen = lengths(enc.last_hidden.size(1), model.config, settings)
    return LoopResult(input_ids=input_ids, encoder=enc, steps=steps, mel_pre=mel_pre,
                      mel_post=mel_post, stop_reason=steps[-1].decision, minlen=minlen,
                      maxlen=maxlen, settings=settings)
