"""Text in: what a SpeechT5 model can take, and a clear message about what it cannot.

SpeechT5 reads characters (a SentencePiece *char* model): every character outside its
vocabulary becomes ``<unk>`` (emoji, other scripts, curly quotes in some vocabularies), and the
text encoder has ``config.max_text_positions`` positions (450 for microsoft/speecht5_tts): a
longer text crashes the model. ``check_text`` reports all of that without raising;
``prepare_text`` raises a :class:`LabError` naming the problem and what would be dropped or split.
Long text can be split into sentences (``split_sentences``) and traced one by one.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from lab.errors import LabError

# typographic characters with a plain-ASCII twin (used only when the twin is in the vocabulary)
TYPOGRAPHIC = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...",
}
MAX_CHARS = 20_000  # anything longer is refused before tokenizing (hostile input)


@dataclass
class TextCheck:
    """What the tokenizer makes of a text.

    ``cleaned``: the text that would be spoken (whitespace collapsed, typographic characters
    replaced, unknown characters removed); ``token_ids`` / ``tokens``: its tokens (with ``</s>``);
    ``phones``: for a model with a phone front end (:mod:`lab.tts.phones`), the phone string the
    tokens spell (one letter per phone), else "";
    ``unknown``: ``{"char", "codepoint", "name", "count"}`` per character the vocabulary lacks;
    ``replaced``: ``(original, replacement, count)``; ``sentences``: the split used when the text
    is longer than ``max_tokens`` (else ``[cleaned]``); ``problems``: human-readable lines.
    """

    text: str
    cleaned: str
    token_ids: list[int]
    tokens: list[str]
    max_tokens: int
    phones: str = ""
    unknown: list[dict] = field(default_factory=list)
    replaced: list[tuple[str, str, int]] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def too_long(self) -> bool:
        return self.n_tokens > self.max_tokens

    @property
    def empty(self) -> bool:
        return not self.cleaned.strip()

    def message(self) -> str:
        return " ".join(self.problems) if self.problems else "ok"


def _tokenizer(processor_or_tokenizer):
    return getattr(processor_or_tokenizer, "tokenizer", processor_or_tokenizer)


def _encode(tok, text: str) -> list[int]:
    return list(tok(text=text)["input_ids"])


def frontend_of(processor):
    """The processor's text front end (a callable text -> what the tokenizer reads), or None."""
    return getattr(processor, "text_frontend", None)


def _known(tok, ch: str, cache: dict) -> bool:
    if ch not in cache:
        ids = tok(text=ch, add_special_tokens=False)["input_ids"]
        cache[ch] = tok.unk_token_id not in ids
    return cache[ch]


def _describe(ch: str) -> str:
    # control / format characters (ESC, RTL override ...) are named, not printed: printed raw they
    # would act on the user's terminal or reorder the message
    shown = f"'{ch}' " if ch.isprintable() and unicodedata.category(ch) != "Cf" else ""
    fallback = "control character" if unicodedata.category(ch) == "Cc" else "unnamed character"
    return f"{shown}(U+{ord(ch):04X} {unicodedata.name(ch, fallback)})"


