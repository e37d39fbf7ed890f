"""A 20-clip audiofolder corpus (the committed English held-out clips + metadata.csv)."""
import csv
import json
import shutil
from pathlib import Path

import pytest

HELDOUT = Path(__file__).resolve().parents[2] / "assets" / "heldout" / "speech-en"
CTC_MODEL = "tiny-wav2vec2-ctc-en"


def make_corpus(dest: Path, corrupt: bool = False) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    texts = json.loads((HELDOUT / "texts.json").read_text())
    with (dest / "metadata.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file_name", "transcription"])
        for name, v in sorted(texts.items()):
            shutil.copy(HELDOUT / name, dest / name)
            w.writerow([name, v["text"]])
        if corrupt:
            (dest / "corrupt.wav").write_bytes(b"RIFF\x00\x00not really a wav file")
            w.writerow(["corrupt.wav", "nothing"])
    return dest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def solo_texts(corpus) -> dict:
    """Each clip traced alone, in this process, with the family's own tracer."""
    from lab.ctc import trace_ctc
    from lab.models import load_cached

    loaded = load_cached(CTC_MODEL)
    return {p.name: trace_ctc(str(p), loaded).meta["text"] for p in sorted(corpus.glob("*.flac"))}
