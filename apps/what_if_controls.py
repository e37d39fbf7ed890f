"""The What-if panel's plain logic (no Gradio components): which interventions a family offers,
the panel's control values -> an intervention spec, whether the tab's trace is the unchanged run
of the inputs, the choices the pickers show, the players' audio. ``apps/what_if_panel.py`` lays
out the components and wires these into guarded handlers.

Every bad value becomes a :class:`lab.errors.LabError` naming the problem (a head index out of
range, a span outside the clip, a step beyond the run, a clip that is not one of the committed
ones, no trace yet), which the tab's status box shows.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from apps import common
from lab.errors import LabError

ABLATE, FORCE, EDIT = "ablate heads / a part", "force a token", "edit the audio"
PATCH = "patch from another clip"
STOP, SPEAKER, CLAMP = "scale the stop logit", "edit the speaker", "clamp cross-attention"
KINDS = {"whisper": (ABLATE, FORCE, EDIT, PATCH), "ctc": (ABLATE, EDIT, PATCH), "classify": (ABLATE, EDIT, PATCH),
         "tts": (ABLATE, STOP, SPEAKER, CLAMP)}
NO_TRACE = "run the tab first: the what-if changes the tab's current run (press Run above)"
CLIP_DIRS = ("", "lang")  # swap sources: the committed clips of assets/clips and assets/clips/lang


def swap_sources() -> dict[str, Path]:
    """Name shown in the dropdown -> path, for the committed clips only (never a browser path)."""
    out = {}
    for sub in CLIP_DIRS:
        for p in sorted((common.CLIPS / sub).glob("*.wav")):
            out[f"{sub}/{p.name}" if sub else p.name] = p
    return out


def require_trace(trace):
    if trace is None or (isinstance(trace, list) and not trace):
        raise LabError(NO_TRACE)
    return trace


# -- control values -> spec ------------------------------------------------------------------
def parse_heads(text) -> tuple[int, ...] | None:
    """``"0, 3"`` -> (0, 3); empty -> None (the whole part)."""
    raw = str(text or "").replace(" ", "").strip(",")
    if not raw:
        return None
    try:
        return tuple(int(h) for h in raw.split(",") if h != "")
    except ValueError:
        raise LabError(f"heads: give head indices separated by commas (e.g. 0,3), got {text!r}") from None


def _int(name: str, v) -> int:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise LabError(f"{name} must be a whole number, got {v!r}") from None
    if not math.isfinite(f) or f != int(f):
        raise LabError(f"{name} must be a whole number, got {v!r}")
    return int(f)


def _float(name: str, v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise LabError(f"{name} must be a number, got {v!r}") from None


def ablate_spec(loaded, family: str, target, heads, mode):
    from lab.interventions.spec import Ablate
    from lab.interventions.targets import resolve

    if not target:
        raise LabError("ablate: pick a target (press \u21bb if the list is empty)")
    h = parse_heads(heads)
    resolve(loaded.model, family, str(target), heads=h)  # unknown target / head out of range
    return Ablate(target=str(target), heads=h, mode=mode or "zero")


def token_id(loaded, trace, step: int, choice, typed) -> int:
    """The forced token: ``typed`` (a token id, or text that is exactly one token) when given,
    else ``choice`` (an id from the step's top-k dropdown)."""
    vocab = int(loaded.model.config.vocab_size)
    typed = str(typed or "").strip("\n")
    if typed.strip():
        if typed.strip().isdigit():
            tid = int(typed.strip())
        else:
            ids = loaded.processor.tokenizer.encode(typed, add_special_tokens=False)
            if len(ids) != 1:
                pieces = [loaded.processor.tokenizer.decode([i]) for i in ids]
                raise LabError(f"force: {typed!r} is {len(ids)} tokens ({pieces}); type one token "
                               "(mind the leading space: ' brown') or its id")
            tid = ids[0]
    elif choice not in (None, ""):
        tid = _int("force: token", choice)
    else:
        raise LabError("force: pick a token from the step's top-k or type one")
    if not 0 <= tid < vocab:
        raise LabError(f"force: token id {tid} is outside the vocabulary (0..{vocab - 1})")
    return tid


def force_spec(loaded, trace, step, choice, typed):
    from lab.interventions.spec import ForceToken

    s = _int("force: step", step)
    n = len(trace.steps)
    if not 0 <= s < n:
        raise LabError(f"force: step {s} is beyond the run: the tab's run has {n} decoder steps "
                       f"(0..{n - 1})")
    return ForceToken(step=s, token_id=token_id(loaded, trace, s, choice, typed))


def edit_spec(trace, op, start, end, snr_db, source, source_start):
    from lab.interventions.edit import EditAudio

    op = op or "silence"
    s, e = _float("edit: start", start), _float("edit: end", end)
    seconds = len(trace["input.waveform"]) / float(trace.time_bases.get("sample", 16000.0))
    if e > seconds + 1e-3 or s < 0:
        raise LabError(f"edit: span {s:g}-{e:g} s is outside the clip (0-{seconds:.2f} s)")
    kw = {}
    if op == "noise":
        kw["snr_db"] = _float("edit: SNR", snr_db)
    if op == "swap":
        clips = swap_sources()
        if source not in clips:
            raise LabError(f"edit swap: pick one of the committed clips ({', '.join(clips)}), got {source!r}")
        kw["source"] = str(clips[source])
        if source_start not in (None, ""):
            kw["source_start"] = _float("edit: source start", source_start)
    return EditAudio(op=op, start=s, end=e, **kw)


def patch_spec(target, source, start, end):
    """Clip B (a committed clip, by name) patched into the tab's clip at ``target`` over
    [start, end) seconds (empty: from 0 / to the end)."""
    from lab.interventions.patch import Patch

    clips = swap_sources()
    if source not in clips:
        raise LabError(f"patch: pick clip B from the committed clips ({', '.join(clips)}), got {source!r}")
    if not target:
        raise LabError("patch: pick a target (press \u21bb if the list is empty)")
    s = None if start in (None, "") else _float("patch: start", start)
    e = None if end in (None, "") else _float("patch: end", end)
    return Patch(target=str(target), source=str(clips[source]), start=s, end=e)


def patch_targets(loaded, family: str) -> list[str]:
    """``encoder.output``, ``encoder.layers.0`` ... of the tab's model."""
    from lab.interventions.patch import sites

    return list(sites(loaded.model, family))


def tts_spec(kind, trace, c: dict):
    from lab.interventions import tts_knobs as tk

    if kind == STOP:
        return tk.StopScale(scale=_float("stop: scale", c["scale"]), offset=_float("stop: offset", c["offset"]))
    if kind == SPEAKER:
        if not c["direction"]:
            raise LabError("speaker: pick a direction (press \u21bb if the list is empty)")
        return tk.SpeakerEdit(direction=str(c["direction"]), amount=_float("speaker: amount", c["amount"]))
    if (c.get("clamp_word") or "").strip():
        s, e = tk.word_span(trace, c["clamp_word"].strip())
    else:
        s, e = _int("clamp: start", c["clamp_start"]), _int("clamp: end", c["clamp_end"])
    n = len(trace.tokens)
    if not (0 <= s < e <= n):
        raise LabError(f"clamp: token span [{s}, {e}) is outside the text's {n} tokens (0..{n})")
    return tk.ClampCrossAttn(start=s, end=e)


def spec(family: str, kind: str, trace, loaded, c: dict) -> list:
    """The intervention list for the panel's values ``c`` (keys: the panel's control names)."""
    if kind not in KINDS[family]:
        raise LabError(f"{family}: choose one of {', '.join(KINDS[family])}, got {kind!r}")
    if kind == ABLATE:
        return [ablate_spec(loaded, family, c["target"], c["heads"], c["mode"])]
    if kind == FORCE:
        return [force_spec(loaded, trace, c["step"], c["token"], c["token_text"])]
    if kind == EDIT:
        return [edit_spec(trace, c["op"], c["start"], c["end"], c["snr_db"], c["source"], c["source_start"])]
    if kind == PATCH:
        return [patch_spec(c["patch_target"], c["patch_source"], c["patch_start"], c["patch_end"])]
    return [tts_spec(kind, trace, c)]


# -- is the tab's trace the unchanged run of these inputs? -----------------------------------
def mismatch(trace, family: str, x, loaded, kw: dict) -> str | None:
    """Why ``trace`` is not the unchanged run of ``x`` through ``loaded`` with ``kw`` (None: it
    is, and the what-if reuses it as the original)."""
    if trace.family != family:
        return f"it is a {trace.family} trace"
    if trace.meta.get("intervention"):
        return "it is itself a what-if run"
    if trace.model_id != loaded.model_id:
        return f"it was made with {trace.model_id}, not {loaded.model_id}"
    if family == "tts":
        if trace.meta.get("text") != x:
            return "the text changed"
        for k in ("threshold", "minlenratio", "maxlenratio", "seed"):
            if k in kw and trace.meta.get(k) != kw[k]:
                return f"{k} changed"
        from lab.tts.speaker import load_speaker

        spk = load_speaker(kw.get("speaker"), trace["tts.speaker_embedding"].numel())[0]
        if not torch.equal(spk.float().reshape(-1), trace["tts.speaker_embedding"].float().reshape(-1)):
            return "the speaker changed"
        return None
    from lab.capture import as_audio

    rate = int(trace.time_bases.get("sample", 16000))
    clip = torch.from_numpy(as_audio(x, rate).samples)
    w = trace["input.waveform"]
    if clip.shape != w.shape or not torch.equal(clip, w.to(clip.dtype)):
        return "the audio changed"
    if family == "whisper" and trace.steps and len(trace.steps[0]["top_k"]) != kw.get("top_k"):
        return "top-k changed"
    if family == "whisper":
        if kw.get("language") and trace.meta.get("language") != kw["language"]:
            return "the language changed"
        if kw.get("task") and trace.meta.get("task") not in (None, kw["task"]):
            return "the task changed"
        if ("segments" in trace.meta) != bool(kw.get("timestamps")):
            return "timestamp mode changed"
    if family in ("whisper", "ctc") and trace.meta.get("reference") != kw.get("reference"):
        return "the reference changed"
    if family == "classify" and len(trace.meta.get("top_k") or []) != kw.get("top_k"):
        return "top-k changed"
    return None


# -- what the pickers show -------------------------------------------------------------------
def target_choices(loaded, family: str) -> list[str]:
    from lab.interventions.targets import table

    return list(table(loaded.model, family))


def heads_label(loaded, family: str, target) -> str:
    from lab.interventions.targets import resolve, table

    tab = table(loaded.model, family)
    if target not in tab:
        return "Heads (comma-separated; empty = the whole part)"
    if tab[target][1] is None:
        return "Heads: this part has none (leave empty: the whole part)"
    n = resolve(loaded.model, family, target).n_heads
    return f"Heads 0..{n - 1} (comma-separated, e.g. 0,{min(1, n - 1)}; empty = the whole part)"


def token_choices(trace, step) -> list[tuple[str, int]]:
    from lab.viz.common import token_label

    if not trace.steps:
        return []
    s = trace.steps[min(max(_int("step", step or 0), 0), len(trace.steps) - 1)]
    return [(f"{token_label(c['token'])}  (id {c['token_id']}, p {c['prob']:.3f})", int(c["token_id"]))
            for c in s["top_k"]]


def word_choices(trace) -> list[tuple[str, int]]:
    from lab.interventions.edit import word_spans

    try:
        spans = word_spans(trace)
    except LabError:
        return []
    return [(f"{k}: {w['word']} ({w['start']:.2f}-{w['end']:.2f} s)", k) for k, w in enumerate(spans)]


def word_span(trace, index) -> tuple[float, float]:
    from lab.interventions.edit import word_edit

    e = word_edit(trace, _int("word", index), "silence")
    return e.start, e.end


def direction_choices(loaded, speaker=None) -> list[str]:
    from lab.interventions.tts_knobs import speaker_directions

    return list(speaker_directions(loaded, speaker))


# -- players ---------------------------------------------------------------------------------
def players(a, b) -> tuple:
    """(original, changed) player values: the TTS syntheses, or the input clips (the changed
    one only when the run edited its input; else None)."""
    if a.family == "tts":
        def wav(t):
            return (int(t.time_bases["sample"]), common.pcm16(t["tts.waveform"], normalise=True)) \
                if "tts.waveform" in t.tensors else None
        return wav(a), wav(b)
    rate = int(a.time_bases.get("sample", 16000))
    edited = bool((b.meta.get("intervention") or {}).get("edited_seconds"))
    return ((rate, common.pcm16(a["input.waveform"])),
            (rate, common.pcm16(b["input.waveform"])) if edited else None)
