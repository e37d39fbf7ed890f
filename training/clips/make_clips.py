"""Regenerate the committed speech clips (not runtime code).

    python training/clips/make_clips.py long    # assets/clips/long/lecture_2min.wav + long.json
    python training/clips/make_clips.py lang    # assets/clips/lang/*.wav + lang.json

Needs espeak-ng, flite and sox (Debian). Every clip is 16 kHz mono 16-bit; the command used for
each piece is recorded in the json next to it.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
RATE = 16000

LECTURE = [
    "Good morning everyone, and welcome to today's lecture on sound.",
    "Sound is a wave of pressure that travels through the air.",
    "When you speak, your vocal folds vibrate and push the air.",
    "A microphone turns these small changes in pressure into a signal.",
    "The computer measures this signal sixteen thousand times every second.",
    "Each measurement is a single number called a sample.",
    "A speech model does not look at the samples one by one.",
    "Instead it cuts the signal into short overlapping frames.",
    "For every frame it measures how much energy sits at each frequency.",
    "The result is a picture called a spectrogram.",
    "Low voices put their energy near the bottom of the picture.",
    "High voices and hissing sounds reach much higher up.",
    "Whisper uses a version of this picture with eighty mel bands.",
    "The encoder reads the whole picture at once.",
    "Every layer lets each moment of sound look at every other moment.",
    "The decoder then writes the text one token at a time.",
    "At each step it asks which parts of the sound matter right now.",
    "These attention weights often follow the words as they are spoken.",
    "A window of audio is thirty seconds long.",
    "Longer recordings must be cut into several windows.",
    "The model predicts time stamps to tell us where a window should end.",
    "Then it moves forward and listens to the next part.",
    "The text from the last window helps it guess the next words.",
    "Sometimes the model repeats itself or gets stuck.",
    "In that case it tries again with a little more randomness.",
    "This trick is called temperature fallback.",
    "Silence is detected with a special token for no speech.",
    "Let us now look at some examples together.",
    "Please open your notebooks and start the first cell.",
    "Thank you for listening, and see you next week.",
]
# (engine, voice, speed): cycled over the sentences.
LONG_VOICES = [("espeak-ng", "en-us", 150), ("flite", "slt", None), ("espeak-ng", "en-gb", 145),
               ("flite", "kal", None), ("espeak-ng", "en-us+m3", 150)]
PAUSES = [0.6, 1.2, 0.8, 1.5, 0.5, 1.0, 0.9, 1.3, 0.7, 1.1]  # seconds, cycled


def speak(text: str, engine: str, voice: str, speed: int | None = None, pitch: int | None = None):
    """(16 kHz float32 samples, command string) for one utterance."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        if engine == "espeak-ng":
            cmd = ["espeak-ng", "-v", voice]
            if speed:
                cmd += ["-s", str(speed)]
            if pitch is not None:
                cmd += ["-p", str(pitch)]
            cmd += ["-w", str(raw), text]
        else:
            cmd = ["flite", "-voice", voice, "-t", text, "-o", str(raw)]
        subprocess.run(cmd, check=True, capture_output=True)
        subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)],
                       check=True, capture_output=True)
        x, rate = sf.read(out, dtype="float32")
        assert rate == RATE
        shown = " ".join(c if c != str(raw) else "raw.wav" for c in cmd[:-1]) + f' "{text}"' \
            if engine == "espeak-ng" else f'flite -voice {voice} -t "{text}" -o raw.wav'
        return x, shown + f"; sox raw.wav -r {RATE} -c 1 -b 16 out.wav"


def make_long() -> None:
    out_dir = ROOT / "assets" / "clips" / "long"
    out_dir.mkdir(parents=True, exist_ok=True)
    pieces, sentences, t = [], [], 0.0
    for i, text in enumerate(LECTURE):
        engine, voice, speed = LONG_VOICES[i % len(LONG_VOICES)]
        x, cmd = speak(text, engine, voice, speed)
        x = x / max(1e-6, float(np.abs(x).max())) * 0.8
        sentences.append({"text": text, "start": round(t, 3), "end": round(t + len(x) / RATE, 3),
                          "engine": engine, "voice": voice, "command": cmd})
        pieces.append(x)
        t += len(x) / RATE
        pause = PAUSES[i % len(PAUSES)]
        pieces.append(np.zeros(int(pause * RATE), dtype=np.float32))
        t += pause
    audio = np.concatenate(pieces)
    sf.write(out_dir / "lecture_2min.wav", audio, RATE, subtype="PCM_16")
    meta = {"lecture_2min.wav": {
        "text": " ".join(LECTURE), "seconds": round(len(audio) / RATE, 3), "sample_rate": RATE,
        "made_with": "training/clips/make_clips.py long: sentences by espeak-ng/flite voices "
                     "(cycled), peak-normalised to 0.8, joined with pauses of 0.5-1.5 s",
        "sentences": sentences}}
    (out_dir / "long.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"lecture_2min.wav: {len(audio) / RATE:.1f} s")


if __name__ == "__main__":
    what = sys.argv[1:] or ["long", "lang"]
    if "long" in what:
        make_long()
    if "lang" in what:
        from lang_clips import make_lang  # noqa: E402 (same directory)

        make_lang(ROOT)
