"""lab.wer: jiwer WER/CER with the alignment ops."""
from __future__ import annotations

import pytest

from lab.errors import LabError
from lab.wer import normalize_text, wer_alignment


def test_known_case():
    r = wer_alignment("The quick brown fox jumps over the lazy dog.",
                      " The quick roundfire jump over the lazy dog.")
    assert (r["hits"], r["substitutions"], r["deletions"], r["insertions"]) == (6, 2, 1, 0)
    assert r["wer"] == pytest.approx(3 / 9)
    assert 0 < r["cer"] < r["wer"]


def test_ops_rebuild_both_texts():
    r = wer_alignment("a b c d e", "a x c e f g")
    assert [w for op in r["ops"] for w in op["ref"]] == "a b c d e".split()
    assert [w for op in r["ops"] for w in op["hyp"]] == "a x c e f g".split()
    types = {op["type"] for op in r["ops"]}
    assert types <= {"equal", "substitute", "insert", "delete"}
    s, d, i = r["substitutions"], r["deletions"], r["insertions"]
    assert r["wer"] == pytest.approx((s + d + i) / 5)


def test_normalisation():
    assert normalize_text("  Hello,   WORLD! ") == "hello world"
    assert wer_alignment("Hello, world!", "hello world")["wer"] == 0
    assert wer_alignment("Hello, world!", "hello world", normalize=False)["wer"] > 0


def test_edge_cases():
    r = wer_alignment("one two", "")
    assert r["wer"] == 1.0 and r["deletions"] == 2
    with pytest.raises(LabError, match="empty"):
        wer_alignment("...", "x")
    with pytest.raises(LabError, match="text"):
        wer_alignment(None, "x")
    with pytest.raises(LabError, match="long"):
        wer_alignment("a " * 60_000, "a")
    assert wer_alignment("<script>alert(1)</script>", "script alert 1 script")["wer"] >= 0
