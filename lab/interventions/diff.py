"""Two traces of the same input (the unchanged run ``a`` and a what-if run ``b``) -> what changed.

:func:`diff` returns one JSON-able dict: ``family``, ``same_input`` and, by family,

- ``text`` (all but TTS): ``{a, b, changed, ops}`` -- the word diff (jiwer alignment through
  :func:`lab.wer.wer_alignment`, no normalisation: punctuation counts), ``word_errors`` and
  ``wer`` of ``b`` against ``a``;
- Whisper ``steps``: ``first_divergent_step`` (first step whose token differs, None), ``kl``
  (per step, KL(a || b) of the softmax of the raw logits, nats; steps after the divergence compare
  distributions over different prefixes), ``top1_changed`` (steps whose best token after
  suppression differs), ``n_steps`` both, ``max_logit_change`` (largest absolute change of a raw
  logit over the steps both runs have); ``words``: word times of the words both runs share
  (matched by the alignment), ``start_shift`` / ``end_shift`` per word (s) and their mean / max
  absolute value; ``cross_attention``: where the alignment heads looked for each shared word --
  the centre of mass (s) of their cross-attention in each run and its ``shift`` (b - a), see
  :func:`cross_attention_moved`;
- CTC ``frames``: ``changed`` (frame indices whose argmax token differs), ``n_changed``,
  ``max_logit_change`` (largest absolute change of a CTC logit),
  ``n_frames``, ``changed_seconds`` ([start, end] spans of runs of changed frames),
  ``frame_tokens`` a / b;
- TTS ``stop``: ``stop_step`` / ``n_steps`` / ``stop_reason`` a and b, ``mel_mean_abs_diff``
  over the frames both runs have;
- classify ``labels``: ``top1`` a / b and whether it changed, ``top_k`` both, ``max_prob_change``;
- with an audio edit (``same_input`` is then False, as expected): ``edited_seconds``, the
  [start, end] spans the edits changed; with a patch: ``patched`` (the plan's patch records).
"""
from __future__ import annotations

import math

import torch

from ..errors import LabError

INPUT_NAMES = ("input.waveform", "input.token_ids")


def _same_input(a, b) -> bool | None:
    for name in INPUT_NAMES:
        if name in a.tensors and name in b.tensors:
            x, y = a.tensors[name], b.tensors[name]
            return bool(x.shape == y.shape and torch.equal(x, y))
    if "text" in a.meta and a.family == "tts":
        return a.meta.get("text") == b.meta.get("text")
    return None


def _aligned_pairs(ops) -> list[tuple[int, int]]:
    """(index in a, index in b) of the words the alignment calls equal."""
    i = j = 0
    pairs = []
    for op in ops:
        if op["type"] == "equal":
            pairs += [(i + k, j + k) for k in range(len(op["ref"]))]
        i += len(op["ref"])
        j += len(op["hyp"])
    return pairs


def word_diff(text_a: str, text_b: str) -> dict:
    """Word diff of ``text_b`` against ``text_a`` (jiwer via :func:`lab.wer.wer_alignment`,
    whitespace collapsed, nothing else normalised)."""
    from ..wer import wer_alignment

    a, b = " ".join((text_a or "").split()), " ".join((text_b or "").split())
    out = {"a": a, "b": b, "changed": a != b}
    if not a:
        out.update(ops=[{"type": "insert", "ref": [], "hyp": b.split()}] if b else [],
                   word_errors=len(b.split()), wer=None)
        return out
    al = wer_alignment(a, b, normalize=False)
    out.update(ops=al["ops"], wer=al["wer"],
               word_errors=al["substitutions"] + al["insertions"] + al["deletions"])
    return out


def _kl_rows(la: torch.Tensor, lb: torch.Tensor) -> list[float]:
    """KL(softmax(la) || softmax(lb)) per row (nats)."""
    pa, pb = torch.log_softmax(la.double(), -1), torch.log_softmax(lb.double(), -1)
    return [round(float(v), 6) for v in (pa.exp() * (pa - pb)).sum(-1)]


def _stats(xs: list[float]) -> dict:
    if not xs:
        return {"mean_abs": None, "max_abs": None}
    return {"mean_abs": round(sum(abs(x) for x in xs) / len(xs), 4),
            "max_abs": round(max(abs(x) for x in xs), 4)}


