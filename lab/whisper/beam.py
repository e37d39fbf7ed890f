"""Beam search over one encoder output, recording the beam tree.

Mirrors transformers 5 ``GenerationMixin._beam_search`` (the path ``model.generate(num_beams=n)``
takes for Whisper) for one input, so the best hypothesis is the same token sequence:

- every step, each running beam's next-token log-probabilities (log_softmax of the logits, then
  the Whisper suppression processors, which set -inf) are added to the beam's running sum; the
  best ``2 n`` (beam, token) continuations over all beams are the candidates;
- candidates ending in end-of-text (or hitting the length limit) among the top ``n`` become finished
  hypotheses scored ``sum_logprob / length ** length_penalty`` (length = generated tokens including
  end-of-text; ``length_penalty`` 1.0 by default = mean log-probability per token); the best
  ``n`` finished are kept;
- the best ``n`` unfinished candidates continue (the KV cache is reordered to follow them);
- search stops when no running beam can beat the worst kept finished one (HF's heuristic with
  ``early_stopping=False``: the running score divided by the *current* length), or at the limit.

At start all beams hold the prompt; only beam 0 counts (the others start at -1e9), as in HF.

Speed (the same arithmetic as ``generate()``, less work): every beam reads the same encoder output,
so the cross-attention keys and values are projected once (batch 1, as the model's own
``k_proj`` / ``v_proj``) and copied to the ``n`` beams, instead of projecting ``n`` identical copies
of the 1500 encoder frames; and the cross-attention cache is never reordered (its ``n`` rows are
identical), only the self-attention cache follows the beams. ``generate(num_beams=n)`` does both
(``index_select`` of ``n x 1500`` keys and values per layer at every step: about a third of a
decoder step on this CPU). Tokens and scores are unchanged (tested against ``generate``).
"""
from __future__ import annotations

import torch

from ..capture import model_lock
from ..errors import LabError
from . import names
from .decode import Prompt, _decoder_forward, logits_processors, max_new_tokens

NEG = -1.0e9


def beam_search(model, tokenizer, encoder_out: torch.Tensor, prompt: Prompt, *, beam_size: int,
                max_steps: int | None = None, length_penalty: float | None = None,
                early_stopping: bool | str | None = None, timestamps: bool = False) -> dict:
    """Run beam search over ``encoder_out`` (1, encoder_frame, d_model) from ``prompt`` (with
    ``timestamps`` the timestamp-token rules apply, as ``generate(num_beams=n,
    return_timestamps=True)``; the prompt must then lack <|notimestamps|>); returns returns the JSON-able tree (``meta["beam"]`` of a trace):

    ``{beam_size, length_penalty, early_stopping, nodes: [{id, parent, step, token_id, token,
    logprob, score, status}], finished: [{tokens, text, score, sum_logprob, length, node}],
    best_tokens, best_text, best_path: [node ids], stop_reason}``.
    Node 0 is the prompt. ``score`` of a node = running sum of log-probabilities; ``status``:
    ``alive`` (continued to the next step), ``finished`` (entered the finished set; such nodes also
    carry ``normalized_score`` = score / length ** length_penalty, what ranks finished
    hypotheses), ``pruned``. Nodes on the best hypothesis' path carry ``best: True``.

    The whole search holds the model's lock (``lab.capture.model_lock``; a plain function, so the
    lock is never held across a ``yield``).
    """
    with model_lock(model):
        return _beam_search(model, tokenizer, encoder_out, prompt, beam_size=beam_size,
                            max_steps=max_steps, length_penalty=length_penalty,
                            early_stopping=early_stopping, timestamps=timestamps)


def cross_attention_cache(model, encoder_out: torch.Tensor, n: int):
    """A cross-attention ``DynamicCache`` for ``n`` beams over one encoder output: per decoder
    layer, keys and values (n, head, encoder_frame, head_dim) projected once from ``encoder_out``
    (1, encoder_frame, d_model) exactly as ``WhisperAttention`` does (``k_proj`` / ``v_proj``,
    view, transpose), then copied to the ``n`` beams."""
    from transformers.cache_utils import DynamicCache

    data = []
    for i in range(model.config.decoder_layers):
        attn = names.module(model, "decoder.layers.{i}.cross_attn", i=i)
        shape = (1, -1, attn.num_heads, attn.head_dim)
        k = attn.k_proj(encoder_out).view(shape).transpose(1, 2).contiguous()
        v = attn.v_proj(encoder_out).view(shape).transpose(1, 2).contiguous()
        data.append((k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)))  # DynamicCache copies them
    return DynamicCache(data)


