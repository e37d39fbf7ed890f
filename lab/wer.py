"""Word and character error rate with the word alignment (jiwer): the one scorer of the lab.

Every path that scores a transcript goes through :func:`wer_alignment` after
:func:`normalize_text`: the Whisper tab (``trace_whisper(reference=...)``, ``trace_long``), the
Compare tab and the CTC traces (``lab.ctc.score.wer_cer`` delegates here), the TTS
intelligibility check. ``ops`` lists the alignment chunk by chunk, so a view can colour equal /
substituted / inserted / deleted words (``lab.viz.wer``).

Why apostrophes are dropped, not kept and not turned into spaces: an apostrophe is spelling, not
sound. "don't" and "dont" are the same spoken word, so a CTC model whose vocabulary has no
apostrophe, or a Whisper model that writes one, should not lose a whole word for it. Dropping it
(rather than splitting at it, as Whisper's ``BasicTextNormalizer`` does) keeps "don't" one word,
so the reference has as many words as a reader counts. Contractions are not expanded ("don't"
vs "do not" stays an error): that needs a language-specific table (Whisper's
``EnglishTextNormalizer``), and the lab scores several languages with one rule.
"""
from __future__ import annotations

import re
import unicodedata

from .errors import LabError

MAX_CHARS = 100_000

NORMALIZATION = (
    "WER and CER are computed on normalised text: Unicode NFKC, lower case; apostrophes dropped "
    "(don't = dont); a comma between digits dropped (1,000 = 1000), a point between digits kept "
    "(3.5); every other punctuation mark or symbol (hyphens too) becomes a space; spaces "
    "collapsed. Accents and digits are kept; contractions and numbers are not rewritten "
    "(don't vs do not, 3 vs three count as errors)."
)
"""The normalisation rule in one sentence, for a UI or a report to show next to a WER."""

_APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4"  # ' ’ ʼ ‘ ` ´
_APOSTROPHE = re.compile(f"[{re.escape(_APOSTROPHES)}]")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")
_DIGIT_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_KEEP_POINT = "\ue000"  # (private use) stands in for a decimal point while marks are removed


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"  # punctuation or symbol


def normalize_text(text: str) -> str:
    """The form WER is computed on (see :data:`NORMALIZATION`): ``"Don't stop -- it's 1,000.5!"``
    -> ``"dont stop its 1000.5"``."""
    s = unicodedata.normalize("NFKC", text).lower()
    s = _APOSTROPHE.sub("", s)
    s = _DIGIT_COMMA.sub("", s)
    s = _DIGIT_POINT.sub(_KEEP_POINT, s)
    s = "".join(" " if _is_mark(ch) else ch for ch in s)
    return " ".join(s.split()).replace(_KEEP_POINT, ".")


def _check(name: str, text) -> str:
    if not isinstance(text, str):
        raise LabError(f"{name} must be text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise LabError(f"{name} is {len(text)} characters long (limit {MAX_CHARS})")
    return text


def wer_alignment(reference: str, hypothesis: str, *, normalize: bool = True) -> dict:
    """WER/CER of ``hypothesis`` against ``reference`` and the word alignment.

    Returns ``{wer, cer, hits, substitutions, insertions, deletions, ops, reference, hypothesis,
    reference_words, hypothesis_words, normalized}``; ``reference`` / ``hypothesis`` are the
    texts as scored (normalised unless ``normalize=False``, which only collapses whitespace);
    ``ops``: ``[{type: equal|substitute|insert|delete, ref: [words], hyp: [words]}]`` in reading
    order. WER = (S + D + I) / words in the reference; CER the same over characters (spaces
    included). Raises :class:`LabError` when the reference has no words left to score against.
    """
    import jiwer

    ref = _check("reference", reference)
    hyp = _check("hypothesis", hypothesis)
    if normalize:
        ref, hyp = normalize_text(ref), normalize_text(hyp)
    else:
        ref, hyp = " ".join(ref.split()), " ".join(hyp.split())
    if not ref:
        raise LabError("the reference text is empty (after removing punctuation): nothing to score against")
    ref_words = ref.split()
    texts = {"reference": ref, "hypothesis": hyp, "normalized": normalize}
    if not hyp:  # jiwer refuses an empty hypothesis: every reference word is deleted
        return {"wer": 1.0, "cer": 1.0, "hits": 0, "substitutions": 0, "insertions": 0,
                "deletions": len(ref_words), "ops": [{"type": "delete", "ref": ref_words, "hyp": []}],
                "reference_words": ref_words, "hypothesis_words": [], **texts}
    out = jiwer.process_words(ref, hyp)
    r, h = out.references[0], out.hypotheses[0]
    ops = [{"type": c.type, "ref": r[c.ref_start_idx:c.ref_end_idx], "hyp": h[c.hyp_start_idx:c.hyp_end_idx]}
           for c in out.alignments[0]]
    return {"wer": float(out.wer), "cer": float(jiwer.cer(ref, hyp)), "hits": int(out.hits),
            "substitutions": int(out.substitutions), "insertions": int(out.insertions),
            "deletions": int(out.deletions), "ops": ops, "reference_words": r,
            "hypothesis_words": h, **texts}

