"""Step-by-step greedy decoding with the KV cache, the way ``model.generate()`` does it.

The prompt (start-of-transcript [, language, task], no-timestamps) is run in one forward pass
(prefill); then one token per forward pass, re-using an ``EncoderDecoderCache`` (self-attention keys
and values grow by one per step; cross-attention keys and values over the 1500 encoder frames are
computed once). The encoder ran before: its output is passed as ``encoder_outputs``.

Logits are processed exactly like Whisper ``generate()`` greedy (transformers 5): the rules of
``SuppressTokensLogitsProcessor`` (``generation_config.suppress_tokens``) at every step and of
``SuppressTokensAtBeginLogitsProcessor`` (``begin_suppress_tokens``: blank and end-of-text) at the
first generated position (``SuppressionRules``), so the chosen tokens are identical (tested).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch

from ..capture import AttentionRecorder, hooks
from ..errors import LabError
from ..trace import Trace
from . import names
from .language import LANGUAGE_TOP, LanguageResult, detect_language  # noqa: F401 (LANGUAGE_TOP re-exported)


@dataclass
class Prompt:
    """Decoder prompt. ``ids``: token ids fed before the first generated token."""

    ids: list[int]
    language: str | None = None
    task: str | None = None
    language_probs: list[dict] = field(default_factory=list)  # when detected: top languages
    detection: LanguageResult | None = None  # the language step, when it ran
    language_source: str | None = None  # detected | forced (multilingual checkpoints), else None


def _lang_token(language: str, lang_to_id: dict) -> str:
    from transformers.models.whisper.tokenization_whisper import LANGUAGES, TO_LANGUAGE_CODE

    lang = language.lower().strip()
    for cand in (lang, f"<|{lang}|>", f"<|{TO_LANGUAGE_CODE.get(lang, '')}|>"):
        if cand in lang_to_id:
            return cand
    known = sorted(set(LANGUAGES) & {k.strip("<|>") for k in lang_to_id})
    raise LabError(f"unknown language {language!r} for this model; use a code such as "
                   f"{', '.join(known[:12])} ...")


def _decoder_forward(model, encoder_out, ids: torch.Tensor, cache=None):
    from transformers.modeling_outputs import BaseModelOutput

    return model(encoder_outputs=BaseModelOutput(last_hidden_state=encoder_out),
                 decoder_input_ids=ids, past_key_values=cache, use_cache=cache is not None)


def build_prompt(model, tokenizer, encoder_out: torch.Tensor, *, language: str | None = None,
                 task: str | None = None, timestamps: bool = False,
                 show_language_step: bool = False) -> Prompt:
    """The prompt ``generate()`` builds without timestamps (transformers 5 ``_retrieve_init_tokens``).

    English-only checkpoints: ``[<|startoftranscript|>, <|notimestamps|>]``.
    Multilingual (``generation_config.lang_to_id``): ``[sot, <|lang|>, <|task|>, <|notimestamps|>]``;
    the language is the user's or detected as ``generate()`` does (``lab.whisper.language.
    detect_language``: argmax of the first-step logits restricted to language tokens; kept in
    ``prompt.detection``, its top languages in ``prompt.language_probs``; ``show_language_step``:
    run the step also when the language is forced, to show it -- the prompt is unchanged). As in
    ``generate()``, without a language or task the task token comes from the checkpoint's
    ``forced_decoder_ids`` (the hub checkpoints force ``<|transcribe|>``), if it has any.
    """
    gen = model.generation_config
    ids: list[int | None] = [int(gen.decoder_start_token_id)]
    lang_to_id = getattr(gen, "lang_to_id", None) or {}
    task_to_id = getattr(gen, "task_to_id", None) or {}
    if getattr(gen, "is_multilingual", None) is False or not lang_to_id:
        if language is not None or task is not None:
            raise LabError("this is an English-only Whisper checkpoint: language/task cannot be set")
    prompt = Prompt(ids=[])
    if language is None and task is None:
        forced = getattr(gen, "forced_decoder_ids", None) or getattr(model.config, "forced_decoder_ids", None)
        for pos, tok in sorted(forced or []):
            if pos != len(ids):
                break
            ids.append(tok)
    if lang_to_id:
        inv = {v: k for k, v in lang_to_id.items()}
        lang_id = None
        if language is not None:
            lang_id = lang_to_id[_lang_token(language, lang_to_id)]
        elif len(ids) <= 1 or ids[1] is None:  # generate(): detect_language() when none is set
            prompt.detection = detect_language(model, encoder_out)
            prompt.language_probs = prompt.detection.top()
            lang_id = prompt.detection.token_id
            prompt.language_source = "detected"
        if lang_id is not None:
            if len(ids) > 1:
                ids[1] = lang_id
            else:
                ids.append(lang_id)
        if len(ids) > 1 and ids[1] in inv:
            prompt.language = inv[ids[1]].strip("<|>")
            if prompt.detection is None:
                prompt.language_source = "forced"
                if show_language_step:
                    prompt.detection = detect_language(model, encoder_out)
                    prompt.language_probs = prompt.detection.top()
        if task is not None:
            if task not in task_to_id:
                raise LabError(f"unknown task {task!r}; this model knows {sorted(task_to_id)}")
            if any(t in task_to_id.values() for t in ids):
                ids = [task_to_id[task] if t in task_to_id.values() else t for t in ids]
            else:
                ids.append(task_to_id[task])
        elif language is not None and task_to_id and not any(t in task_to_id.values() for t in ids):
            ids.append(task_to_id["transcribe"])
        inv_task = {v: k for k, v in task_to_id.items()}
        prompt.task = next((inv_task[t] for t in ids if t in inv_task), None)
    nts = getattr(gen, "no_timestamps_token_id", None)
    if timestamps:  # timestamp-token mode: no <|notimestamps|> (generate(return_timestamps=True))
        ids = [t for t in ids if nts is None or t != nts]
    elif nts is not None and ids[-1] != nts:
        ids.append(int(nts))
    prompt.ids = [int(t) for t in ids if t is not None]
    return prompt


class SuppressionRules:
    """Whisper ``generate()``'s logits processing without timestamps, as one callable
    ``rules(input_ids, scores) -> scores``: the rules of transformers'
    ``SuppressTokensAtBeginLogitsProcessor`` (``begin_suppress_tokens`` -> -inf when
    ``input_ids`` has exactly ``begin_index`` tokens, i.e. at the first generated position) and
    ``SuppressTokensLogitsProcessor`` (``suppress_tokens`` -> -inf at every step), applied with the
    same ``torch.where``. The masks are built once (HF rebuilds them with ``torch.isin`` over the
    vocabulary at every call, ~20-90 ms each on this CPU); the results are identical."""

    def __init__(self, model, begin_index: int, vocab_size: int | None = None):
        gen = model.generation_config
        V = int(vocab_size or model.config.vocab_size)
        self.begin_index = begin_index
        self.suppress = self._mask(getattr(gen, "suppress_tokens", None), V)
        self.begin_suppress = self._mask(getattr(gen, "begin_suppress_tokens", None), V)
        self.suppress_tokens = sorted(set(getattr(gen, "suppress_tokens", None) or []))
        self.begin_suppress_tokens = sorted(set(getattr(gen, "begin_suppress_tokens", None) or []))

    @staticmethod
    def _mask(ids, V: int) -> torch.Tensor | None:
        if not ids:
            return None
        m = torch.zeros(V, dtype=torch.bool)
        ids = torch.tensor([int(i) for i in ids])
        m[ids[(ids >= 0) & (ids < V)]] = True
        return m

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        inf = -float("inf")
        if self.begin_suppress is not None and input_ids.shape[-1] == self.begin_index:
            scores = torch.where(self.begin_suppress.to(scores.device), inf, scores)
        if self.suppress is not None:
            scores = torch.where(self.suppress.to(scores.device), inf, scores)
        return scores


def logits_processors(model, begin_index: int, timestamps: bool = False):
    """The logits processing ``generate()`` uses for Whisper: the suppression rules, then (with
    ``timestamps``) the timestamp-token rules (``lab.whisper.timestamp_rules``), in HF's order."""
    if not timestamps:
        return SuppressionRules(model, begin_index)
    from .timestamp_rules import Chain, TimestampRules

    return Chain(SuppressionRules(model, begin_index), TimestampRules(model, begin_index))


