"""Word and character error rate with the word alignment (jiwer), shared by every ASR family.

Both texts are normalised the same way before scoring (lower case, punctuation removed,
whitespace collapsed) unless ``normalize=False``. ``ops`` lists the alignment chunk by chunk, so a
view can colour equal / substituted / inserted / deleted words.
"""
from __future__ import annotations

import jiwer

from .errors import LabError

MAX_CHARS = 100_000

_NORMALIZE = jiwer.Compose([
    jiwer.ToLowerCase(),
    jiwer.RemovePunctuation(),
    jiwer.RemoveMultipleSpaces(),
    jiwer.Strip(),
])


def normalize_text(text: str) -> str:
    """Lower case, no punctuation, single spaces (the form WER is computed on)."""
    return _NORMALIZE(text)


def _check(name: str, text) -> str:
    if not isinstance(text, str):
        raise LabError(f"{name} must be text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise LabError(f"{name} is {len(text)} characters long (limit {MAX_CHARS})")
    return text


def wer_alignment(reference: str, hypothesis: str, *, normalize: bool = True) -> dict:
    """WER/CER of ``hypothesis`` against ``reference`` and the word alignment.

    Returns ``{wer, cer, hits, substitutions, insertions, deletions, ops, reference_words,
    hypothesis_words, normalized}``; ``ops``: ``[{type: equal|substitute|insert|delete, ref: [words],
    hyp: [words]}]`` in reading order. WER = (S + D + I) / words in the reference.
    """
    ref = _check("reference", reference)
    hyp = _check("hypothesis", hypothesis)
    if normalize:
        ref, hyp = normalize_text(ref), normalize_text(hyp)
    else:
        ref, hyp = " ".join(ref.split()), " ".join(hyp.split())
    if not ref:
        raise LabError("the reference text is empty (after removing punctuation): nothing to score against")
    ref_words = ref.split()
    if not hyp:  # jiwer refuses an empty hypothesis: every reference word is deleted
        return {"wer": 1.0, "cer": 1.0, "hits": 0, "substitutions": 0, "insertions": 0,
                "deletions": len(ref_words), "ops": [{"type": "delete", "ref": ref_words, "hyp": []}],
                "reference_words": ref_words, "hypothesis_words": [], "normalized": normalize}
    out = jiwer.process_words(ref, hyp)
    r, h = out.references[0], out.hypotheses[0]
    ops = [{"type": c.type, "ref": r[c.ref_start_idx:c.ref_end_idx], "hyp": h[c.hyp_start_idx:c.hyp_end_idx]}
           for c in out.alignments[0]]
    return {"wer": float(out.wer), "cer": float(jiwer.cer(ref, hyp)), "hits": int(out.hits),
            "substitutions": int(out.substitutions), "insertions": int(out.insertions),
            "deletions": int(out.deletions), "ops": ops, "reference_words": r,
            "hypothesis_words": h, "normalized": normalize}