def word_time_diff(words_a: list[dict], words_b: list[dict]) -> dict:
    """Start / end shifts (s, b - a) of the words both runs share (matched by the alignment)."""
    wa = [w["word"].strip() for w in words_a]
    wb = [w["word"].strip() for w in words_b]
    if not wa or not wb:
        return {"matched": 0, "words": [], "start_shift": _stats([]), "end_shift": _stats([])}
    from ..wer import wer_alignment

    ops = wer_alignment(" ".join(wa), " ".join(wb), normalize=False)["ops"]
    rows = []
    for i, j in _aligned_pairs(ops):
        if i < len(words_a) and j < len(words_b):
            rows.append({"word": wa[i], "a": [words_a[i]["start"], words_a[i]["end"]],
                         "b": [words_b[j]["start"], words_b[j]["end"]],
                         "start_shift": round(words_b[j]["start"] - words_a[i]["start"], 4),
                         "end_shift": round(words_b[j]["end"] - words_a[i]["end"], 4)})
    return {"matched": len(rows), "of": [len(wa), len(wb)], "words": rows,
            "start_shift": _stats([r["start_shift"] for r in rows]),
            "end_shift": _stats([r["end_shift"] for r in rows])}


def _whisper(a, b) -> dict:
    ta, tb = a.meta.get("token_ids", []), b.meta.get("token_ids", [])
    first = next((s for s, (x, y) in enumerate(zip(ta, tb)) if x != y), None)
    if first is None and len(ta) != len(tb):
        first = min(len(ta), len(tb))
    n = min(len(a.steps), len(b.steps))
    kl = []
    if "decoder.logits" in a.tensors and "decoder.logits" in b.tensors and n:
        kl = _kl_rows(a["decoder.logits"][:n], b["decoder.logits"][:n])
    top1 = [s for s in range(n) if a.steps[s]["top_k"][0]["token_id"] != b.steps[s]["top_k"][0]["token_id"]]
    dmax = None
    if "decoder.logits" in a.tensors and "decoder.logits" in b.tensors and n:
        dmax = float((a["decoder.logits"][:n].float() - b["decoder.logits"][:n].float()).abs().max())
    out = {"text": word_diff(a.meta.get("text", ""), b.meta.get("text", "")),
           "steps": {"n_steps": [len(a.steps), len(b.steps)], "first_divergent_step": first,
                     "kl": kl, "kl_max": max(kl) if kl else None, "top1_changed": top1,
                     "forced": [s["index"] for s in b.steps if s.get("forced")],
                     "max_logit_change": None if dmax is None else round(dmax, 6),
                     "stop_reason": [a.meta.get("stop_reason"), b.meta.get("stop_reason")]}}
    if a.meta.get("words") and b.meta.get("words"):
        out["words"] = word_time_diff(a.meta["words"], b.meta["words"])
        moved = cross_attention_moved(a, b)
        if moved is not None:
            out["cross_attention"] = moved
    return out


