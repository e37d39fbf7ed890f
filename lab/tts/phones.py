"""Text -> phones, for TTS models that read phones instead of letters (the zoo's tiny-speecht5-tts-en).

English spelling is a poor guide to sound; a small model trained for minutes learns sounds faster
from phones. The phones come from flite (Debian ``flite``), the synthesizer whose voice such a
model imitates: ``flite -voice VOICE -ps -t TEXT`` prints the voice's own segment sequence (its
CMU lexicon + letter-to-sound rules), ARPAbet phones plus ``pau`` for pauses.

The model's tokenizer stays the lab's character SentencePiece model: every phone is written as one
ASCII letter (:data:`PHONE_LETTERS`, e.g. ``dh`` -> ``D``, ``ax`` -> ``x``), a pause inside the
text as ``,``, and the text's final ``.``/``?``/``!`` is kept (``.`` when it has none). So
"The birch canoe." becomes ``DxbRCkxnu.``: one token per phone.

A model directory opts in with ``text_frontend.json``: ``{"kind": "flite-phones", "voice": "awb"}``
(:func:`load_frontend`); :mod:`lab.tts.text` then tokenizes the phones of the cleaned text.
"""
from __future__ import annotations

import functools
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError

FRONTEND_FILE = "text_frontend.json"
PHONE_LETTERS = {
    # vowels
    "aa": "a", "ae": "A", "ah": "V", "ao": "O", "aw": "W", "ax": "x", "ay": "Y", "eh": "e",
    "er": "R", "ey": "E", "ih": "I", "iy": "i", "ow": "o", "oy": "Q", "uh": "U", "uw": "u",
    # consonants
    "b": "b", "ch": "C", "d": "d", "dh": "D", "f": "f", "g": "g", "hh": "h", "jh": "J", "k": "k",
    "l": "l", "m": "m", "n": "n", "ng": "N", "p": "p", "r": "r", "s": "s", "sh": "S", "t": "t",
    "th": "T", "v": "v", "w": "w", "y": "y", "z": "z", "zh": "Z",
}
LETTER_PHONES = {v: k for k, v in PHONE_LETTERS.items()} | {",": "pau"}


@functools.lru_cache(maxsize=4096)
def flite_segments(text: str, voice: str = "awb") -> tuple[str, ...]:
    """flite's segment sequence for ``text`` (ARPAbet phones and ``pau``), leading/trailing pauses
    removed."""
    if shutil.which("flite") is None:
        raise LabError("this model reads phones made by flite, which is not installed "
                       "(Debian: apt-get install flite; `make setup` installs it)")
    res = subprocess.run(["flite", "-voice", voice, "-ps", "-t", text, "-o", "/dev/null"],
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise LabError(f"flite could not phonemize the text: {res.stderr.strip()[:200]}")
    seg = res.stdout.split()
    while seg and seg[0] == "pau":
        seg.pop(0)
    while seg and seg[-1] == "pau":
        seg.pop()
    unknown = sorted({s for s in seg if s != "pau" and s not in PHONE_LETTERS})
    if unknown:
        raise LabError(f"flite produced phones the lab does not know: {unknown}")
    return tuple(seg)


def phone_string(text: str, voice: str = "awb") -> str:
    """``text`` as one letter per phone (``,`` = pause) + its final mark; "" if it has no phones."""
    seg = flite_segments(text.strip(), voice)
    if not seg:
        return ""
    end = text.strip()[-1]
    return "".join("," if s == "pau" else PHONE_LETTERS[s] for s in seg) + (end if end in ".?!" else ".")


def readable(letters) -> list[str]:
    """The ARPAbet name of each letter (or one-letter token) of a phone string; anything else
    (``.``, ``?``, ``</s>``, the word-start mark) is kept as is. For display."""
    return [LETTER_PHONES.get(c, c) for c in letters]


@dataclass(frozen=True)
class Frontend:
    """A model's text front end: ``kind`` ``"flite-phones"`` with a flite ``voice``."""

    kind: str
    voice: str

    def __call__(self, text: str) -> str:
        return phone_string(text, self.voice)

    def describe(self) -> str:
        return f"phones from flite voice {self.voice!r} (one letter per ARPAbet phone)"

    def save(self, model_dir: str | Path) -> Path:
        """Write ``text_frontend.json`` (read back by :func:`load_frontend`) into ``model_dir``."""
        path = Path(model_dir) / FRONTEND_FILE
        path.write_text(json.dumps({"kind": self.kind, "voice": self.voice}) + "\n")
        return path


def load_frontend(model_dir: str | Path | None) -> Frontend | None:
    """The :class:`Frontend` a model directory asks for in ``text_frontend.json``, or None."""
    if model_dir is None:
        return None
    path = Path(model_dir) / FRONTEND_FILE
    if not path.is_file():
        return None
    spec = json.loads(path.read_text())
    if spec.get("kind") != "flite-phones":
        raise LabError(f"{path}: unknown text front end {spec.get('kind')!r} (the lab knows 'flite-phones')")
    return Frontend("flite-phones", str(spec.get("voice", "awb")))
