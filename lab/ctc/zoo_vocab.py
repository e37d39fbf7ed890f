"""The character vocabulary of the lab's own CTC models (``whisper-tiny.en-ctc``,
``tiny-wav2vec2-ctc-en``): its tokenizer, text -> ids, and greedy decoding through
:mod:`lab.ctc.collapse`."""
from __future__ import annotations

import json
import string
from functools import lru_cache
from pathlib import Path

from .collapse import Vocab, collapse

# facebook/wav2vec2-base-960h layout: blank/pad 0, specials, word delimiter "|", letters, apostrophe
VOCAB: dict[str, int] = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
for _c in string.ascii_lowercase + "'":
    VOCAB[_c] = len(VOCAB)
BLANK = 0


def tokenizer(path: Path | None = None):
    """A ``Wav2Vec2CTCTokenizer`` over :data:`VOCAB` (saved to ``path`` if given)."""
    import tempfile

    from transformers import Wav2Vec2CTCTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        vf = Path(tmp) / "vocab.json"
        vf.write_text(json.dumps(VOCAB))
        tok = Wav2Vec2CTCTokenizer(str(vf), unk_token="<unk>", pad_token="<pad>",
                                   word_delimiter_token="|", do_lower_case=False)
    if path is not None:
        tok.save_pretrained(str(path))
    return tok


def encode_text(text: str) -> list[int]:
    """'two words' -> ids of 't','w','o','|','w',... (unknown characters dropped)."""
    return [VOCAB["|"] if c == " " else VOCAB[c] for c in text.lower().strip() if c == " " or c in VOCAB]


@lru_cache(maxsize=1)
def collapse_vocab() -> Vocab:
    """:data:`VOCAB` for :func:`lab.ctc.collapse.collapse`; the specials ``<s> </s> <unk>`` read as
    nothing (they carry no character)."""
    tokens = [""] * len(VOCAB)
    for tok, i in VOCAB.items():
        tokens[i] = "" if tok.startswith("<") and i != BLANK else tok
    return Vocab(tokens=tokens, blank_id=BLANK, blank="<pad>", delimiter="|")


def greedy_decode(ids) -> str:
    """Per-frame argmax ids -> text: the standard CTC greedy rule (:func:`lab.ctc.collapse.collapse`:
    merge repeats, drop blanks, '|' -> space), runs of spaces read as one."""
    import numpy as np

    return " ".join(collapse(np.asarray(ids).tolist(), collapse_vocab()).text.split())
