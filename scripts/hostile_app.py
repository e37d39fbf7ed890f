"""Hostile input against the running app, through gradio_client: what does each tab say?

Launches the lab app (``apps.main.build_app()``, loopback only, ``max_file_size`` as
``apps.main.launch`` sets it) and sends every hostile upload to every audio tab (Whisper, CTC,
Classify with an AST and a wav2vec2 classifier), hostile texts to the TTS tab and hostile ids to
every tab's model box. Each cell is the tab's answer -- the message in its error box, or a short
summary of the result -- and is checked:

- a clear message or a result (no exception escaping, no empty answer);
- no traceback and no server path in what the browser sees (the user's own input excepted);
- the app keeps serving: a normal request right after it succeeds.

Prints markdown tables (input x tab). ``--tiny`` serves tiny random models
(``tests/app/test_app_concurrency.py``'s builders) instead of the real offline defaults;
``tests/app/test_hostile_app.py`` runs a fast subset of the same table.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/hostile_app.py > /tmp/hostile_app.md
"""
from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# what each endpoint returns (OUT), where each tab's run handler is (api_names), the WAV writer:
# the concurrency harness's, one copy
from scripts.app_concurrency import OUT, api_names, write_wav  # noqa: E402

FOX = ROOT / "assets" / "clips" / "quick_brown_fox.wav"
GOOD_TEXT = "Hello world."
MAX_FILE_SIZE = "50mb"  # what apps.main.launch() sets

REAL = {"whisper": "whisper-tiny.en", "ctc": "whisper-tiny.en-ctc", "tts": "tiny-speecht5-tts-en",
        "classify-ast": "tiny-ast-sounds", "classify-wav2vec2": "tiny-wav2vec2-keywords"}
AUDIO_TABS = ["whisper", "ctc", "classify-ast", "classify-wav2vec2"]


# -- hostile inputs --------------------------------------------------------------------------------
def _tone(seconds: float, rate: int = 16000, f: float = 440.0) -> np.ndarray:
    t = np.arange(max(int(round(seconds * rate)), 1)) / rate
    return 0.3 * np.sin(2 * np.pi * f * t) + 0.05 * np.sin(2 * np.pi * 3 * f * t)


def hostile_audio(d: Path, *, long_minutes: float = 11.0) -> dict[str, Path]:
    """label -> file. Every kind of upload the issue lists."""
    import soundfile as sf

    from lab.audio import load_audio

    d = Path(d)
    speech = load_audio(FOX).samples  # 16 kHz mono float32
    out = {}
    (d / "empty.wav").write_bytes(b"")
    out["empty file (0 bytes)"] = d / "empty.wav"
    good = FOX.read_bytes()
    (d / "truncated.wav").write_bytes(good[:200])
    out["truncated WAV (first 200 bytes)"] = d / "truncated.wav"
    (d / "random.wav").write_bytes(np.random.default_rng(0).bytes(4096))
    out["random bytes (.wav)"] = d / "random.wav"
    (d / "text.mp3").write_text("this is not audio\n" * 50)
    out["text renamed .mp3"] = d / "text.mp3"
    out["silent 2 s"] = write_wav(d / "silent.wav", np.zeros(32000), 16000)
    nan = _tone(1.0).astype(np.float32)
    nan[100], nan[200] = np.nan, np.inf
    sf.write(d / "nan_inf.wav", nan, 16000, subtype="FLOAT")
    out["NaN/inf float WAV"] = d / "nan_inf.wav"
    long = np.tile(speech, int(np.ceil(long_minutes * 60 * 16000 / len(speech))))
    out[f"over-long ({long_minutes:g} min)"] = write_wav(d / "long.wav",
                                                        long[:int(long_minutes * 60 * 16000)], 16000)
    import librosa

    out["8 kHz speech"] = write_wav(d / "speech_8k.wav",
                                    librosa.resample(speech, orig_sr=16000, target_sr=8000), 8000)
    s48 = librosa.resample(speech, orig_sr=16000, target_sr=48000)
    out["48 kHz stereo speech"] = write_wav(d / "speech_48k_stereo.wav",
                                            np.stack([s48, 0.5 * s48], axis=1), 48000, 2)
    out["10 ms clip"] = write_wav(d / "10ms.wav", _tone(0.01), 16000)
    out["5-frame 6-channel clip"] = write_wav(d / "5x6.wav",
                                              np.tile(_tone(5 / 16000)[:, None], (1, 6)),
                                              16000, 6)
    out["1-frame stereo clip"] = write_wav(d / "1x2.wav", np.array([[0.5, 0.25]]), 16000, 2)
    return out


def hostile_texts() -> dict[str, str]:
    return {
        "empty text": "",
        "10k characters": ("The quick brown fox jumps over the lazy dog. " * 230)[:10000],
        "control chars": "Hello\x00\x07\x1b[31m world\x7f",
        "emoji": "Hello \U0001F600 world \U0001F680",
        "RTL (Hebrew + Arabic)": "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 hello",
        "HTML/script tags": "<script>alert(1)</script><img src=x onerror=alert(1)> hello",
    }


