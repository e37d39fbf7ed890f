"""Greedy CTC decoding as explicit stages, each token carrying the frames it came from.

Per-frame argmax ids -> tokens -> text, the way the seed draws it::

    frame tokens   _ER_RRR_ORR     one token per frame (blank "_", word delimiter "|")
    merge repeats  _ER_R_OR        runs of the same token become one (blanks still there)
    drop blanks    ERROR           the blank only separated real repeats ("R_R" -> "RR")
    "|" -> space   ERROR           the text; equals the HF tokenizer's ``decode(ids)``

and, for contrast, the naive dedupe that forgets blanks first: ``ERRRRORR`` -> ``EROR``.

Every stage is a list of :class:`Span` (token, id, frames ``[start, end)``); the text is built
exactly as ``Wav2Vec2CTCTokenizer.convert_tokens_to_string`` does (group by token string, drop
the pad/blank token, delimiter -> ``replace_word_delimiter_char``, join, strip, lower-case when
``do_lower_case``, clean-up when ``clean_up_tokenization_spaces``); a test checks it against
``tokenizer.decode`` on many random id sequences.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import Sequence

from .constants import BLANK_MARK, DELIMITER_MARK

DELIM_MARK = DELIMITER_MARK  # old name


@dataclass
class Span:
    """One token over frames ``[start, end)``; ``score``: mean per-frame probability (or None)."""

    token: str
    id: int
    start: int
    end: int
    score: float | None = None

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass
class Vocab:
    """What collapsing needs to know about a CTC tokenizer."""

    tokens: list[str]  # id -> token string
    blank_id: int
    blank: str  # the pad token string (HF uses pad as the CTC blank)
    delimiter: str | None = DELIMITER_MARK  # word delimiter token
    replace_delimiter: str = " "
    lower: bool = False
    cleanup: object = None  # callable(str) -> str when the tokenizer cleans up spaces

    def display(self, tok: str) -> str:
        """The seed's per-frame symbol: blank -> ``_``, delimiter -> ``|``."""
        if tok == self.blank:
            return BLANK_MARK
        if tok == self.delimiter:
            return DELIM_MARK
        return tok

    @classmethod
    def from_tokenizer(cls, tokenizer, blank_id: int | None = None) -> "Vocab":
        vocab = tokenizer.get_vocab()
        n = max(vocab.values()) + 1
        tokens = [""] * n
        for tok, i in vocab.items():
            tokens[i] = tok
        blank = tokenizer.pad_token
        if blank_id is None:
            blank_id = tokenizer.pad_token_id
        cleanup = tokenizer.clean_up_tokenization if getattr(
            tokenizer, "clean_up_tokenization_spaces", False) else None
        return cls(tokens=tokens, blank_id=int(blank_id), blank=blank,
                   delimiter=getattr(tokenizer, "word_delimiter_token", None),
                   replace_delimiter=getattr(tokenizer, "replace_word_delimiter_char", " "),
                   lower=bool(getattr(tokenizer, "do_lower_case", False)), cleanup=cleanup)


@dataclass
class Collapse:
    """Every stage of the greedy collapse of one frame-id sequence."""

    frame_ids: list[int]
    frame_tokens: list[str]  # display symbols, one per frame
    merged: list[Span]
    no_blanks: list[Span]
    text: str
    naive: list[Span]
    words: list[dict] = field(default_factory=list)

    def strings(self) -> dict[str, str]:
        """The stages as the seed prints them."""
        return {
            "frame_tokens": "".join(self.frame_tokens),
            "merged": "".join(s.token for s in self.merged),
            "no_blanks": "".join(s.token for s in self.no_blanks),
            "text": self.text,
            "naive_dedupe": "".join(s.token for s in self.naive),
        }

    def as_dict(self) -> dict:
        return {**self.strings(),
                "spans": {k: [asdict(s) for s in getattr(self, k)]
                          for k in ("merged", "no_blanks", "naive")},
                "words": self.words}


def _runs(tokens: Sequence[str], ids: Sequence[int], frames: Sequence[int], vocab: Vocab,
          scores=None) -> list[Span]:
    """Merge consecutive equal token strings into spans (``frames``: each item's frame index)."""
    out: list[Span] = []
    for tok, grp in groupby(range(len(tokens)), key=lambda k: tokens[k]):
        idx = list(grp)
        sc = None
        if scores is not None:
            sc = float(sum(scores[frames[k]] for k in idx) / len(idx))
        out.append(Span(vocab.display(tok), int(ids[idx[0]]), int(frames[idx[0]]),
                        int(frames[idx[-1]]) + 1, sc))
    return out


def collapse(frame_ids: Sequence[int], vocab: Vocab, frame_probs: Sequence[float] | None = None) -> Collapse:
    """All greedy stages for per-frame argmax ``frame_ids`` (T,).

    ``frame_probs`` (T,): probability of each frame's chosen token, for span / word scores.
    """
    ids = [int(i) for i in frame_ids]
    toks = [vocab.tokens[i] for i in ids]
    disp = [vocab.display(t) for t in toks]
    frames = list(range(len(ids)))
    probs = None if frame_probs is None else [float(p) for p in frame_probs]
    # stage 1: merge repeats (HF groups by token string)
    merged = _runs(toks, ids, frames, vocab, probs)
    # stage 2: drop blanks (the pad token string, as HF filters it)
    no_blanks = [s for s in merged if vocab.tokens[s.id] != vocab.blank]
    # stage 3: delimiter -> space; join, strip, case, clean-up exactly as the tokenizer does
    text = "".join(vocab.replace_delimiter if vocab.tokens[s.id] == vocab.delimiter
                   else vocab.tokens[s.id] for s in no_blanks).strip()
    if vocab.lower:
        text = text.lower()
    if vocab.cleanup is not None:
        text = vocab.cleanup(text)
    # the naive dedupe: forget blanks first, then merge repeats
    keep = [k for k in frames if toks[k] != vocab.blank]
    naive = _runs([toks[k] for k in keep], [ids[k] for k in keep], keep, vocab, probs)
    return Collapse(ids, disp, merged, no_blanks, text, naive, words_from_spans(no_blanks, vocab))


def words_from_spans(spans: Sequence[Span], vocab: Vocab) -> list[dict]:
    """Words (frame spans, mean score) from character spans split at word delimiters."""
    words, cur = [], []

    def flush():
        if cur:
            word = "".join(vocab.tokens[s.id] for s in cur)
            scored = [s for s in cur if s.score is not None]
            score = (sum(s.score * s.frames for s in scored) / sum(s.frames for s in scored)
                     if scored else None)
            words.append({"word": word.lower() if vocab.lower else word,
                          "start_frame": cur[0].start, "end_frame": cur[-1].end, "score": score,
                          "chars": [(s.start, s.end) for s in cur]})
            cur.clear()

    for s in spans:
        tok = vocab.tokens[s.id]
        if tok == vocab.delimiter or tok == vocab.blank:
            flush()
        else:
            cur.append(s)
    flush()
    return words


def with_seconds(words: list[dict], frames_per_second: float) -> list[dict]:
    """Add ``start``/``end`` seconds to word dicts that carry frame spans."""
    return [{**w, "start": w["start_frame"] / frames_per_second,
             "end": w["end_frame"] / frames_per_second} for w in words]