def attention_centre(trace, steps: list[int]) -> float | None:
    """Centre of mass (s) of the alignment heads' cross-attention over the steps ``steps`` (one
    word's tokens): ``timestamps.cross_attn`` (alignment_head, step, key_frame) rows cut to the
    encoder frames holding audio and renormalised over them (as for DTW), averaged over heads and
    steps; frame ``j`` is at ``j / 50`` s (the time base of the word times)."""
    if "timestamps.cross_attn" not in trace or not steps:
        return None
    from ..whisper.constants import ENCODER_FRAMES_PER_SECOND

    n_frames = max(1, int(trace.meta.get("n_content_mel_frames", 3000)) // 2)
    cross = trace["timestamps.cross_attn"]
    if max(steps) >= cross.shape[1]:
        return None
    w = cross[:, steps, :n_frames].double()
    w = w / w.sum(-1, keepdim=True).clamp_min(1e-12)
    p = w.mean((0, 1))  # (key_frame,), sums to 1
    rate = trace.time_bases.get("encoder_frame", ENCODER_FRAMES_PER_SECOND)
    return float((p * torch.arange(n_frames, dtype=torch.float64)).sum() / rate)


def cross_attention_moved(a, b) -> dict | None:
    """Per word both runs share (matched by the word alignment): the alignment heads' attention
    centre (s, :func:`attention_centre`) in ``a`` and ``b`` and ``shift`` = b - a, + mean / max
    absolute shift. None when a trace lacks ``timestamps.cross_attn`` or word times."""
    wa, wb = a.meta.get("words") or [], b.meta.get("words") or []
    if not wa or not wb or "timestamps.cross_attn" not in a or "timestamps.cross_attn" not in b:
        return None
    from ..wer import wer_alignment

    ta, tb = [w["word"].strip() for w in wa], [w["word"].strip() for w in wb]
    ops = wer_alignment(" ".join(ta), " ".join(tb), normalize=False)["ops"]
    rows = []
    for i, j in _aligned_pairs(ops):
        if i < len(wa) and j < len(wb):
            ca, cb = attention_centre(a, wa[i].get("tokens") or []), attention_centre(b, wb[j].get("tokens") or [])
            if ca is None or cb is None:
                continue
            rows.append({"word": ta[i], "a": round(ca, 4), "b": round(cb, 4), "shift": round(cb - ca, 4)})
    return {"words": rows, "shift": _stats([r["shift"] for r in rows]),
            "method": "centre of mass of the alignment heads' cross-attention over the word's steps "
                      "(content frames, renormalised; frame / 50 s)"}


def _runs(idx: list[int]) -> list[tuple[int, int]]:
    spans = []
    for i in idx:
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return [tuple(s) for s in spans]


def _ctc(a, b) -> dict:
    fa, fb = a["ctc.frame_ids"], b["ctc.frame_ids"]
    if fa.shape != fb.shape:
        raise LabError(f"the two CTC traces have {fa.numel()} and {fb.numel()} frames: not the same input")
    changed = torch.nonzero(fa != fb).flatten().tolist()
    fps = float(a.meta["frames_per_second"])
    la, lb = a["ctc.logits"].float(), b["ctc.logits"].float()
    return {"text": word_diff(a.meta.get("text", ""), b.meta.get("text", "")),
            "frames": {"n_frames": int(fa.numel()), "n_changed": len(changed), "changed": changed,
                       "max_logit_change": round(float((la - lb).abs().max()), 6),
                       "changed_seconds": [[round(s / fps, 4), round((e + 1) / fps, 4)] for s, e in _runs(changed)],
                       "frame_tokens": [a.meta.get("frame_tokens"), b.meta.get("frame_tokens")]}}


def _tts(a, b) -> dict:
    out = {"stop": {k: [a.meta.get(k), b.meta.get(k)] for k in ("stop_step", "n_steps", "stop_reason")}}
    out["stop"]["changed"] = a.meta.get("stop_step") != b.meta.get("stop_step")
    name = "tts.mel_postnet" if "tts.mel_postnet" in a.tensors else "tts.mel_pre_postnet"
    if name in a.tensors and name in b.tensors:
        n = min(a[name].shape[0], b[name].shape[0])
        out["stop"]["mel_mean_abs_diff"] = round(float((a[name][:n] - b[name][:n]).abs().mean()), 6) if n else None
    return out


def _classify(a, b) -> dict:
    ka, kb = a.meta.get("top_k") or [], b.meta.get("top_k") or []
    out = {"labels": {"top1": [ka[0]["label"] if ka else None, kb[0]["label"] if kb else None],
                      "top_k": [ka, kb]}}
    out["labels"]["top1_changed"] = out["labels"]["top1"][0] != out["labels"]["top1"][1]
    if "cls.probs" in a.tensors and "cls.probs" in b.tensors:
        d = (b["cls.probs"].float() - a["cls.probs"].float()).abs()
        out["labels"]["max_prob_change"] = round(float(d.max()), 6)
    return out


FAMILIES = {"whisper": _whisper, "ctc": _ctc, "tts": _tts, "classify": _classify}


def diff(a, b) -> dict:
    """What changed from trace ``a`` (the unchanged run) to trace ``b`` (same input, same model,
    an intervention): see the module docstring. LabError for traces of different families."""
    if a.family != b.family:
        raise LabError(f"cannot diff a {a.family} trace with a {b.family} trace")
    if a.family not in FAMILIES:
        raise LabError(f"no diff for family {a.family!r}")
    out = {"family": a.family, "same_input": _same_input(a, b),
           "intervention": b.meta.get("intervention")}
    rec = b.meta.get("intervention") or {}
    if rec.get("edited_seconds"):
        out["edited_seconds"] = rec["edited_seconds"]
    if rec.get("patches"):
        out["patched"] = rec["patches"]
    out.update(FAMILIES[a.family](a, b))
    out["changed"] = _changed(out)
    return out


def _changed(d: dict) -> bool:
    if d.get("text", {}).get("changed"):
        return True
    st = d.get("steps", {})
    if st.get("first_divergent_step") is not None or any(k > 0 for k in st.get("kl", [])) \
            or (st.get("max_logit_change") or 0) > 0:
        return True
    if d.get("frames", {}).get("n_changed") or d.get("frames", {}).get("max_logit_change"):
        return True
    if d.get("stop", {}).get("changed") or (d.get("stop", {}).get("mel_mean_abs_diff") or 0) > 0:
        return True
    lab = d.get("labels", {})
    return bool(lab.get("top1_changed") or (lab.get("max_prob_change") or 0) > 0 or
                (not math.isfinite(lab.get("max_prob_change", 0.0) or 0.0)))