def hostile_model_ids(d: Path) -> dict[str, str]:
    local = Path(d) / "local_model"
    local.mkdir(parents=True, exist_ok=True)
    (local / "config.json").write_text(json.dumps({"model_type": "wav2vec2"}))
    return {"/etc/passwd": "/etc/passwd", "../../etc": "../../etc", "~/.ssh": "~/.ssh",
            "a local dir with config.json": str(local), "javascript:alert(1)": "javascript:alert(1)"}


# -- calling the tabs ------------------------------------------------------------------------------
def _args(tab: str, audio, model_id: str, text: str = GOOD_TEXT):
    from gradio_client import handle_file

    up = handle_file(str(audio)) if audio is not None else None
    if tab == "whisper":
        return (up, model_id, "", 1, 5, "alignment")
    if tab == "ctc":
        return (up, model_id, "", "", 1, 5)
    if tab == "classify":
        return (up, model_id, 3)
    if tab == "tts":
        return (text, model_id, 0.5, 0.0, 4.0, 0, "griffin-lim", None, False, True)
    raise ValueError(tab)


def plain(status: str) -> str:
    """The status box as text (tags dropped, entities decoded, one line)."""
    s = re.sub(r"<[^>]+>", " ", str(status or ""))
    return re.sub(r"\s+", " ", html.unescape(s)).strip()


@dataclass
class Cell:
    kind: str            # result | message | refused (gradio's own check) | exception
    text: str
    problems: list = field(default_factory=list)
    serving: bool | None = None
    raw: str = ""        # the status box as the browser gets it (HTML)

    def markdown(self) -> str:
        mark = {"result": "result", "message": "message", "refused": "refused by gradio",
                "exception": "EXCEPTION"}[self.kind]
        bad = "" if not self.problems else " **PROBLEM: " + "; ".join(self.problems) + "**"
        serve = "" if self.serving in (None, True) else " **(app stopped serving)**"
        t = self.text.replace("|", "\\|").replace("\n", " ")
        return f"{mark}: {t[:220]}{'…' if len(t) > 220 else ''}{bad}{serve}"


ABS_PATH = re.compile(r"(?<![\w.~])(?:/[\w.@~+-]+){2,}/?")  # "/tmp/x", not "wav/flac/ogg"


def problems_of(text: str, user_input: str = "") -> list[str]:
    """What must not reach the browser: a traceback, a server path (the user's input aside)."""
    out = []
    if "Traceback" in text or re.search(r'File ".*", line \d+', text):
        out.append("traceback")
    for p in ABS_PATH.findall(text):
        if user_input and (p in user_input or user_input.rstrip("/") in p
                           or os.path.expanduser(user_input) in p):
            continue
        out.append(f"server path {p!r}")
    if not text.strip():
        out.append("empty answer")
    return out


def summarise(tab: str, res: dict) -> str:
    status = plain(res.get("status"))
    if tab in ("whisper", "ctc"):
        return f"text {str(res.get('text') or '').strip()[:60]!r}; " + status[:140]
    if tab == "classify":
        top = ""
        try:
            fig = json.loads(res["topk_plot"]["plot"])
            d = fig["data"][0]
            labels = d.get("y") if isinstance((d.get("y") or [None])[0], str) else d.get("x")
            vals = d.get("x") if labels is d.get("y") else d.get("y")
            if isinstance(vals, dict):  # plotly's typed-array encoding
                vals = None
            if labels:
                k = int(np.argmax(vals)) if vals else 0
                top = f"top label {labels[k]!r}; "
        except (KeyError, TypeError, ValueError, IndexError):
            pass
        return top + status[:160]
    return status[:200]


def ask(client, api: dict, tab: str, audio=None, model_id: str = "", text: str = GOOD_TEXT,
        user_input: str = "") -> Cell:
    """One request; its answer as a Cell (kind, text, problems)."""
    base = tab.split("-")[0]
    try:
        out = client.predict(*_args(base, audio, model_id, text), api_name=api[base])
    except Exception as exc:  # noqa: BLE001 -- what the client saw is the finding
        msg = str(exc)
        kind = "refused" if type(exc).__name__ in ("AppError",) else "exception"
        return Cell(kind, f"{type(exc).__name__}: {msg}", problems_of(msg, user_input))
    res = dict(zip(OUT[base], out))
    status = str(res.get("status") or "")
    if "<b>Error:</b>" in status:
        msg = plain(status).removeprefix("Error:").strip()
        probs = problems_of(msg, user_input)
        if msg.startswith("internal error"):
            probs.append("internal error (a bug, not a message about the input)")
        return Cell("message", msg, probs, raw=status)
    summary = summarise(base, res)
    return Cell("result", summary, problems_of(summary, user_input), raw=status)


SERVING_FAILURES: list = []  # (tab, what the normal request got) when it did not succeed


def serving(client, api, tab, model_id) -> bool:
    """True when a normal request (the fox clip; a short text for TTS) gives a result."""
    good = None if tab == "tts" else FOX
    c = ask(client, api, tab, good, model_id)
    if c.kind != "result":
        SERVING_FAILURES.append((tab, c.kind, c.text))
        print(f"  normal request on {tab} failed: {c.kind}: {c.text[:300]}", file=sys.stderr,
              flush=True)
    return c.kind == "result"


