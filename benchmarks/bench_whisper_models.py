"""Which Whisper should the app open with? tiny.en vs base on the committed clips: quality and time.

Rows, per offline model (``whisper-tiny.en``, ``whisper-base``), all with the uninstrumented
``model.generate()`` (greedy, the library's own path, so the choice does not depend on the lab):

- every English clip in ``assets/clips/clips.json`` plus the flite clip of ``assets/clips/lang``:
  WER / CER against the text it was synthesised from (``lab.wer``: one normalisation), and
  seconds (wall, default torch threads: what a user of the app waits);
- the 137 s lecture (``assets/clips/long``): long-form ``generate(return_timestamps=True)``;
- base only: each language clip of ``assets/clips/lang`` -- the detected language (and its
  probability, ``lab.whisper.decode.build_prompt`` = generate()'s detection) and the WER of the
  transcript in that language.

``python benchmarks/bench_whisper_models.py`` (``make bench`` runs it). Never a test: times
depend on the machine; quality is asserted in tests/whisper (real tests).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIPS = ROOT / "assets" / "clips"
MODELS = ["whisper-tiny.en", "whisper-base"]


def _english() -> list[tuple[str, Path, str]]:
    out = [(n, CLIPS / n, m["text"]) for n, m in json.loads((CLIPS / "clips.json").read_text()).items()]
    lang = json.loads((CLIPS / "lang" / "lang.json").read_text())
    out += [(n, CLIPS / "lang" / n, m["text"]) for n, m in lang.items() if m["language"] == "en"]
    return out


def _generate(loaded, samples, *, language=None, long=False):
    import torch

    proc, model = loaded.processor, loaded.model
    kw = {}
    if long:
        feats = proc(samples, sampling_rate=16000, return_tensors="pt", truncation=False,
                     padding="longest", return_attention_mask=True)
        kw = dict(return_timestamps=True, attention_mask=feats.attention_mask)
    else:
        feats = proc(samples, sampling_rate=16000, return_tensors="pt")
    if language is not None:
        kw["language"] = language
    t0 = time.perf_counter()
    with torch.no_grad():
        ids = model.generate(feats.input_features, **kw)
    seconds = time.perf_counter() - t0
    ids = ids["sequences"] if isinstance(ids, dict) else ids
    return proc.tokenizer.decode(ids[0], skip_special_tokens=True), seconds


def _detect(loaded, samples):
    import torch

    from lab.whisper.decode import build_prompt

    feats = loaded.processor(samples, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        enc = loaded.model.model.encoder(feats).last_hidden_state
        p = build_prompt(loaded.model, loaded.processor.tokenizer, enc)
    return p.language, (p.language_probs[0]["prob"] if p.language_probs else None)


def main() -> None:
    from lab.audio import load_audio
    from lab.models import load_cached
    from lab.wer import wer_alignment

    rows = []
    for mid in MODELS:
        loaded = load_cached(mid)
        _generate(loaded, load_audio(CLIPS / "quick_brown_fox.wav").samples)  # warm-up
        errs = words = 0
        total_s = 0.0
        for name, path, ref in _english():
            text, s = _generate(loaded, load_audio(path).samples)
            w = wer_alignment(ref, text)
            n = len(w["reference_words"])
            errs += round(w["wer"] * n)
            words += n
            total_s += s
            rows.append((mid, name, f"{w['wer']:.3f}", f"{w['cer']:.3f}", f"{s:.2f}", "en", text.strip()))
        rows.append((mid, "ALL short English", f"{errs / words:.3f}", "", f"{total_s:.2f}", "", f"{words} words"))
        lect = json.loads((CLIPS / "long" / "long.json").read_text())["lecture_2min.wav"]["text"]
        text, s = _generate(loaded, load_audio(CLIPS / "long" / "lecture_2min.wav").samples, long=True)
        w = wer_alignment(lect, text)
        rows.append((mid, "lecture_2min.wav (long-form)", f"{w['wer']:.3f}", f"{w['cer']:.3f}",
                     f"{s:.2f}", "en", text.strip()[:60] + " ..."))
        if mid == "whisper-base":
            lang = json.loads((CLIPS / "lang" / "lang.json").read_text())
            for name, meta in lang.items():
                samples = load_audio(CLIPS / "lang" / name).samples
                code, prob = _detect(loaded, samples)
                text, s = _generate(loaded, samples, language=code)
                w = wer_alignment(meta["text"], text)
                rows.append((mid, name, f"{w['wer']:.3f}", f"{w['cer']:.3f}", f"{s:.2f}",
                             f"{code} ({prob:.2f}; true {meta['language']})", text.strip()))
    print("| model | clip | WER | CER | generate() s | language | text |")
    print("|---|---|---:|---:|---:|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