def check_text(text: str, processor, max_tokens: int) -> TextCheck:
    """Tokenize ``text`` for a SpeechT5 ``processor`` (or its tokenizer) and report problems.

    ``max_tokens``: the model's ``config.max_text_positions``. Never raises for bad text.
    """
    if not isinstance(text, str):
        raise LabError(f"text must be a string, got {type(text).__name__}")
    tok = _tokenizer(processor)
    problems: list[str] = []
    if len(text) > MAX_CHARS:
        return TextCheck(text=text[:200] + "...", cleaned="", token_ids=[], tokens=[],
                         max_tokens=max_tokens,
                         problems=[f"text is {len(text):,} characters, over the lab's "
                                   f"{MAX_CHARS:,}-character limit; give a shorter text"])
    s = re.sub(r"\s+", " ", text).strip()
    cache: dict[str, bool] = {}
    replaced = []
    for src, dst in TYPOGRAPHIC.items():
        n = s.count(src)
        if n and not _known(tok, src, cache) and all(_known(tok, c, cache) for c in dst):
            s = s.replace(src, dst)
            replaced.append((src, dst, n))
    unknown = []
    for ch in sorted(set(s) - {" "}, key=s.index):
        if not _known(tok, ch, cache):
            unknown.append({"char": ch, "codepoint": f"U+{ord(ch):04X}",
                            "name": unicodedata.name(ch, "unnamed character"),
                            "count": s.count(ch)})
    bad = {u["char"] for u in unknown}
    cleaned = re.sub(r" +", " ", "".join(c for c in s if c not in bad)).strip()
    if not s:
        problems.append("text is empty: type a sentence to speak")
    elif unknown:
        listing = ", ".join(f"{_describe(u['char'])} x{u['count']}" for u in unknown[:8])
        more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        hint = " (spell numbers out)" if any(u["char"].isdigit() for u in unknown) else ""
        problems.append(
            f"{sum(u['count'] for u in unknown)} character(s) are not in the model's "
            f"vocabulary{hint}: {listing}{more}. They would be dropped, leaving "
            + (f"{cleaned!r}." if cleaned else "nothing to speak."))
    front = frontend_of(processor)
    spoken = front(cleaned) if front and cleaned else cleaned
    if cleaned and not spoken:
        problems.append(f"{cleaned!r} has nothing to pronounce (no phones): type words to speak")
    ids = _encode(tok, spoken) if spoken else []
    tokens = tok.convert_ids_to_tokens(ids) if ids else []
    check = TextCheck(text=text, cleaned=cleaned, token_ids=ids, tokens=tokens,
                      max_tokens=max_tokens, phones=spoken if front else "", unknown=unknown,
                      replaced=replaced, problems=problems)
    if cleaned and check.too_long:
        fits = lambda t: len(_encode(tok, front(t) if front else t)) <= max_tokens  # noqa: E731
        check.sentences = split_sentences(cleaned, fits)
        problems.append(
            f"text is {check.n_tokens} tokens, the model takes at most {max_tokens} "
            f"(config.max_text_positions); it would be split into {len(check.sentences)} "
            "sentences traced one by one.")
    else:
        check.sentences = [cleaned] if cleaned else []
    return check


def prepare_text(text: str, processor, max_tokens: int, *, drop_unknown: bool = False,
                 allow_split: bool = False) -> TextCheck:
    """``check_text`` that raises a LabError for text the model cannot take.

    Empty text always raises. Unknown characters raise unless ``drop_unknown`` (then they are
    removed). Over-long text raises unless ``allow_split`` (then ``sentences`` holds the pieces).
    """
    check = check_text(text, processor, max_tokens)
    if not check.cleaned or not check.token_ids:
        raise LabError(check.message() if check.problems else "text is empty: type a sentence to speak")
    if check.unknown and not drop_unknown:
        raise LabError(check.problems[0] + " Remove them, or allow dropping them "
                       "(drop_unknown=True / --drop-unknown / the tab's checkbox).")
    if check.too_long and not allow_split:
        raise LabError(check.problems[-1].replace("it would be", "it can be")
                       + " Split it (trace_sentences / --split / the tab's split option) or "
                       "shorten it.")
    return check


_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


def split_sentences(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Split ``text`` at sentence ends; pieces that still do not ``fit`` are split at commas,
    then between words (greedy, as many words as fit). Every word is kept, in order."""
    out: list[str] = []
    for sentence in (p.strip() for p in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        if fits(sentence):
            out.append(sentence)
            continue
        for clause in (c.strip() for c in re.split(r"(?<=,)\s+", sentence)):
            if fits(clause):
                out.append(clause)
                continue
            cur = ""
            for word in clause.split(" "):
                cand = f"{cur} {word}".strip()
                if fits(cand):
                    cur = cand
                    continue
                if cur:
                    out.append(cur)
                if not fits(word):  # one "word" longer than the model: cut it into chunks
                    chunk = ""
                    for ch in word:
                        if fits(chunk + ch):
                            chunk += ch
                        else:
                            out.append(chunk)
                            chunk = ch
                    word = chunk
                cur = word
            if cur:
                out.append(cur)
    return _merge(out, fits)


def _merge(pieces: list[str], fits: Callable[[str], bool]) -> list[str]:
    """Re-join neighbouring short pieces while they fit (fewer, more natural chunks)."""
    merged: list[str] = []
    for p in pieces:
        if merged and fits(merged[-1] + " " + p) and not re.search(r"[.!?]$", merged[-1]):
            merged[-1] = merged[-1] + " " + p
        else:
            merged.append(p)
    return merged