def max_new_tokens(model, prompt: Prompt) -> int:
    """``generate()``'s limit: the decoder has ``max_target_positions`` (448) positions in all."""
    return int(model.config.max_target_positions) - len(prompt.ids)


def repetition_at_tail(tokens: list[int], *, max_ngram: int = 16, min_repeats: int = 4,
                       min_tokens: int = 12) -> bool:
    """True when the tail is one n-gram repeated back to back: ``k >= min_repeats`` copies and
    ``k * n >= min_tokens`` tokens (so "the the the the" alone does not count, a 3-gram looping
    4 times does). ``generate()`` has no such rule; it runs to end-of-text or the length limit."""
    for n in range(1, max_ngram + 1):
        k_needed = max(min_repeats, -(-min_tokens // n))
        if len(tokens) < n * k_needed:
            continue
        gram = tokens[-n:]
        if all(tokens[-(j + 1) * n:len(tokens) - j * n] == gram for j in range(1, k_needed)):
            return True
    return False


class _AttnRecorder:
    """Hooks on every decoder layer's self- and cross-attention for one forward pass:
    ``self_w[i]`` (head, query_token, key_token), ``cross_w[i]`` (head, query_token, key_frame)."""

    def __init__(self, model):
        dec = names.module(model, "decoder")
        self.n_layers = len(dec.layers)
        self.model = model
        self._recs: list[AttentionRecorder] = []

    def installs(self):
        """Fresh (module, hook) pairs for one forward pass (the weights of the last pass are
        dropped)."""
        self.self_w: list[torch.Tensor | None] = [None] * self.n_layers
        self.cross_w: list[torch.Tensor | None] = [None] * self.n_layers
        self._recs = [AttentionRecorder(self.model, part="decoder",
                                        on_weights=lambda i, w, s=store: s.__setitem__(i, w))
                      for store in (self.self_w, self.cross_w)]
        out = []
        for i in range(self.n_layers):
            out.append((names.module(self.model, "decoder.layers.{i}.self_attn", i=i), self._recs[0].hook(i)))
            out.append((names.module(self.model, "decoder.layers.{i}.cross_attn", i=i), self._recs[1].hook(i)))
        return out

    def check(self):
        for rec in self._recs:
            rec.check()


def _add_stack(trace: Trace, name: str, axes_key: str, ws: list[torch.Tensor], index) -> None:
    """Record (layer, head, ...) of the kept layers / heads; ``index`` picks the query rows."""
    if not trace.policy.keeps(name):
        return
    kept = [w[:, index] for i, w in enumerate(ws) if trace.policy.keeps_layer(i)]
    if kept:
        trace.add(name, trace.policy.select_heads(torch.stack(kept), 1), names.AXES[axes_key], attention=True)


class _LogitsBuffer:
    """Growing (step, vocab) float32 buffer; the trace holds a view of the filled rows."""

    def __init__(self):
        self.buf: torch.Tensor | None = None
        self.n = 0

    def append(self, row: torch.Tensor) -> torch.Tensor:
        row = row.detach().to("cpu", torch.float32)
        if self.buf is None:
            self.buf = torch.empty(16, row.numel())
        if self.n == self.buf.shape[0]:
            self.buf = torch.cat([self.buf, torch.empty_like(self.buf)])
        self.buf[self.n] = row
        self.n += 1
        return self.buf[: self.n]


def decode_greedy(model, tokenizer, encoder_out: torch.Tensor, prompt: Prompt, trace: Trace, *,
                  top_k: int = 10, max_steps: int | None = None, stop_on_repetition: bool = True,
                  alignment_heads: list[list[int]] | None = None, timestamps: bool = False,
                  temperature: float = 0.0, generator: torch.Generator | None = None,
                  no_speech_token: int | None = None,
                  force: dict[int, int] | None = None) -> Iterator[dict]:
    """Greedy decoding one token per forward pass; yields each step dict after recording it.

    Records (the policy filters layers/heads/names; attention at ``attn_dtype``):
    ``decoder.prompt.{self,cross}_attn.pattern`` (layer, head, query_token, key_token|key_frame),
    ``decoder.step.{s}.self_attn.pattern`` (layer, head, key_token): the query of step ``s`` (the
    previous token) over the prefix; ``decoder.step.{s}.cross_attn.pattern`` (layer, head, key_frame);
    ``decoder.logits`` (step, vocab): the model's raw logits that chose each token (before
    suppression). ``trace.steps[s]``: token, prob/logprob after suppression, top-k, cum_logprob.
    ``trace.meta["stop_reason"]``: end_of_text | max_steps | repetition.
    ``alignment_heads``: [[layer, head]...] whose cross-attention rows are also kept at float32
    (for word timestamps) in ``trace.meta``-independent tensor ``timestamps.cross_attn``.
    ``timestamps``: apply the timestamp-token rules (the prompt must then lack <|notimestamps|>).
    ``temperature > 0``: sample from softmax(scores / temperature) with ``generator`` (seeded by
    the caller) instead of argmax; recorded probabilities stay those of the processed scores.
    ``no_speech_token``: record ``trace.meta["no_speech_prob"]``, its probability from the raw
    logits at the start-of-transcript position (HF ``WhisperNoSpeechDetection``).
    ``force``: ``{step: token_id}`` (``lab.interventions`` force_token): take that token at that
    step (the step records the model's distribution, ``forced: True`` and ``model_token_id``); the
    tokens up to it then count as prompt for the begin-suppression rules, as in ``generate()``
    given them as ``decoder_input_ids``.
    """
    eos = int(model.generation_config.eos_token_id)
    limit = max_new_tokens(model, prompt)
    if max_steps is not None:
        if max_steps < 1:
            raise LabError(f"max_steps must be >= 1, got {max_steps}")
        limit = min(limit, int(max_steps))
    procs = logits_processors(model, begin_index=len(prompt.ids), timestamps=timestamps)
    device = encoder_out.device
    ids = torch.tensor([prompt.ids], device=device)
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    rec = _AttnRecorder(model)
    logits_buf = _LogitsBuffer()
    align_rows: list[torch.Tensor] = []
    generated: list[int] = []
    cum = 0.0
    step_in = ids
    trace.meta["stop_reason"] = None
    for s in range(limit):
        # the model's lock is held for each step's forward pass (inside ``hooks``), not across the
        # ``yield``: a streaming app may resume this generator on another thread, or abandon it
        with torch.no_grad(), hooks(model, rec.installs()):
            out = _decoder_forward(model, encoder_out, step_in, cache)
        rec.check()
        cache = out.past_key_values
        if s == 0 and no_speech_token is not None:
            sot = prompt.ids.index(int(model.generation_config.decoder_start_token_id))
            trace.meta["no_speech_prob"] = float(out.logits[0, sot].float().softmax(-1)[no_speech_token])
        if s == 0:
            for kind, ws in (("self", rec.self_w), ("cross", rec.cross_w)):
                key = f"decoder.prompt.{kind}_attn.pattern"
                _add_stack(trace, key, key, ws, slice(None))
        _add_stack(trace, names.step_self(s), "decoder.step.{s}.self_attn.pattern", rec.self_w, -1)
        _add_stack(trace, names.step_cross(s), "decoder.step.{s}.cross_attn.pattern", rec.cross_w, -1)
        if alignment_heads:
            align_rows.append(torch.stack([rec.cross_w[l][h, -1].float().cpu() for l, h in alignment_heads]))
            trace.add("timestamps.cross_attn", torch.stack(align_rows, 1),
                      names.AXES["timestamps.cross_attn"], force=True)

        raw = out.logits[0, -1].to(torch.float32)
        trace.add("decoder.logits", logits_buf.append(raw), names.AXES["decoder.logits"], force=True)
        scores = procs(ids, raw[None].clone())[0]
        if temperature and temperature > 0:
            token = int(torch.multinomial(torch.softmax(scores.float() / temperature, -1), 1,
                                          generator=generator))
        else:
            token = int(scores.argmax())
        forced = bool(force) and s in force
        if forced:
            model_token, token = token, int(force[s])
        logp = torch.log_softmax(scores, -1)
        cum += float(logp[token])
        k = min(top_k, scores.numel())
        top_lp, top_id = logp.topk(k)
        step = {
            "index": s, "token_id": token, "token": tokenizer.decode([token]),
            "prob": float(logp[token].exp()), "logprob": float(logp[token]),
            "top_k": [{"token_id": int(t), "token": tokenizer.decode([int(t)]), "prob": float(lp.exp())}
                      for lp, t in zip(top_lp, top_id)],
            "cum_logprob": cum,
        }
        if forced:
            step.update(forced=True, model_token_id=model_token)
        trace.steps.append(step)
        trace.tokens.append(step["token"])
        generated.append(token)
        ids = torch.cat([ids, torch.tensor([[token]], device=device)], 1)
        step_in = ids[:, -1:]
        if forced:  # generate(decoder_input_ids=prompt + prefix): begin rules after the prefix
            procs = logits_processors(model, begin_index=ids.shape[1], timestamps=timestamps)
        if token == eos:
            trace.meta["stop_reason"] = "end_of_text"
        elif s + 1 >= limit:
            trace.meta["stop_reason"] = "max_steps"
        elif stop_on_repetition and repetition_at_tail(generated):
            trace.meta["stop_reason"] = "repetition"
        yield step
        if trace.meta["stop_reason"]:
            return
