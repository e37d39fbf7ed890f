"""Edit the audio (kind ``"edit"``): silence a span, add noise to it at a chosen SNR, or swap in a
span of another clip -- then run the model on the edited clip and diff against the original.

A span ``[start, end)`` (seconds) becomes samples ``[round(start * rate), round(end * rate))`` at
the clip's own rate (nearest sample, halves rounded up), so the edited clip has exactly as many
samples as the original. Ops:

- ``silence``: the span's samples become 0.0;
- ``noise``: white Gaussian noise (``numpy.random.default_rng(seed)``) is *added* to the span,
  scaled so that ``20 log10(rms(speech) / rms(noise)) = snr_db`` exactly; ``rms(speech)`` is the
  RMS of the span itself (a local SNR: each word masked relative to its own level), or of the
  whole clip when the span is digital silence. ``snr_db = inf`` adds nothing (a no-op);
- ``swap``: the span's samples are replaced by the same number of samples of ``source`` (a path,
  or a :class:`lab.audio.Audio`; loaded and resampled to the clip's rate by :mod:`lab.audio`)
  starting at ``source_start`` seconds (default: ``start``).

Tracers call :func:`apply_edits` right after preparing the audio, so the trace's
``input.waveform`` is the edited clip (the app plays both). :func:`word_spans` /
:func:`word_edit` turn a word of a trace (Whisper DTW word times, CTC collapse or forced-alignment
word times) into an edit.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..audio import Audio
from ..errors import LabError
from .spec import register

OPS = ("silence", "noise", "swap")


def _is_audio(x) -> bool:
    return isinstance(x, Audio)


@register("edit", families=("whisper", "ctc", "classify"))
@dataclass(frozen=True)
class EditAudio:
    """One edit of the input clip: ``op`` over ``[start, end)`` seconds (see the module doc).

    ``snr_db``: noise only, dB of speech RMS over noise RMS (``inf``: no noise). ``source``:
    swap only, a path or an :class:`lab.audio.Audio`; ``source_start``: seconds into the source
    (default ``start``). ``seed``: the noise generator's seed (the same edit gives the same noise).
    """

    op: str
    start: float
    end: float
    snr_db: float = 10.0
    source: object = None
    source_start: float | None = None
    seed: int = 0
    kind: str = "edit"

    def __post_init__(self):
        if self.op not in OPS:
            raise LabError(f"edit: unknown op {self.op!r}; use one of {', '.join(OPS)}")
        for name in ("start", "end", "snr_db") + (("source_start",) if self.source_start is not None else ()):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise LabError(f"edit {self.op}: {name} must be a number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if math.isnan(self.start) or math.isnan(self.end) or not math.isfinite(self.start) \
                or not math.isfinite(self.end):
            raise LabError(f"edit {self.op}: start and end must be finite seconds, got {self.start}-{self.end}")
        if self.start < 0:
            raise LabError(f"edit {self.op}: start {self.start:g} s is before the clip (start >= 0)")
        if self.end <= self.start:
            raise LabError(f"edit {self.op}: end ({self.end:g} s) must be after start ({self.start:g} s)")
        if math.isnan(self.snr_db):
            raise LabError(f"edit {self.op}: snr_db is NaN; give a number of dB (inf: no noise)")
        if self.op == "swap":
            if self.source is None:
                raise LabError("edit swap: needs a source clip (source=path or Audio) to take the span from")
            if not (isinstance(self.source, str) or _is_audio(self.source) or hasattr(self.source, "__fspath__")):
                raise LabError(f"edit swap: source must be a path or a lab.audio.Audio, got "
                               f"{type(self.source).__name__}")
            if self.source_start is not None and (not math.isfinite(self.source_start) or self.source_start < 0):
                raise LabError(f"edit swap: source_start must be >= 0 s, got {self.source_start}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise LabError(f"edit {self.op}: seed must be an integer, got {self.seed!r}")

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "op": self.op, "start": self.start, "end": self.end}
        if self.op == "noise":
            d.update(snr_db=self.snr_db, seed=self.seed)
        if self.op == "swap":
            d["source"] = self.source.source if _is_audio(self.source) else str(self.source)
            d["source_start"] = self.start if self.source_start is None else self.source_start
        return d


def span_samples(edit: EditAudio, n_samples: int, rate: int) -> tuple[int, int]:
    """``[s0, s1)`` sample indices of ``edit``'s span in a clip of ``n_samples`` at ``rate`` Hz
    (nearest sample, halves up); LabError when the span lies outside the clip."""
    seconds = n_samples / rate
    if edit.end > seconds + 0.5 / rate:
        raise LabError(f"edit {edit.op}: span {edit.start:g}-{edit.end:g} s is outside the clip "
                       f"({seconds:.3f} s long)")
    s0 = int(math.floor(edit.start * rate + 0.5))
    s1 = min(int(math.floor(edit.end * rate + 0.5)), n_samples)
    if s1 <= s0:
        raise LabError(f"edit {edit.op}: span {edit.start:g}-{edit.end:g} s is shorter than one sample "
                       f"at {rate} Hz")
    return s0, s1


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _source_audio(edit: EditAudio, rate: int) -> Audio:
    from ..capture import as_audio

    return as_audio(edit.source, rate)


def _apply_one(samples: np.ndarray, rate: int, edit: EditAudio) -> str:
    """Apply ``edit`` to ``samples`` (a private copy) in place; returns a note for ``Audio.notes``."""
    s0, s1 = span_samples(edit, len(samples), rate)
    span = f"{s0 / rate:.3f}-{s1 / rate:.3f} s (samples {s0}..{s1 - 1})"
    if edit.op == "silence":
        samples[s0:s1] = 0.0
        return f"edit: silenced {span}"
    if edit.op == "noise":
        if edit.snr_db == math.inf:
            return f"edit: noise at +inf dB SNR over {span} (nothing added)"
        ref = _rms(samples[s0:s1])
        of = "the span"
        if ref == 0.0:
            ref, of = _rms(samples), "the whole clip (the span is silent)"
        noise = np.random.default_rng(edit.seed).standard_normal(s1 - s0)
        target = ref / 10.0 ** (edit.snr_db / 20.0)
        noise *= target / max(_rms(noise), 1e-30)
        samples[s0:s1] = (samples[s0:s1].astype(np.float64) + noise).astype(np.float32)
        return (f"edit: white noise over {span} at {edit.snr_db:g} dB SNR (speech RMS of {of} "
                f"{ref:.4g}, noise RMS {target:.4g}, seed {edit.seed})")
    src = _source_audio(edit, rate)
    ss = edit.start if edit.source_start is None else edit.source_start
    q0 = int(math.floor(ss * rate + 0.5))
    n = s1 - s0
    if q0 + n > len(src.samples):
        raise LabError(f"edit swap: the source {src.source} is {src.seconds:.3f} s long; the swapped-in "
                       f"span needs {ss:g} + {n / rate:.3f} = {(q0 + n) / rate:.3f} s")
    samples[s0:s1] = src.samples[q0:q0 + n]
    return f"edit: swapped in {src.source} {q0 / rate:.3f}-{(q0 + n) / rate:.3f} s over {span}"


def apply_edits(audio: Audio, edits) -> Audio:
    """A new :class:`Audio` (same rate, same number of samples) with ``edits`` (a list of
    :class:`EditAudio`, applied in order) done; ``audio`` is never changed. The new clip's
    ``notes`` add one line per edit (what was done, the sample span, the noise level)."""
    edits = list(edits or [])
    for e in edits:
        if not isinstance(e, EditAudio):
            raise LabError(f"apply_edits takes EditAudio edits, got {type(e).__name__}")
    samples = np.array(audio.samples, dtype=np.float32, copy=True)
    notes = list(audio.notes)
    for e in edits:
        notes.append(_apply_one(samples, int(audio.sample_rate), e))
    return Audio(samples=samples, sample_rate=audio.sample_rate, source=audio.source, notes=notes)


# -- words ------------------------------------------------------------------------------------
def word_spans(trace) -> list[dict]:
    """``[{"word", "start", "end"}]`` (seconds) of ``trace``'s words: Whisper ``meta["words"]``
    (DTW over the alignment heads), CTC ``meta["words"]`` (the forced alignment of the reference
    when one was given, else the greedy collapse's word spans). LabError when there are none."""
    if trace.family not in ("whisper", "ctc"):
        raise LabError(f"word times come from Whisper or CTC traces, not {trace.family}")
    words = trace.meta.get("words") or []
    if not words:
        how = ("trace with word_timestamps=True" if trace.family == "whisper"
               else "the model transcribed no words; give a reference to force-align")
        raise LabError(f"this {trace.family} trace has no word times ({how})")
    return [{"word": str(w["word"]).strip(), "start": round(float(w["start"]), 4),
             "end": round(float(w["end"]), 4)} for w in words]


def _clip_seconds(trace) -> float | None:
    if "input.waveform" in trace.tensors:
        rate = trace.time_bases.get("sample", 16000.0)
        return len(trace.tensors["input.waveform"]) / float(rate)
    return None


def word_edit(trace, index: int, op: str, **kw) -> EditAudio:
    """The :class:`EditAudio` ``op`` over word ``index`` of :func:`word_spans` ``(trace)`` (its end
    clamped to the clip); ``kw``: the edit's other fields (``snr_db``, ``source`` ...)."""
    spans = word_spans(trace)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(spans):
        raise LabError(f"word index {index!r} is out of range: the trace has {len(spans)} words "
                       f"(0..{len(spans) - 1}: {' '.join(w['word'] for w in spans)})")
    w = spans[index]
    end = w["end"]
    total = _clip_seconds(trace)
    if total is not None:
        end = min(end, total)
    if end <= w["start"]:
        raise LabError(f"word {index} {w['word']!r} has no duration in the trace's word times "
                       f"({w['start']:g}-{w['end']:g} s): edit a time span instead")
    return EditAudio(op=op, start=w["start"], end=end, **kw)


# -- the CLI form ------------------------------------------------------------------------------
_NUM = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_EDIT_RE = re.compile(rf"(?P<op>[a-z]+):(?P<start>{_NUM})-(?P<end>{_NUM})(?P<rest>.*)")


def parse_edit(text: str) -> EditAudio:
    """``--edit`` value: ``silence:1.2-1.6``, ``noise:1.2-1.6@5`` (SNR 5 dB; default 10;
    ``@inf`` for none), ``swap:1.2-1.6=OTHER.wav`` or ``swap:1.2-1.6=OTHER.wav@0.3`` (the span
    starts at 0.3 s in OTHER.wav)."""
    m = _EDIT_RE.fullmatch(text.strip())
    usage = "expected OP:START-END with OP silence | noise[@SNR_DB] | swap=OTHER.wav[@SOURCE_START]"
    if not m:
        raise LabError(f"--edit {text!r}: {usage}, e.g. silence:1.2-1.6")
    op, start, end, rest = m.group("op"), float(m.group("start")), float(m.group("end")), m.group("rest")
    if op == "noise":
        if not rest:
            return EditAudio("noise", start, end)
        m2 = re.fullmatch(rf"@(?P<snr>[-+]?(?:{_NUM}|inf))", rest)
        if not m2:
            raise LabError(f"--edit {text!r}: noise takes @SNR_DB after the span, e.g. noise:1.2-1.6@5")
        return EditAudio("noise", start, end, snr_db=float(m2.group("snr")))
    if op == "swap":
        if not rest.startswith("=") or len(rest) < 2:
            raise LabError(f"--edit {text!r}: swap needs =OTHER.wav after the span, e.g. swap:1.2-1.6=other.wav")
        path, source_start = rest[1:], None
        m3 = re.fullmatch(rf"(?P<path>.+)@(?P<at>{_NUM})", path)
        if m3:
            path, source_start = m3.group("path"), float(m3.group("at"))
        return EditAudio("swap", start, end, source=path, source_start=source_start)
    if rest:
        raise LabError(f"--edit {text!r}: {op} takes nothing after the span")
    return EditAudio(op, start, end)
