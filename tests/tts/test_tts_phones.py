"""Models that read phones (lab.tts.phones): flite's phones, one letter each, through the lab's
text checks, the resolver and the trace."""
import json
import shutil

import pytest

from lab.errors import LabError
from lab.models import resolve
from lab.tts import prepare_text, trace_tts
from lab.tts.phones import FRONTEND_FILE, PHONE_LETTERS, Frontend, load_frontend, phone_string, readable
from lab.tts.tiny import build_tiny_tts


def test_phone_string_one_letter_per_phone():
    s = phone_string("The birch canoe slid on the smooth planks, didn't it?")
    # flite awb: dh ax b er ch k ax n uw s l ih d aa n dh ax s m uw dh p l ae ng k s pau d ih d n t ih t
    assert s == "DxbRCkxnuslIdanDxsmuDplANks,dIdntIt?"
    assert readable(s)[:5] == ["dh", "ax", "b", "er", "ch"] and readable(s)[-1] == "?"
    assert readable(s)[27] == "pau"
    assert phone_string("no mark") .endswith(".")
    assert len(set(PHONE_LETTERS.values())) == len(PHONE_LETTERS)  # one letter per phone


@pytest.fixture(scope="module")
def phone_tts(tmp_path_factory):
    d = build_tiny_tts(tmp_path_factory.mktemp("tts_phones"))
    Frontend("flite-phones", "awb").save(d)
    return resolve(str(d), family="tts")


def test_resolver_attaches_the_frontend(phone_tts, tts):
    assert phone_tts.processor.text_frontend.voice == "awb"
    assert getattr(tts.processor, "text_frontend", None) is None  # plain character model


def test_text_checks_tokenize_the_phones(phone_tts):
    c = prepare_text("  Hello,\n world! ", phone_tts.processor, 200)
    assert c.cleaned == "Hello, world!" and c.phones == phone_string("Hello, world!")
    assert c.tokens[-1] == "</s>"
    assert "".join(t for t in c.tokens[:-1] if t != "\u2581") == c.phones
    with pytest.raises(LabError) as e:  # unknown characters: named, as for a letter model
        prepare_text("Hi \U0001F600 there", phone_tts.processor, 200)
    assert "U+1F600 GRINNING FACE" in str(e.value)
    with pytest.raises(LabError, match="nothing to pronounce"):
        prepare_text("!!! ...", phone_tts.processor, 200)


def test_trace_shows_phones(phone_tts):
    tr = trace_tts("Good morning.", phone_tts, maxlenratio=2.0)
    assert tr.meta["phones"] == phone_string("Good morning.")
    assert "flite voice 'awb'" in tr.meta["text_frontend"]
    assert [t for t in tr.tokens if t not in ("\u2581", "</s>")] == readable(tr.meta["phones"])


def test_bad_frontend_file(tmp_path):
    (tmp_path / FRONTEND_FILE).write_text(json.dumps({"kind": "espeak-ipa"}))
    with pytest.raises(LabError, match="unknown text front end"):
        load_frontend(tmp_path)
    assert load_frontend(tmp_path / "missing") is None


def test_missing_flite_is_named(monkeypatch):
    from lab.tts import phones

    phones.flite_segments.cache_clear()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(LabError, match="flite"):
        phone_string("a text never phonemized before in this process")
