"""Language clips for detection / translation tests: candidate voices per language, each
measured with whisper-base's language detection (plain ``model.detect_language``), the chosen
ones written to assets/clips/lang/ with lang.json; every tried variant goes to tried.json."""
from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

from make_clips import RATE, speak

TEXTS = {
    "de": "Guten Morgen. Heute sprechen wir über das Wetter in Deutschland. Morgen wird es "
          "regnen, aber am Wochenende scheint wieder die Sonne.",
    "fr": "Bonjour à tous. Aujourd'hui nous allons parler de la musique française. C'est une "
          "belle journée pour apprendre quelque chose de nouveau.",
    "es": "Buenos días a todos. Hoy vamos a hablar de la comida española. Me gusta mucho comer "
          "paella con mis amigos los domingos.",
    "it": "Buongiorno a tutti. Oggi parliamo della cucina italiana. La pizza e la pasta sono "
          "piatti molto famosi in tutto il mondo.",
    "pt": "Bom dia a todos. Hoje vamos falar sobre a cidade de Lisboa. É uma cidade muito bonita "
          "perto do mar.",
    "en": "Good morning everyone. Today we are going to talk about the weather. Tomorrow it will "
          "rain, but at the weekend the sun will shine again.",
}
# Candidate (engine, voice, speed, pitch) per language, tried in order.
VARIANTS = {
    "de": [("espeak-ng", "de", 150, None), ("espeak-ng", "de+m3", 140, 40),
           ("espeak-ng", "de+f2", 140, None), ("espeak-ng", "de+m1", 130, 50)],
    "fr": [("espeak-ng", "fr", 150, None), ("espeak-ng", "fr+m3", 140, 40),
           ("espeak-ng", "fr+f2", 140, None), ("espeak-ng", "fr-be", 140, None)],
    "es": [("espeak-ng", "es", 150, None), ("espeak-ng", "es+f2", 140, None)],
    "it": [("espeak-ng", "it", 150, None), ("espeak-ng", "it+m3", 140, None)],
    "pt": [("espeak-ng", "pt", 150, None), ("espeak-ng", "pt-br", 150, None)],
    "en": [("flite", "slt", None, None), ("espeak-ng", "en-us", 150, None)],
}


def detect(model, processor, audio):
    """(top language code, its probability, top-3 list) from the first decoder position."""
    import torch

    feats = processor(audio, sampling_rate=RATE, return_tensors="pt").input_features
    gen = model.generation_config
    with torch.no_grad():
        enc = model.model.encoder(feats).last_hidden_state
        logits = model(encoder_outputs=(enc,), decoder_input_ids=torch.tensor(
            [[gen.decoder_start_token_id]])).logits[0, -1]
    ids = list(gen.lang_to_id.values())
    probs = torch.softmax(logits[ids], -1)
    names = [k[2:-2] for k in gen.lang_to_id]
    order = probs.argsort(descending=True)[:3]
    top = [(names[i], round(float(probs[i]), 3)) for i in order]
    return top[0][0], top[0][1], top


def make_lang(root: Path) -> None:
    from lab.models import load_cached

    loaded = load_cached("whisper-base")
    model, processor = loaded.model, loaded.processor
    out_dir = root / "assets" / "clips" / "lang"
    out_dir.mkdir(parents=True, exist_ok=True)
    tried, chosen = [], {}
    for lang, variants in VARIANTS.items():
        for engine, voice, speed, pitch in variants:
            x, cmd = speak(TEXTS[lang], engine, voice, speed, pitch)
            code, p, top = detect(model, processor, x)
            row = {"lang": lang, "engine": engine, "voice": voice, "speed": speed, "pitch": pitch,
                   "detected": code, "probability": p, "top3": top, "command": cmd,
                   "seconds": round(len(x) / RATE, 2)}
            tried.append(row)
            print(row["lang"], voice, speed, pitch, "->", top, flush=True)
            if code == lang and (lang not in chosen or p > chosen[lang][0]["probability"]):
                chosen[lang] = (row, x)
    meta = {}
    for lang, (row, x) in chosen.items():
        name = f"{lang}_{row['voice'].replace('+', '_').replace('-', '_')}.wav"
        sf.write(out_dir / name, x, RATE, subtype="PCM_16")
        meta[name] = {"language": lang, "text": TEXTS[lang], "voice": row["voice"],
                      "engine": row["engine"], "seconds": row["seconds"], "sample_rate": RATE,
                      "command": row["command"],
                      "detected_whisper_base": [row["detected"], row["probability"]]}
    (out_dir / "lang.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    (out_dir / "tried.json").write_text(json.dumps(tried, indent=1, ensure_ascii=False) + "\n")
