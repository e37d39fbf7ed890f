"""A hand-built Whisper Trace in the contract's shapes (names and axes: lab/whisper/names.py), so
the figures can be tested without a model. Attention rows are proper distributions; the log-mel
padding is constant like Whisper's. A module of its own, not conftest: ``from conftest import``
finds another directory's conftest when pytest is given several directories."""
from __future__ import annotations

import numpy as np
import torch

from lab.trace import CapturePolicy, Trace


def make_fake_trace(seconds: float = 3.0, *, n_steps: int = 6, layers: int = 2, heads: int = 3,
                    enc_layers: int = 2, beam: bool = True, reference: str | None = "a b c d",
                    seed: int = 0) -> Trace:
    rng = np.random.default_rng(seed)
    t = Trace(family="whisper", model_id="fake", weights_source="hand-built",
              policy=CapturePolicy.full())
    t.time_bases = {"sample": 16000, "mel_frame": 100, "encoder_frame": 50, "stem_frame": 100}
    n_samp = int(seconds * 16000)
    wav = (0.3 * np.sin(np.arange(n_samp) * 2 * np.pi * 220 / 16000)).astype(np.float32)
    t.add("input.waveform", torch.from_numpy(wav), ("sample",))
    n_content = int(round(seconds * 100))
    mel = np.full((80, 3000), -0.6, np.float32)
    mel[:, :n_content] = rng.normal(0.3, 0.3, (80, n_content))
    t.add("input.log_mel", torch.from_numpy(mel), ("mel_bin", "mel_frame"))

    def softmax(x, axis=-1):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    for i in range(enc_layers):
        att = softmax(rng.normal(0, 1, (heads, 1500, 1500)).astype(np.float32) * 2)
        t.add(f"encoder.layers.{i}.attn.pattern", torch.from_numpy(att),
              ("head", "query_frame", "key_frame"), attention=True)
    words_txt = ["Hello", "world", "again", "now"]
    pieces = [" Hello", " world", " again", " now", ".", "<|endoftext|>"][:n_steps]
    while len(pieces) < n_steps:
        pieces.insert(-1, " x")
    vocab = 100
    logits = rng.normal(0, 1, (n_steps, vocab)).astype(np.float32)
    cum = 0.0
    content_frames_enc = int(seconds * 50)
    for s, piece in enumerate(pieces):
        centre = int((s + 0.5) / n_steps * content_frames_enc)
        x = -0.5 * ((np.arange(1500) - centre) / 8.0) ** 2
        cross = softmax(np.broadcast_to(x, (layers, heads, 1500)) + rng.normal(0, 0.3, (layers, heads, 1500)))
        t.add(f"decoder.step.{s}.cross_attn.pattern", torch.from_numpy(cross.astype(np.float32)),
              ("layer", "head", "key_frame"), attention=True)
        self_att = softmax(rng.normal(0, 1, (layers, heads, 2 + s)))
        t.add(f"decoder.step.{s}.self_attn.pattern", torch.from_numpy(self_att.astype(np.float32)),
              ("layer", "head", "key_token"), attention=True)
        probs = softmax(logits[s])
        order = np.argsort(-probs)[:5]
        chosen = int(order[0])
        cum += float(np.log(probs[chosen]))
        t.steps.append({
            "index": s, "token_id": chosen, "token": piece, "prob": float(probs[chosen]),
            "logprob": float(np.log(probs[chosen])), "cum_logprob": cum,
            "top_k": [{"token_id": int(i), "token": piece if i == chosen else f" w{i}",
                       "prob": float(probs[i])} for i in order]})
        t.tokens.append(piece)
    t.add("decoder.logits", torch.from_numpy(logits), ("step", "vocab"))
    text = "".join(p for p in pieces if not p.startswith("<|"))
    per = seconds / 5
    words = [{"word": " " + w, "start": round(i * per, 2), "end": round((i + 1) * per, 2),
              "prob": 0.9, "tokens": [i]} for i, w in enumerate(words_txt[:min(4, n_steps - 1)])]
    t.meta = {"text": text, "prompt": [{"token_id": 50257, "token": "<|startoftranscript|>"},
                                       {"token_id": 50362, "token": "<|notimestamps|>"}],
              "stop_reason": "end_of_text", "n_content_mel_frames": n_content,
              "content_seconds": seconds, "words": words,
              "alignment_heads": [[1, 0], [1, 2]] if layers > 1 else [[0, 0]]}
    if reference is not None:
        t.meta["wer"] = {"wer": 0.5, "cer": 0.3, "hits": 2, "substitutions": 1, "insertions": 1,
                         "deletions": 1,
                         "ops": [{"type": "equal", "ref": ["hello"], "hyp": ["hello"]},
                                 {"type": "substitute", "ref": ["word"], "hyp": ["world"]},
                                 {"type": "delete", "ref": ["big"], "hyp": []},
                                 {"type": "equal", "ref": ["again"], "hyp": ["again"]},
                                 {"type": "insert", "ref": [], "hyp": ["now"]}]}
    if beam:
        nodes = [{"id": 0, "parent": None, "step": -1, "token_id": 50362, "token": "<|notimestamps|>",
                  "logprob": 0.0, "score": 0.0, "status": "alive"}]
        nid = 1
        frontier = [0]
        for s in range(3):
            new = []
            for p in frontier:
                for k in range(2):
                    status = "pruned" if (k == 1 and s > 0) else "alive"
                    if s == 2 and status == "alive":
                        status = "finished"
                    nodes.append({"id": nid, "parent": p, "step": s, "token_id": 10 + k,
                                  "token": f" t{s}{k}", "logprob": -0.1 - k,
                                  "score": -0.1 * (s + 1) - k, "status": status})
                    if status == "alive":
                        new.append(nid)
                    nid += 1
            frontier = new
        t.meta["beam"] = {"beam_size": 2, "nodes": nodes,
                          "finished": [{"tokens": [10, 10, 10], "text": " t00 t10 t20",
                                        "score": -0.3, "sum_logprob": -0.3, "length": 3}],
                          "best_text": " t00 t10 t20"}
    return t
