"""Text the model cannot take gets a clear message: empty, unknown characters, too long."""
import pytest

from lab.errors import LabError
from lab.tts import check_text, prepare_text, split_sentences, trace_tts


def test_clean_text_tokens(tts):
    c = prepare_text("  Hello,\n world!  ", tts.processor, 200)
    assert c.cleaned == "Hello, world!" and not c.problems
    assert c.tokens == ["\u2581", "H", "e", "l", "l", "o", ",", "\u2581", "w", "o", "r", "l", "d", "!", "</s>"]
    assert c.token_ids == tts.processor(text="Hello, world!")["input_ids"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty(tts, text):
    with pytest.raises(LabError, match="empty"):
        prepare_text(text, tts.processor, 200)


def test_unknown_characters_named_and_dropped(tts):
    text = "Hi \U0001F600 there \u0436\u0443\u043a!"
    with pytest.raises(LabError) as e:
        prepare_text(text, tts.processor, 200)
    msg = str(e.value)
    assert "U+1F600 GRINNING FACE" in msg and "U+0436 CYRILLIC SMALL LETTER ZHE" in msg
    assert "would be dropped, leaving 'Hi there !'" in msg
    c = prepare_text(text, tts.processor, 200, drop_unknown=True)
    assert c.cleaned == "Hi there !" and tts.processor.tokenizer.unk_token_id not in c.token_ids
    assert [u["char"] for u in c.unknown] == ["\U0001F600", "\u0436", "\u0443", "\u043a"]


def test_only_unknown_characters(tts):
    with pytest.raises(LabError, match="nothing to speak"):
        prepare_text("\u65e5\u672c\u8a9e", tts.processor, 200, drop_unknown=True)


def test_typographic_quotes_replaced(tts):
    c = prepare_text("It\u2019s \u201cfine\u201d \u2014 really\u2026", tts.processor, 200)
    assert c.cleaned == "It's \"fine\" - really..." and not c.unknown
    assert ("\u2019", "'", 1) in c.replaced


def test_too_long_says_how_it_would_split(tts_long):
    text = "This sentence is short. This one is a little longer than that. End."
    c = check_text(text, tts_long.processor, 40)
    assert c.too_long and c.n_tokens > 40
    assert c.sentences == ["This sentence is short.", "This one is a little longer than that.", "End."]
    with pytest.raises(LabError, match=r"at most 40 \(config.max_text_positions\).*3 sentences"):
        trace_tts(text, tts_long, vocoder=None)


def test_split_keeps_every_word_in_order():
    fits = lambda t: len(t) <= 20  # noqa: E731
    text = ("A long clause without any stop, then another clause, and a supercalifragilisticexpialidocious "
            "word. Short one! Last?")
    pieces = split_sentences(text, fits)
    assert all(fits(p) for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_huge_text_refused_without_tokenizing(tts):
    c = check_text("a" * 30_000, tts.processor, 200)
    assert "limit" in c.problems[0]
    with pytest.raises(LabError, match="limit"):
        prepare_text("a" * 30_000, tts.processor, 200)


def test_not_a_string(tts):
    with pytest.raises(LabError, match="string"):
        check_text(b"bytes", tts.processor, 200)
