"""Whisper's timestamp-token rules, equal to transformers' ``WhisperTimeStampLogitsProcessor``.

With timestamps on, the prompt has no ``<|notimestamps|>`` and the decoder writes
``<|0.00|>``-style tokens (id ``timestamp_begin + k`` = ``k * 0.02`` s into the window). The rules,
applied to the scores of each step (after the suppression rules, as in ``generate()``):

- ``<|notimestamps|>`` is never generated;
- timestamps come in pairs: after a (begin, end) pair the next token is text; after a single
  timestamp that follows text the next token is a timestamp or end-of-text (ids >= eos);
- timestamps never decrease (and ``<|0.00|>`` is not repeated);
- the first generated token is a timestamp, at most ``max_initial_timestamp_index`` steps in
  (``generation_config.max_initial_timestamp_index``; none = no limit, as HF);
- when the total probability of all timestamps beats the best text token, a timestamp is forced
  (text tokens -> -inf).

HF rebuilds ``torch.arange(vocab)`` and compares at every call; here the masks are built once.
The result is identical (tested against the HF processor on random scores and on the real
models via ``generate(return_timestamps=True)``).
"""
from __future__ import annotations

import torch


class TimestampRules:
    """``rules(input_ids (batch, len), scores (batch, vocab)) -> scores`` (a new tensor).

    ``begin_index``: number of prompt tokens (index of the first generated token in ``input_ids``).
    """

    def __init__(self, model, begin_index: int, vocab_size: int | None = None):
        gen = model.generation_config
        self.no_timestamps = int(gen.no_timestamps_token_id)
        self.timestamp_begin = self.no_timestamps + 1
        eos = gen.eos_token_id if gen.eos_token_id is not None else gen.bos_token_id
        self.eos = int(eos[0] if isinstance(eos, (list, tuple)) else eos)
        self.begin_index = int(begin_index)
        mit = getattr(gen, "max_initial_timestamp_index", None)
        self.max_initial_timestamp_index = None if mit is None else int(mit)
        self.detect_from_logprob = bool(getattr(gen, "_detect_timestamp_from_logprob", True))
        V = int(vocab_size or model.config.vocab_size)
        self.vocab_size = V
        ids = torch.arange(V)
        self._is_timestamp = ids >= self.timestamp_begin
        # first step: only timestamps, and only up to the max initial one
        first = ~self._is_timestamp
        if self.max_initial_timestamp_index is not None:
            first |= ids > self.timestamp_begin + self.max_initial_timestamp_index
        self._first_mask = first

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        inf = -float("inf")
        tb, V = self.timestamp_begin, scores.shape[-1]
        out = scores.clone()
        out[:, self.no_timestamps] = inf
        for k, row in enumerate(input_ids[:, self.begin_index:].tolist()):
            last_ts = len(row) >= 1 and row[-1] >= tb
            penult_ts = len(row) < 2 or row[-2] >= tb
            if last_ts:
                if penult_ts:
                    out[k, tb:] = inf          # a pair just closed: text next
                else:
                    out[k, :self.eos] = inf    # a single timestamp after text: timestamp or eos
            stamps = [t for t in row if t >= tb]
            lowest = tb
            if stamps:
                lowest = stamps[-1] if (last_ts and not penult_ts) else stamps[-1] + 1
            if lowest > tb:
                out[k, tb:min(lowest, V)] = inf
        if input_ids.shape[1] == self.begin_index:
            out.masked_fill_(self._first_mask[:V].to(out.device), inf)
        if self.detect_from_logprob:
            logprobs = torch.log_softmax(out.float(), dim=-1)
            ts_logprob = logprobs[:, tb:].logsumexp(dim=-1)
            best_text = logprobs[:, :tb].max(dim=-1).values
            force = (ts_logprob > best_text).unsqueeze(-1)
            out[:, :tb].masked_fill_(force, inf)
        return out


class Chain:
    """Several ``rules(input_ids, scores)`` applied in order (``generate()``'s processor list)."""

    def __init__(self, *rules):
        self.rules = [r for r in rules if r is not None]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        for r in self.rules:
            scores = r(input_ids, scores)
        return scores

    def __getattr__(self, name):
        # expose the first rule's attributes (suppress_tokens ...) as SuppressionRules did
        for r in self.__dict__.get("rules", []):
            if hasattr(r, name):
                return getattr(r, name)
        raise AttributeError(name)
