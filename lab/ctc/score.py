"""WER / CER of a CTC (or Compare tab) transcript: the lab's one scorer, ``lab.wer``.

Kept so that ``lab.ctc.wer_cer`` and ``from lab.ctc.score import wer_cer`` go on working; the
normalisation and the alignment are :func:`lab.wer.normalize_text` / :func:`lab.wer.wer_alignment`
(stated in ``lab.wer.NORMALIZATION``).
"""
from __future__ import annotations

from ..wer import NORMALIZATION, normalize_text, wer_alignment

normalize = normalize_text  # the old name

__all__ = ["wer_cer", "normalize", "NORMALIZATION"]


def wer_cer(reference: str, hypothesis: str) -> dict:
    """:func:`lab.wer.wer_alignment` (``wer``, ``cer``, ``hits``, ``substitutions``,
    ``insertions``, ``deletions``, ``ops``, ``reference`` / ``hypothesis`` as scored, ...), except
    that a reference with no words left after normalisation scores ``wer = cer = None`` ("no
    score") instead of raising."""
    if isinstance(reference, str) and not normalize_text(reference):
        hyp = normalize_text(hypothesis) if isinstance(hypothesis, str) else ""
        return {"wer": None, "cer": None, "hits": 0, "substitutions": 0, "insertions": 0,
                "deletions": 0, "ops": [], "reference": "", "hypothesis": hyp,
                "reference_words": [], "hypothesis_words": hyp.split(), "normalized": True}
    return wer_alignment(reference, hypothesis)