def _beam_search(model, tokenizer, encoder_out, prompt, *, beam_size, max_steps, length_penalty,
                 early_stopping, timestamps=False) -> dict:
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    n = int(beam_size)
    if n < 1:
        raise LabError(f"beam size must be >= 1, got {beam_size}")
    gen = model.generation_config
    lp = float(gen.length_penalty if length_penalty is None and gen.length_penalty is not None
               else (1.0 if length_penalty is None else length_penalty))
    es = early_stopping if early_stopping is not None else (gen.early_stopping or False)
    eos = int(gen.eos_token_id)
    limit = max_new_tokens(model, prompt)
    if max_steps is not None:
        limit = min(limit, int(max_steps))
    P = len(prompt.ids)
    max_length = P + limit
    procs = logits_processors(model, begin_index=P, timestamps=timestamps)
    device = encoder_out.device
    if encoder_out.dim() != 3 or encoder_out.shape[0] != 1:
        raise LabError(f"beam search runs over one encoder output (1, frames, d_model), got {tuple(encoder_out.shape)}")
    enc = encoder_out.expand(n, -1, -1)  # a view: the cross-attention cache below is already filled
    seqs = torch.tensor([prompt.ids] * n, device=device)
    run_scores = torch.zeros(n, device=device)
    run_scores[1:] = NEG
    run_nodes = [0] * n
    fin_scores = torch.full((n,), NEG, device=device)
    fin_is = torch.zeros(n, dtype=torch.bool, device=device)
    fin_seqs: list[list[int] | None] = [None] * n
    fin_nodes: list[int | None] = [None] * n
    fin_sum: list[float | None] = [None] * n
    improvable = True
    top_mask = torch.arange(2 * n, device=device) < n
    nodes = [{"id": 0, "parent": None, "step": -1, "token_id": None, "token": "<prompt>",
              "logprob": 0.0, "score": 0.0, "status": "alive"}]
    with torch.no_grad():
        cache = EncoderDecoderCache(DynamicCache(), cross_attention_cache(model, encoder_out, n))
    step_in = seqs
    stop = "max_steps"
    for s in range(limit):
        cur_len = P + s
        with torch.no_grad():
            out = _decoder_forward(model, enc, step_in, cache)
        cache = out.past_key_values
        logits = out.logits[:, -1, :].to(torch.float32)
        logp = procs(seqs, torch.log_softmax(logits, -1))
        V = logp.shape[-1]
        acc = (logp + run_scores[:, None]).reshape(-1)
        top_scores, top_idx = torch.topk(acc, k=2 * n)
        src, tok = top_idx // V, top_idx % V
        hits = (tok == eos) | (cur_len + 1 >= max_length)

        cand_ids = []
        for k in range(2 * n):
            b, t = int(src[k]), int(tok[k])
            node = {"id": len(nodes), "parent": run_nodes[b], "step": s, "token_id": t,
                    "token": tokenizer.decode([t]), "logprob": float(logp[b, t]),
                    "score": float(top_scores[k]), "status": "pruned"}
            nodes.append(node)
            cand_ids.append(node["id"])

        # running beams for the next step: best n candidates that did not stop
        masked = top_scores + hits.to(torch.float32) * NEG
        nxt = torch.topk(masked, k=n)[1]

        # finished set: top-n candidates that stopped, length-normalised, merged with the kept ones
        just = hits & top_mask
        norm = top_scores / ((cur_len + 1 - P) ** lp)
        if bool(torch.all(fin_is)) and es is True:
            norm = norm + NEG
        if not improvable:
            norm = norm + NEG
        norm = norm + (~just).to(torch.float32) * NEG
        merged = torch.cat([fin_scores, norm])
        keep = torch.topk(merged, k=n)[1]
        new_scores, new_is, new_seqs, new_nodes, new_sum = [], [], [], [], []
        for j in keep.tolist():
            if j < n:
                new_seqs.append(fin_seqs[j]); new_nodes.append(fin_nodes[j]); new_sum.append(fin_sum[j])
                new_is.append(bool(fin_is[j]))
            else:
                k = j - n
                b = int(src[k])
                new_seqs.append(seqs[b, P:].tolist() + [int(tok[k])])
                new_nodes.append(cand_ids[k]); new_sum.append(float(top_scores[k]))
                new_is.append(bool(just[k]))
                if bool(just[k]):
                    nodes[cand_ids[k]]["status"] = "finished"
                    nodes[cand_ids[k]]["normalized_score"] = float(merged[j])
            new_scores.append(merged[j])
        fin_scores = torch.stack(new_scores)
        fin_is = torch.tensor(new_is, device=device)
        fin_seqs, fin_nodes, fin_sum = new_seqs, new_nodes, new_sum

        # advance the running beams
        seqs = torch.cat([seqs[src[nxt]], tok[nxt][:, None]], 1)
        run_scores = masked[nxt]
        run_nodes = [cand_ids[int(k)] for k in nxt]
        for k in nxt.tolist():
            if not bool(hits[k]):
                nodes[cand_ids[k]]["status"] = "alive"
        cache.self_attention_cache.reorder_cache(src[nxt])  # cross-attention rows are all equal
        step_in = seqs[:, -1:]

        cur_len += 1
        hypo_len = (max_length - P) if (es == "never" and lp > 0.0) else (cur_len - P)
        best_running = run_scores[0] / (hypo_len ** lp)
        worst_fin = torch.where(fin_is, fin_scores.min(), torch.tensor(NEG, device=device))
        improvable = improvable and bool(torch.any(best_running > worst_fin))
        open_beam = not (bool(torch.all(fin_is)) and es is True)
        if not (improvable and open_beam and not bool(torch.all(hits))):
            stop = "max_steps" if cur_len >= max_length else "end_of_text"
            break

    order = [j for j in torch.argsort(fin_scores, descending=True).tolist()
             if fin_is[j] and float(fin_scores[j]) > NEG / 10]
    finished = [{"tokens": fin_seqs[j], "text": tokenizer.decode(fin_seqs[j], skip_special_tokens=True),
                 "score": float(fin_scores[j]), "sum_logprob": fin_sum[j], "length": len(fin_seqs[j]),
                 "node": fin_nodes[j]} for j in order]
    best = finished[0] if finished else None
    path = []
    node = best["node"] if best else None
    while node is not None:
        path.append(node)
        nodes[node]["best"] = True
        node = nodes[node]["parent"]
    return {"beam_size": n, "length_penalty": lp, "early_stopping": es, "nodes": nodes,
            "finished": finished, "best_tokens": best["tokens"] if best else [],
            "best_text": best["text"] if best else "", "best_path": path[::-1], "stop_reason": stop}
