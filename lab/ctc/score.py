"""WER / CER of a transcript against a reference (jiwer), after one shared normalisation.

Both sides are lower-cased, punctuation other than apostrophes inside words is removed and
whitespace collapsed, so ``"The quick brown fox."`` and ``"THE QUICK BROWN FOX"`` match.
"""
from __future__ import annotations

import re

_PUNCT = re.compile(r"[^\w\s']|_")


def normalize(text: str) -> str:
    text = _PUNCT.sub(" ", text.lower())
    text = re.sub(r"(^|\s)'+|'+(\s|$)", " ", text)  # quotes, not apostrophes
    return " ".join(text.split())


def wer_cer(reference: str, hypothesis: str) -> dict:
    """``{"wer", "cer", "hits", "substitutions", "insertions", "deletions", "ops",
    "reference", "hypothesis"}`` (normalised texts); ``ops``: [{type, ref: [words], hyp: [words]}]."""
    import jiwer

    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return {"wer": None, "cer": None, "reference": ref, "hypothesis": hyp, "ops": [],
                "hits": 0, "substitutions": 0, "insertions": 0, "deletions": 0}
    words = jiwer.process_words(ref, hyp or "")
    chars = jiwer.process_characters(ref, hyp or "")
    ops = []
    r, h = words.references[0], words.hypotheses[0]
    for chunk in words.alignments[0]:
        ops.append({"type": chunk.type, "ref": r[chunk.ref_start_idx:chunk.ref_end_idx],
                    "hyp": h[chunk.hyp_start_idx:chunk.hyp_end_idx]})
    return {"wer": float(words.wer), "cer": float(chars.cer), "hits": words.hits,
            "substitutions": words.substitutions, "insertions": words.insertions,
            "deletions": words.deletions, "ops": ops, "reference": ref, "hypothesis": hyp}
