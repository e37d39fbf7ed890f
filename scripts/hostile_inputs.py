"""Hostile inputs through the CLI: does every family answer with a result or ONE clear line?

Writes a corpus of hostile audio files (empty, truncated, random bytes, text named .mp3, silence,
NaN / inf float WAVs, 11 minutes, 8 kHz, 48 kHz stereo, 10 ms, 5 frames x 6 channels, 1 frame
stereo) plus paths that are not audio files (missing, a directory, /etc/passwd) and hostile texts
for TTS (empty, 10 000 characters, control characters / emoji / RTL, HTML / script tags), runs
each through ``audiolab trace {whisper,ctc,classify,tts} ... --json`` in a subprocess and prints a
markdown table: input x family -> exit code + the first line of the message (or of the result).

Expected: exit 0 with a result, or exit 2 with one ``audiolab: error: ...`` line naming the
problem; never a traceback, never exit 1. Cells that break this are marked **BAD**.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/hostile_inputs.py [--out /tmp/hostile_cli.md]
        [--families whisper,ctc,classify,tts] [--extra ctc=tiny-wav2vec2-ctc-en ...] [--only NAME]
        [--in-process]

``--in-process`` calls ``lab.cli.main`` in the script's own process (models load once; an
exception escaping ``main`` counts as the traceback a subprocess would print).

Default columns: the four families with their default models, plus the offline wav2vec2 CTC model
and the wav2vec2 keyword classifier (``--extra``), which reach different code (a conv feature
encoder instead of a mel front end). ``tests/core/test_hostile_cli.py`` runs a subset in-process.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "assets" / "clips" / "quick_brown_fox.wav"


def _speech(rate: int = SR) -> np.ndarray:
    """The committed speech clip (mono float32) at ``rate``, or a chirp if it is missing."""
    import soundfile as sf

    if SPEECH.is_file():
        x, r = sf.read(str(SPEECH), dtype="float32", always_2d=False)
        if x.ndim == 2:
            x = x.mean(axis=1)
        if r != rate:
            import librosa

            x = librosa.resample(x, orig_sr=r, target_sr=rate)
        return x.astype(np.float32)
    t = np.arange(2 * rate) / rate
    return (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.float32)


@dataclass(frozen=True)
class Case:
    name: str  # row label
    arg: str  # the file path or the text handed to the CLI
    kind: str  # "audio" (whisper / ctc / classify), "text" (tts) or "out" (every family's --out)
    what: str  # what the problem is (a word the message should name), "" for a valid input


def make_corpus(directory: str | Path, *, long_minutes: float = 11.0) -> list[Case]:
    """Write the hostile audio files into ``directory``; return every case (files, paths, texts)."""
    import soundfile as sf

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    cases: list[Case] = []

    def wav(name, data, rate=SR, subtype=None, what=""):
        p = d / name
        sf.write(str(p), data, rate, subtype=subtype)
        cases.append(Case(name, str(p), "audio", what))
        return p

    (d / "empty.wav").write_bytes(b"")
    cases.append(Case("empty.wav", str(d / "empty.wav"), "audio", "empty"))
    good = d / "_good.wav"
    sf.write(str(good), _speech()[: 2 * SR], SR, subtype="PCM_16")
    raw = good.read_bytes()
    (d / "truncated.wav").write_bytes(raw[:30])  # the RIFF header cut inside its fmt chunk
    cases.append(Case("truncated.wav (30 bytes)", str(d / "truncated.wav"), "audio", "could not read"))
    (d / "truncated_data.wav").write_bytes(raw[: len(raw) // 2])  # header says 2 s, 1 s is there
    cases.append(Case("truncated.wav (half the data)", str(d / "truncated_data.wav"), "audio", "truncated"))
    (d / "random.wav").write_bytes(rng.bytes(4096))
    cases.append(Case("random bytes .wav", str(d / "random.wav"), "audio", "could not read"))
    (d / "text.mp3").write_text("This is not an mp3 file.\n" * 40)
    cases.append(Case("text renamed .mp3", str(d / "text.mp3"), "audio", "could not read"))
    (d / "binary.mp3").write_bytes(b"\x01\x02" * 2000)  # libsndfile's mpg123 chats on fd 2
    cases.append(Case("binary junk .mp3", str(d / "binary.mp3"), "audio", "could not read"))
    wav("silent_2s.wav", np.zeros(2 * SR, np.float32), what="silent")
    x = _speech()[: 2 * SR].copy()
    x[1000:1010] = np.nan
    wav("nan.wav", x, subtype="FLOAT", what="NaN")
    x = _speech()[: 2 * SR].copy()
    x[500] = np.inf
    wav("inf.wav", x, subtype="FLOAT", what="NaN/inf")
    n = int(long_minutes * 60 * SR)
    tone = (0.1 * np.sin(np.arange(n) * 2 * np.pi * 220 / SR)).astype(np.float32)
    wav(f"long_{long_minutes:g}min.wav", tone, subtype="PCM_16", what="limit")
    wav("speech_8k.wav", _speech(8000), 8000, subtype="PCM_16")
    s48 = _speech(48000)
    wav("speech_48k_stereo.wav", np.stack([s48, 0.5 * s48], axis=1), 48000, subtype="PCM_16")
    wav("10ms.wav", (0.3 * rng.standard_normal(SR // 100)).astype(np.float32), what="too short")
    wav("5frames_6ch.wav", (0.3 * rng.standard_normal((5, 6))).astype(np.float32), what="too short")
    wav("1frame_stereo.wav", (0.3 * rng.standard_normal((1, 2))).astype(np.float32), what="too short")
    wav("1frame_stereo_48k.wav", (0.3 * rng.standard_normal((1, 2))).astype(np.float32), 48000,
        what="too short")
    cases.append(Case("missing path", str(d / "does_not_exist.wav"), "audio", "not found"))
    (d / "a_directory.wav").mkdir(exist_ok=True)
    cases.append(Case("a directory", str(d / "a_directory.wav"), "audio", "directory"))
    cases.append(Case("/etc/passwd", "/etc/passwd", "audio", "could not read"))
    cases.append(Case("--out is an existing file", "/etc/passwd", "out", "not a directory"))
    cases.append(Case("--out under a file", "/etc/passwd/trace", "out", "cannot create"))
    sf.write(str(d / "speech.wav"), _speech()[: 2 * SR], SR, subtype="PCM_16")  # the --out rows' input
    good.unlink()
    cases += [
        Case("text: empty", "", "text", "empty"),
        Case("text: 10k characters", ("The quick brown fox jumps over the lazy dog. " * 230)[:10000],
             "text", "at most"),
        Case("text: 25k characters", "la " * 8334, "text", "character limit"),
        Case("text: control chars", "hello\x01\x07\x1b[31m world\x08\x7f", "text", "vocabulary"),
        Case("text: emoji + RTL", "hello \U0001F600\U0001F44D \u202eolleh\u202c \u05e9\u05dc\u05d5\u05dd "
             "\u0645\u0631\u062d\u0628\u0627", "text", "vocabulary"),
        Case("text: HTML/script", "<script>alert('x')</script><b>bold</b> &amp; done", "text", "vocabulary"),
        Case("text: only emoji", "\U0001F600\U0001F600\U0001F600", "text", "vocabulary"),
    ]  # ``what`` for texts: the offline tiny-speecht5-tts-en's answers (a character vocabulary)
    return cases


@dataclass
class Outcome:
    code: int
    line: str  # the first line of the message, or of the result
    traceback: bool
    n_err_lines: int  # lines on stderr that are not the lab's own

    @property
    def ok(self) -> bool:
        if self.traceback or self.code not in (0, 2):
            return False
        return self.code == 0 or (self.line.startswith("audiolab: error:") and self.n_err_lines <= 1)


def result_line(family: str, result: dict) -> str:
    """One line saying what a successful call gave."""
    if family in ("whisper", "ctc"):
        return f"text {result.get('text', '')!r}"
    if family == "classify":
        top = (result.get("labels") or [{}])[0]
        return f"top {top.get('label')!r} {top.get('score', 0):.2f}"
    if family == "tts":
        return (f"{result.get('n_steps')} steps, {result.get('seconds', 0):.2f} s "
                f"({result.get('stop_reason')})")
    return json.dumps(result)[:80]


def judge(family: str, code: int, stdout: str, stderr: str) -> Outcome:
    """An :class:`Outcome` from one call's exit code and output."""
    err = [ln for ln in stderr.splitlines() if ln.strip()]
    lab_err = [ln for ln in err if ln.startswith("audiolab: error:")]
    others = [ln for ln in err if not ln.startswith("audiolab")]
    tb = any(ln.startswith("Traceback") for ln in err)
    if code == 0:
        try:
            line = result_line(family, json.loads(stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            line = (stdout.strip().splitlines() or [""])[0]
    else:
        line = (lab_err or err or [""])[-1 if not lab_err else 0]
    return Outcome(code, line, tb, len(lab_err) + len(others))


def cli_args(family: str, case: Case, model: str | None, out_dir: str) -> list[str]:
    """The argv of one cell. An ``out`` case hands a valid input (the corpus' speech.wav, or a
    sentence) and the case's path as ``--out``."""
    if case.kind == "out":
        speech = str(Path(out_dir).parent / "corpus" / "speech.wav")
        args = ["trace", family, "Hello there." if family == "tts" else speech, "--out", case.arg]
    else:
        args = ["trace", family, case.arg]
        if family == "tts":
            args += ["--out", out_dir]
    args.append("--json")
    if model:
        args += ["--model", model]
    return args


def run_subprocess(args: list[str], timeout: float = 600) -> tuple[int, str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    try:
        p = subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True, text=True,
                           timeout=timeout, env=env, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return -9, "", f"timed out after {timeout:.0f} s"
    return p.returncode, p.stdout, p.stderr


def run_in_process(args: list[str]) -> tuple[int, str, str]:
    """``lab.cli.main(args)`` in this process (models stay cached between calls: minutes instead
    of an hour on a busy machine). An exception that escapes ``main`` is what a subprocess would
    show as a traceback and exit 1; argparse's ``SystemExit`` keeps its code. File descriptor 2
    is captured too: C libraries (libsndfile's mpg123, ffmpeg) write there, not to sys.stderr."""
    import contextlib
    import io
    import traceback

    from lab.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryFile() as fd2:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(fd2.fileno(), 2)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = cli_main(args)
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 1
                except Exception:  # noqa: BLE001 -- report it as the subprocess would
                    traceback.print_exc()
                    code = 1
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        fd2.seek(0)
        c_err = fd2.read().decode("utf-8", "replace")
    return int(code), out.getvalue(), err.getvalue() + c_err


def _cell(o: Outcome) -> str:
    line = o.line.replace("|", "\\|").replace("\n", " ")
    line = line.removeprefix("audiolab: error: ")
    if len(line) > 160:
        line = line[:157] + "..."
    mark = "" if o.ok else " **BAD**"
    return f"{o.code}: {line}{mark}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/hostile_cli.md", help="write the table here too")
    ap.add_argument("--families", default="whisper,ctc,classify,tts")
    ap.add_argument("--extra", nargs="*", default=["ctc=tiny-wav2vec2-ctc-en",
                                                   "classify=tiny-wav2vec2-keywords"],
                    help="more columns: FAMILY=MODEL_ID")
    ap.add_argument("--only", default=None, help="only cases whose name contains this")
    ap.add_argument("--long-minutes", type=float, default=11.0)
    ap.add_argument("--in-process", action="store_true",
                    help="call lab.cli.main in this process instead of one subprocess per cell")
    a = ap.parse_args(argv)
    cols = [(f, None) for f in a.families.split(",") if f]
    cols += [tuple(e.split("=", 1)) for e in a.extra]
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        cases = make_corpus(Path(tmp) / "corpus", long_minutes=a.long_minutes)
        if a.only:
            cases = [c for c in cases if a.only in c.name]
        heads = [f if m is None else f"{f} ({m})" for f, m in cols]
        rows, bad, t0 = [], 0, time.time()
        for c in cases:
            cells = []
            for fam, model in cols:
                if c.kind != "out" and (fam == "tts") != (c.kind == "text"):
                    cells.append("n/a")
                    continue
                runner = run_in_process if a.in_process else run_subprocess
                code, so, se = runner(cli_args(fam, c, model, str(Path(tmp) / "tts_out")))
                o = judge(fam, code, so, se)
                bad += not o.ok
                cells.append(_cell(o))
                print(f"[{time.time() - t0:6.0f} s] {c.name} x {fam}{'' if model is None else ' ' + model}: "
                      f"{_cell(o)}", file=sys.stderr, flush=True)
                if o.traceback:
                    print(se[-2000:], file=sys.stderr)
            rows.append(f"| {c.name} | " + " | ".join(cells) + " |")
    table = "\n".join([
        "| input | " + " | ".join(heads) + " |",
        "|---|" + "---|" * len(heads),
        *rows,
        "",
        f"{len(cases)} inputs x {len(cols)} columns "
        f"({'in-process lab.cli.main' if a.in_process else 'one subprocess per cell'}); cells: exit "
        f"code: first line of the message (or of the result); **BAD** = a traceback, exit 1, or "
        f"more than one line: {bad}.",
    ])
    print(table)
    if a.out:
        Path(a.out).write_text(table + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