# -- the tables ------------------------------------------------------------------------------------
def table(rows: dict[str, dict[str, Cell]], columns: list[str], first: str) -> str:
    lines = [f"| {first} | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for label, cells in rows.items():
        lines.append(f"| {label} | " + " | ".join(cells[c].markdown() if c in cells else "–"
                                                   for c in columns) + " |")
    return "\n".join(lines)


def run_audio(client, api, ids: dict, inputs: dict, tabs=AUDIO_TABS, check_serving=True):
    rows = {}
    for label, path in inputs.items():
        rows[label] = {}
        for tab in tabs:
            cell = ask(client, api, tab, path, ids[tab])
            if check_serving:
                cell.serving = serving(client, api, tab, ids[tab])
            rows[label][tab] = cell
            print(f"  {label} x {tab}: {cell.markdown()[:160]}", file=sys.stderr, flush=True)
    return rows


def run_texts(client, api, ids, texts, check_serving=True):
    rows = {}
    for label, text in texts.items():
        cell = ask(client, api, "tts", None, ids["tts"], text=text, user_input=text)
        if check_serving:
            cell.serving = serving(client, api, "tts", ids["tts"])
        rows[label] = {"tts": cell}
        print(f"  {label} x tts: {cell.markdown()[:160]}", file=sys.stderr, flush=True)
    return rows


def run_model_ids(client, api, model_ids, tabs, ids, check_serving=True):
    rows = {}
    for label, mid in model_ids.items():
        rows[label] = {}
        for tab in tabs:
            audio = None if tab == "tts" else FOX
            cell = ask(client, api, tab, audio, mid, user_input=mid)
            if check_serving:
                cell.serving = serving(client, api, tab, ids[tab])
            rows[label][tab] = cell
            print(f"  model {label} x {tab}: {cell.markdown()[:160]}", file=sys.stderr, flush=True)
    return rows


def launch():
    from apps.main import build_app

    demo = build_app()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1",
                            max_file_size=MAX_FILE_SIZE)
    return demo, url, api_names(demo)


def use_tiny_models() -> dict:
    """Serve tiny random models; returns tab -> the id to type in its model box."""
    from apps import factory

    from scripts.app_concurrency import tiny_models

    m = tiny_models()
    from lab.models import load_cached

    tab_ids = {"whisper": "whisper-tiny.en", "ctc": "tiny", "tts": "speecht5-tiny-random"}

    def loader(model_id, family, attention=True):
        """The tiny model for its own id; any other id goes to the real resolver (its answer to
        a hostile id is what the table is about)."""
        if family == "classify" and model_id in m:
            return m[model_id]
        if family == "tts" or (family in tab_ids and model_id in (tab_ids[family], None)):
            return m[family]  # the TTS tab hands over a path for its tiny id (model_ref)
        return load_cached(model_id, family=family, attention=attention)

    factory.set_loader(loader)
    return {"whisper": "whisper-tiny.en", "ctc": "tiny", "tts": "speecht5-tiny-random",
            "classify-ast": "tiny-ast", "classify-wav2vec2": "tiny-wav2vec2-seq"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random models")
    ap.add_argument("--no-serving-check", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    from gradio_client import Client

    ids = use_tiny_models() if args.tiny else dict(REAL)
    d = Path(tempfile.mkdtemp(prefix="hostile_app_"))
    demo, url, api = launch()
    client = Client(url, verbose=False)
    t0 = time.perf_counter()
    try:
        check = not args.no_serving_check
        audio = run_audio(client, api, ids, hostile_audio(d), check_serving=check)
        texts = run_texts(client, api, ids, hostile_texts(), check_serving=check)
        mids = run_model_ids(client, api, hostile_model_ids(d), AUDIO_TABS + ["tts"], ids,
                             check_serving=check)
    finally:
        client.close()
        with contextlib.redirect_stdout(sys.stderr):  # gradio prints "Closing server ..."
            demo.close()
    all_cells = [c for rows in (audio, texts, mids) for r in rows.values() for c in r.values()]
    bad = [c for c in all_cells if c.problems or c.serving is False or c.kind == "exception"]
    cols = " · ".join(f"{t}: `{ids[t]}`" for t in AUDIO_TABS + ["tts"])
    print(f"# Hostile input through the app (gradio_client, loopback)\n\nModels: {cols}. "
          f"Each cell: the tab's error-box message, or a summary of its result; after every "
          f"cell a normal request was {'sent (it succeeded unless marked)' if check else 'not sent'}."
          f" {len(all_cells)} cells, {len(bad)} with a problem; {time.perf_counter() - t0:.0f} s.\n")
    print("## Uploads x audio tab\n")
    print(table(audio, AUDIO_TABS, "upload"))
    print("\n## Text x TTS tab\n")
    print(table(texts, ["tts"], "text"))
    print("\n## Model box x tab\n")
    print(table(mids, AUDIO_TABS + ["tts"], "model id"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
