"""Beam search over CTC log-probabilities, with or without an n-gram LM built from the user's text.

Libraries (checked here, numpy 2.4):

- Decoder: ``ctc-beam-decoder`` (PyPI, Apache-2.0): a C++ CTC prefix beam search with KenLM
  fusion and hotwords whose API and results reproduce ``pyctcdecode`` (the decoder behind
  transformers' ``Wav2Vec2ProcessorWithLM``). pyctcdecode itself has had no release since 2023
  and pins ``numpy<2``, so it cannot be installed beside this lab's numpy; on 40 random cases
  (with and without an LM) the two gave the same texts and scores.
- LM estimation: KenLM's ``lmplz`` (modified Kneser-Ney, ARPA output), built from the kenlm
  sdist by ``make setup`` (``lab/ctc/kenlm_build.py``). The PyPI kenlm wheels only query models;
  the pure-Python ARPA writers on PyPI checked (``arpabo``) write backoff weights of 0 that leave
  the model unnormalised.

The LM "spell-checks": words come from its vocabulary unless the acoustics insist, so beam+LM
can fix a greedy ``BRWN`` into ``BROWN`` -- or force a word the speaker never said.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import LabError
from .constants import BEAM_SIZE, LM_ALPHA, LM_BETA

DEFAULT_BEAM = BEAM_SIZE  # old names of the constants (lab/ctc/constants.py)
DEFAULT_ALPHA = LM_ALPHA
DEFAULT_BETA = LM_BETA
MAX_LM_TEXT = 5_000_000  # characters


# -- the estimator ---------------------------------------------------------------------------
def lmplz_path() -> Path:
    """KenLM's ``lmplz``: ``$AUDIOLAB_LMPLZ``, next to this Python, or on PATH."""
    env = os.environ.get("AUDIOLAB_LMPLZ")
    candidates = [Path(env)] if env else []
    candidates.append(Path(sys.executable).parent / "lmplz")
    which = shutil.which("lmplz")
    if which:
        candidates.append(Path(which))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise LabError("building an n-gram LM needs KenLM's lmplz: run `make setup` (it builds "
                   "lmplz from the kenlm sdist), or set AUDIOLAB_LMPLZ to an lmplz binary")


@dataclass
class NgramLM:
    """An ARPA n-gram model built from user text. ``words``: its vocabulary (unigrams)."""

    path: Path
    order: int
    words: list[str]
    sentences: int
    dropped: list[str] = field(default_factory=list)  # characters the CTC vocabulary lacks

    def as_dict(self) -> dict:
        return {"path": str(self.path), "order": self.order, "n_words": len(self.words),
                "sentences": self.sentences, "dropped": self.dropped}


def corpus_lines(text: str, vocab) -> tuple[list[str], list[str]]:
    """The user's text as one sentence per line, in the CTC vocabulary's letters and case.

    Sentences split at newlines and ``.!?;``; characters the vocabulary lacks are dropped
    (returned), except that they separate words when they are not apostrophes/hyphens.
    """
    from .align import _case_of

    case = _case_of(vocab.tokens)
    letters = {t for t in vocab.tokens if len(t) == 1 and t not in (vocab.blank, vocab.delimiter, " ")}
    lines, dropped = [], set()
    for sent in re.split(r"[\n.!?;]+", text):
        sent = sent.upper() if case == "upper" else sent.lower() if case == "lower" else sent
        words = []
        for raw in sent.split():
            w = "".join(c for c in raw if c in letters)
            dropped.update(c for c in raw if c not in letters)
            if w:
                words.append(w)
        if words:
            lines.append(" ".join(words))
    return lines, sorted(dropped)


_BUILT: dict[tuple, NgramLM] = {}  # (text, vocabulary, order) -> model, for apps re-running a text
_BUILT_MAX = 8


