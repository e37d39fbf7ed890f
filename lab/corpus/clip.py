"""``trace_clip(clip, loaded) -> (row, Trace)``: one clip through one model, one summary row.

The same function runs inline, in a worker process and in a Ray actor. The Trace is the one the
family's tab makes (its default policy), so a stored clip opens in that tab with every view.
A failure (unreadable, empty, too short ...) is a row with ``error`` set and no Trace.

Row columns (:data:`COLUMNS`): ``clip_id``, ``model``, ``family``, ``duration`` (s of audio),
``text`` (transcript; classify: the top label), ``reference``, ``wer``, ``cer`` (lab.wer, when a
reference is given; classify: 0 when the top label is the reference label, else 1), ``conf_mean`` / ``conf_min`` (token probabilities: Whisper's chosen tokens,
CTC's non-blank argmax frames, classify's top score), ``blank_ratio`` (CTC: blank argmax frames /
frames), ``language`` (Whisper: the prompt's language; ``en`` for English-only checkpoints), ``stop_reason``, ``steps`` (Whisper decoder steps, CTC frames),
``seconds`` (wall time of the trace), ``char_pairs`` (CTC with a reference: JSON list of
[reference char, greedy char at its forced-aligned frames, "" = only blanks]), ``error``.
"""
from __future__ import annotations

import json
import time
from collections import Counter

from ..errors import LabError

COLUMNS = {"clip_id": "string", "model": "string", "family": "string", "duration": "float64",
           "text": "string", "reference": "string", "wer": "float64", "cer": "float64",
           "conf_mean": "float64", "conf_min": "float64", "blank_ratio": "float64",
           "language": "string", "stop_reason": "string", "steps": "Int64",
           "seconds": "float64", "char_pairs": "string", "error": "string"}


def empty_row(clip, model_id: str, family: str = "") -> dict:
    row = {k: None for k in COLUMNS}
    row.update(clip_id=clip.clip_id, model=model_id, family=family, reference=clip.reference)
    return row


def _ctc_row(tr, row: dict, loaded=None) -> None:
    m = tr.meta
    probs = tr["ctc.probs"].float()
    best, ids = probs.max(-1)
    blank = m["blank_id"]
    voiced = ids != blank
    conf = best[voiced] if bool(voiced.any()) else best
    row.update(blank_ratio=float((~voiced).float().mean()), conf_mean=float(conf.mean()),
               conf_min=float(conf.min()), steps=int(m["n_frames"]), stop_reason="frames")
    al = m.get("alignment")
    if al and al.get("chars"):
        vocab = m.get("vocab")
        pairs = []
        for c in al["chars"]:
            seg = [int(i) for i in ids[c["start_frame"]:c["end_frame"] + 1] if int(i) != blank]
            hyp = ""
            if seg:
                top = Counter(seg).most_common(1)[0][0]
                hyp = _token(vocab, top)
            pairs.append([c["char"], hyp])
        row["char_pairs"] = json.dumps(pairs)


def _token(vocab, i: int) -> str:
    if isinstance(vocab, dict):
        inv = {v: k for k, v in vocab.items()} if not all(str(k).isdigit() for k in vocab) else \
            {int(k): v for k, v in vocab.items()}
        return str(inv.get(i, "?"))
    if isinstance(vocab, list) and 0 <= i < len(vocab):
        return str(vocab[i])
    return "?"


def _english_only(model) -> bool:
    gen = getattr(model, "generation_config", None)
    return not getattr(gen, "lang_to_id", None) or getattr(gen, "is_multilingual", None) is False


def _whisper_row(tr, row: dict, loaded) -> None:
    m = tr.meta
    probs = [float(s["prob"]) for s in tr.steps if s.get("prob") is not None]
    language = m.get("language") or ("en" if _english_only(loaded.model) else None)
    stop = m.get("stop_reason")
    row.update(language=language, stop_reason=None if stop is None else str(stop),
               steps=len(tr.steps), conf_mean=sum(probs) / len(probs) if probs else None,
               conf_min=min(probs) if probs else None)


def _classify_row(tr, row: dict, loaded=None) -> None:
    top = tr.meta.get("top_k") or []
    if top:
        row.update(text=str(top[0].get("label")), conf_mean=float(top[0].get("prob", top[0].get("score", 0))))
        row["conf_min"] = row["conf_mean"]


def whisper_policy():
    """The lean store policy for Whisper: what the tab draws, with encoder self-attention of
    layer 0 only and no encoder hidden states / conv maps (a 30 s window's full encoder attention
    is ~100 MB per clip on tiny.en; this keeps ~30 MB, measured on a 3.4 s clip: 26 MB of it is
    that layer's attention, 6 heads x 1500 x 1500 frames in fp16, padding included)."""
    from ..trace import CapturePolicy

    return CapturePolicy(names=["input.*", "encoder.layers.0.attn.pattern", "decoder.*",
                                "timestamps.*"])


# the Classify tab's APP_POLICY (apps/classify_tab.py; tests/corpus/test_corpus_source.py checks)
CLASSIFY_NAMES = ["input.*", "ast.*", "cls.*", "frames.*", "encoder.hidden"]


def run_family(family: str, audio, loaded, reference):
    if family == "ctc":
        from ..ctc import trace_ctc

        return trace_ctc(audio, loaded, reference=reference)
    if family == "whisper":
        from ..whisper.tracer import trace_whisper

        return trace_whisper(audio, loaded, reference=reference, top_k=5, policy=whisper_policy())
    if family == "classify":
        from ..classify import trace_classify

        from ..trace import CapturePolicy

        return trace_classify(audio, loaded, policy=CapturePolicy(names=CLASSIFY_NAMES))
    raise LabError(f"corpus mode traces ASR and classify models; {loaded.model_id} is {family}")


def trace_clip(clip, loaded) -> tuple[dict, object]:
    """(summary row, Trace or None). Never raises for a bad clip: the row's ``error`` says why."""
    from ..audio import load_audio
    from ..wer import wer_alignment

    row = empty_row(clip, loaded.model_id, loaded.family)
    t0 = time.perf_counter()
    try:
        audio = load_audio(clip.source())
        row["duration"] = float(audio.seconds)
        ref = clip.reference if loaded.family != "classify" else None
        tr = run_family(loaded.family, audio, loaded, ref or None)
        row["text"] = tr.meta.get("text")
        {"ctc": _ctc_row, "whisper": _whisper_row, "classify": _classify_row}[loaded.family](tr, row, loaded)
        if clip.reference and row["text"] is not None:
            if loaded.family == "classify":  # a label: right or wrong
                wrong = float(clip.reference.strip().lower() != row["text"].strip().lower())
                row.update(wer=wrong, cer=wrong)
            else:
                w = wer_alignment(clip.reference, row["text"])
                row.update(wer=float(w["wer"]), cer=float(w["cer"]))
        tr.meta["corpus"] = {"clip_id": clip.clip_id, "reference": clip.reference}
    except Exception as exc:  # noqa: BLE001 -- recorded in the table, the run goes on
        row["error"] = f"{type(exc).__name__}: {exc}"[:500]
        tr = None
    row["seconds"] = time.perf_counter() - t0
    return row, tr