def build_lm(text: str, vocab, order: int = 3, out_dir: str | Path | None = None) -> NgramLM:
    """Estimate an ``order``-gram LM (modified Kneser-Ney, KenLM ``lmplz``) from ``text``.

    ``vocab``: the CTC model's :class:`lab.ctc.collapse.Vocab` (the LM must spell words with its
    letters, in its case). Small texts work (``--discount_fallback``). Writes ``lm.arpa`` into
    ``out_dir`` (a new temporary directory by default).
    """
    if not isinstance(text, str) or not text.strip():
        raise LabError("the LM text is empty: give a few sentences of the language to expect")
    if len(text) > MAX_LM_TEXT:
        raise LabError(f"the LM text has {len(text):,} characters; the limit is {MAX_LM_TEXT:,}")
    lines, dropped = corpus_lines(text, vocab)
    if not lines:
        raise LabError("the LM text has no word the model's vocabulary can spell")
    key = (text, tuple(vocab.tokens), int(order))
    if out_dir is None and key in _BUILT and _BUILT[key].path.is_file():
        return _BUILT[key]
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="audiolab-lm-"))
    out.mkdir(parents=True, exist_ok=True)
    corpus, arpa = out / "corpus.txt", out / "lm.arpa"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cmd = [str(lmplz_path()), "-o", str(int(order)), "--discount_fallback", "-S", "64M",
           "-T", str(out), "--text", str(corpus), "--arpa", str(arpa)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        last = [ln for ln in res.stderr.splitlines() if ln.strip()][-3:]
        raise LabError(f"lmplz could not build a {order}-gram LM from this text: {' '.join(last)}")
    words = sorted({w for ln in lines for w in ln.split()})
    lm = NgramLM(arpa, int(order), words, len(lines), dropped)
    if out_dir is None:
        while len(_BUILT) >= _BUILT_MAX:  # forget (and delete) the oldest
            old = _BUILT.pop(next(iter(_BUILT)))
            shutil.rmtree(old.path.parent, ignore_errors=True)
        _BUILT[key] = lm
    return lm


# -- the decoder -----------------------------------------------------------------------------
def labels(vocab) -> list[str]:
    """Decoder labels per vocabulary id: blank -> ``""``, word delimiter -> ``" "``."""
    out, seen = [], set()
    for i, tok in enumerate(vocab.tokens):
        lab = "" if i == vocab.blank_id else " " if tok == vocab.delimiter else tok
        if lab in seen or (lab == "" and i != vocab.blank_id):
            lab = f"\u2047{i}"  # unused / duplicate ids get a unique placeholder
        seen.add(lab)
        out.append(lab)
    return out


@functools.lru_cache(maxsize=8)
def _decoder(labels_: tuple[str, ...], lm_path: str | None, words: tuple[str, ...] | None,
             alpha: float, beta: float):
    from ctc_beam_decoder import build_ctcdecoder

    return build_ctcdecoder(list(labels_), kenlm_model_path=lm_path,
                            unigrams=list(words) if words is not None else None,
                            alpha=alpha, beta=beta)


def beam_decode(log_probs, vocab, *, beam_size: int = DEFAULT_BEAM, lm: NgramLM | None = None,
                alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA,
                hotwords: list[str] | None = None, frames_per_second: float | None = None,
                n_best: int = 5) -> dict:
    """Beam search over ``log_probs`` (T, C).

    Returns ``{"text", "words": [{word, start_frame, end_frame, start, end}], "logit_score",
    "combined_score", "n_best": [{text, logit_score, combined_score}], "beam_size", "lm"}``.
    """
    lp = log_probs.detach().float().cpu().numpy() if hasattr(log_probs, "detach") else np.asarray(log_probs, np.float32)
    if lp.ndim != 2 or lp.shape[1] != len(vocab.tokens):
        raise LabError(f"log-probs of shape {lp.shape} do not match a {len(vocab.tokens)}-token vocabulary")
    if int(beam_size) < 1:
        raise LabError("beam_size must be at least 1")
    dec = _decoder(tuple(labels(vocab)), str(lm.path) if lm else None,
                   tuple(lm.words) if lm else None, float(alpha), float(beta))
    beams = dec.decode_beams(np.ascontiguousarray(lp, dtype=np.float32), beam_width=int(beam_size),
                             hotwords=list(hotwords) if hotwords else None)
    if not beams:
        return {"text": "", "words": [], "logit_score": None, "combined_score": None, "n_best": [],
                "beam_size": int(beam_size), "lm": lm.as_dict() if lm else None}
    text, _, word_frames, logit_score, combined = beams[0]
    fix = (lambda s: s.lower()) if vocab.lower else (lambda s: s)
    words = []
    for w, (s, e) in word_frames:
        d = {"word": fix(w), "start_frame": int(s), "end_frame": int(e)}
        if frames_per_second:
            d.update(start=s / frames_per_second, end=e / frames_per_second)
        words.append(d)
    return {"text": fix(text.strip()), "words": words, "logit_score": float(logit_score),
            "combined_score": float(combined),
            "n_best": [{"text": fix(b[0].strip()), "logit_score": float(b[3]),
                        "combined_score": float(b[4])} for b in beams[:n_best]],
            "beam_size": int(beam_size), "lm": lm.as_dict() if lm else None,
            "alpha": float(alpha) if lm else None, "beta": float(beta) if lm else None}


def compare(log_probs, vocab, greedy_text: str, *, lm: NgramLM | None = None,
            beam_size: int = DEFAULT_BEAM, alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA,
            frames_per_second: float | None = None) -> dict:
    """Greedy vs beam vs beam+LM on the same log-probs: ``{"greedy", "beam", "beam_lm"}`` (the
    last only with an ``lm``), each ``{"text", ...}``; ``"changed_by_lm"``: words that differ."""
    out = {"greedy": {"text": greedy_text},
           "beam": beam_decode(log_probs, vocab, beam_size=beam_size,
                               frames_per_second=frames_per_second)}
    if lm is not None:
        out["beam_lm"] = beam_decode(log_probs, vocab, beam_size=beam_size, lm=lm, alpha=alpha,
                                     beta=beta, frames_per_second=frames_per_second)
        a, b = out["beam"]["text"].split(), out["beam_lm"]["text"].split()
        out["changed_by_lm"] = [{"beam": x, "beam_lm": y} for x, y in zip(a, b) if x != y]
    return out
