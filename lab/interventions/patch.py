"""Patch activations (kind ``"patch"``): run clip B, then run clip A with one module's output
replaced by B's over a span of frames -- "what does A decode to when its encoder output between
1.2 and 1.6 s is B's?".

Targets (the same dotted names as the captures):

- ``encoder.output``: what the output head reads. Whisper: the encoder's final layer norm output
  (``encoder.output`` of a trace, 1500 frames of 20 ms); CTC: the input of the CTC head
  (``lm_head``; wav2vec2-style: the encoder's last hidden state, the zoo's Whisper-CTC: after its
  head layers' norm); classify: wav2vec2-style the head's input (projector / classifier), AST the
  final layer norm's tokens (CLS, distillation, then the patches);
- ``encoder.layers.{i}``: the hidden state leaving encoder layer ``i`` (before any final norm).

Frames come from seconds through the family's frame rate (Whisper 50/s; CTC
``frames_per_second``; wav2vec2-style classifiers ``sample_rate / prod(conv_stride)``): frames
``[floor(start * fps), ceil(end * fps))``; for AST the patch tokens whose time column starts in
``[start, end)`` (CLS and distillation kept). Without a span the whole tensor is replaced and A
and B must have the same number of frames. Shapes are checked: a LabError says which clip is
short and what to do.

:class:`PatchHook` (built by :class:`lab.interventions.hooks.Plan`) holds B's tensor and replaces
A's in a forward (pre-)hook installed with the Plan's other hooks (removed in ``finally``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..audio import Audio
from ..errors import LabError
from .spec import register

TARGET_RE = re.compile(r"encoder\.output|encoder\.layers\.\d+")
UNITS = {"whisper": "Whisper encoder frames", "ctc": "CTC frames", "classify": "encoder frames"}


def _describe_source(src) -> str:
    from ..trace import Trace

    if isinstance(src, Trace):
        return f"trace of {src.meta.get('source') or src.meta.get('audio_source') or 'clip B'}"
    if isinstance(src, Audio):
        return str(src.source)
    return str(src)


@register("patch", families=("whisper", "ctc", "classify"))
@dataclass(frozen=True)
class Patch:
    """Replace ``target``'s output in this run by the same tensor from clip ``source`` (a path,
    an :class:`lab.audio.Audio`, or a Trace of clip B) over ``[start, end)`` seconds (``None``:
    from 0 / to the end). See the module doc for targets and frames."""

    target: str
    source: object
    start: float | None = None
    end: float | None = None
    kind: str = "patch"

    def __post_init__(self):
        if not isinstance(self.target, str) or not TARGET_RE.fullmatch(self.target):
            raise LabError(f"patch: target must be encoder.output or encoder.layers.N, got {self.target!r}")
        from ..trace import Trace

        if self.source is None or not (isinstance(self.source, (str, Audio, Trace))
                                       or hasattr(self.source, "__fspath__")):
            raise LabError("patch: source must be clip B: a path, a lab.audio.Audio or a Trace of B, "
                           f"got {type(self.source).__name__}")
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise LabError(f"patch {self.target}: {name} must be seconds >= 0, got {v!r}")
            object.__setattr__(self, name, float(v))
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise LabError(f"patch {self.target}: end ({self.end:g} s) must be after start ({self.start:g} s)")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "target": self.target, "source": _describe_source(self.source),
                "start": self.start, "end": self.end}


# -- where each target lives ---------------------------------------------------------------------
@dataclass(frozen=True)
class Site:
    """The module behind a patch target: ``pre`` = replace its input (a forward-pre hook), else
    its output (a forward hook); ``what`` says which, for the record."""

    path: str
    module: torch.nn.Module
    pre: bool
    what: str


def _layer_paths(model, family: str) -> list[str]:
    from ..capture import module_at

    if family == "whisper":
        from ..whisper import names

        return [names.path("encoder.layers.{i}", i=i) for i in range(model.config.encoder_layers)]
    if family == "ctc":
        from ..ctc import names

        spec = names.spec_for(model.config)
        return [f"{stack}.{i}" for stack in spec.layers for i in range(len(module_at(model, stack)))]
    from ..classify import names

    p = names.paths_for(model)
    return [p.layer(i) for i in range(len(module_at(model, p.layers)))]


def sites(model, family: str) -> dict[str, tuple[str, bool, str]]:
    """Patch target -> (HF module path, pre?, what is replaced) for ``model``."""
    layers = {f"encoder.layers.{i}": (p, False, "forward (layer output)")
              for i, p in enumerate(_layer_paths(model, family))}
    if family == "whisper":
        from ..whisper import names

        out = {"encoder.output": (names.path("encoder.layer_norm"), False, "forward (final layer norm output)")}
    elif family == "ctc":
        from ..ctc import names

        out = {"encoder.output": (names.spec_for(model.config).head, True, "forward_pre (input of the CTC head)")}
    elif family == "classify":
        from ..classify import names

        p = names.paths_for(model)
        if p.kind == "ast":
            out = {"encoder.output": (p.parts["final_norm"], False, "forward (final layer norm tokens)")}
        else:
            head = p.parts["projector"] if p.kind == "sequence" else p.parts["classifier"]
            out = {"encoder.output": (head, True, f"forward_pre (input of the {head})")}
    else:
        raise LabError(f"patch applies to whisper / ctc / classify models, not {family}")
    out.update(layers)
    return out


def site(model, family: str, target: str) -> Site:
    """The :class:`Site` of ``target``; LabError listing the valid names."""
    from ..capture import module_at

    tab = sites(model, family)
    if target not in tab:
        n = len(tab) - 1
        raise LabError(f"{type(model).__name__} has no patch target {target!r}; valid: encoder.output, "
                       f"encoder.layers.0 .. encoder.layers.{n - 1}")
    path, pre, what = tab[target]
    return Site(path=path, module=module_at(model, path), pre=pre, what=what)


# -- clip B ----------------------------------------------------------------------------------------
def _first(x):
    return x[0] if isinstance(x, (tuple, list)) else (x[0] if hasattr(x, "to_tuple") else x)


def _frame_rate(trace, family: str) -> float | None:
    if family == "classify" and trace.meta.get("kind") == "ast":
        return None  # tokens, not frames
    axis = {"whisper": "encoder_frame", "ctc": "frame", "classify": "encoder_frame"}[family]
    return float(trace.time_bases[axis])


def _trace_tensor(trace, target: str):
    """Whisper traces keep both targets: ``encoder.output`` and ``encoder.hidden[i + 1]``."""
    if trace.family != "whisper":
        return None
    if target == "encoder.output" and "encoder.output" in trace:
        return trace["encoder.output"]
    if target.startswith("encoder.layers.") and "encoder.hidden" in trace:
        i = int(target.rsplit(".", 1)[1])
        if i + 1 < trace["encoder.hidden"].shape[0]:
            return trace["encoder.hidden"][i + 1]
    return None


def _run(family: str, audio, loaded):
    from .run import tracer

    from ..trace import CapturePolicy

    # B is run for one tensor only: keep nothing else (no attention, so sdpa models run too)
    kw = {"max_steps": 1, "word_timestamps": False} if family == "whisper" else {}
    return tracer(family)(audio, loaded, policy=CapturePolicy(names=["input.*"]), **kw)


def record_source(patch: Patch, family: str, loaded, where: Site) -> tuple[torch.Tensor, float | None, object]:
    """B's tensor at ``where`` (frame, hidden) -- batch removed --, B's frame rate (None: AST
    tokens) and B's trace. A Whisper Trace source gives its kept tensor; any other source runs B
    through the family's tracer with a recording hook on the same module."""
    from .. import capture
    from ..trace import Trace

    src = patch.source
    if isinstance(src, Trace):
        if src.family != family:
            raise LabError(f"patch: the source is a {src.family} trace; this is a {family} model")
        kept = _trace_tensor(src, patch.target)
        if kept is not None:
            return kept.detach().clone(), _frame_rate(src, family), src
        if "input.waveform" not in src:
            raise LabError("patch: the source trace keeps neither the target nor input.waveform")
        src = Audio(samples=src["input.waveform"].numpy(), sample_rate=int(src.time_bases.get("sample", 16000)),
                    source=_describe_source(src))
    elif not isinstance(src, Audio) and not Path(str(src)).is_file():
        raise LabError(f"patch: clip B not found: {src}")
    got: list[torch.Tensor] = []

    if where.pre:
        def fn(_m, args):
            if not got:
                got.append(args[0].detach())
    else:
        def fn(_m, _args, out):
            if not got:
                got.append(_first(out).detach())
    with capture.hooks(loaded.model, [(where.module, fn)], pre=where.pre):
        tr = _run(family, src, loaded)
    if not got:
        raise LabError(f"patch {patch.target}: running clip B never reached {where.path}")
    return got[0][0].clone(), _frame_rate(tr, family), tr


# -- the hook on A -------------------------------------------------------------------------------
def _ast_tokens(model, start, end) -> list[int] | None:
    """AST tokens whose patch time column starts in [start, end) s (None: all tokens)."""
    if start is None and end is None:
        return None
    from ..classify.ast import patch_grid

    c = model.config
    n_freq, n_time = patch_grid(c)
    fps = 100.0  # fbank frames per second (10 ms hop)
    t0 = c.time_stride / fps
    cols = [t for t in range(n_time) if (start or 0.0) <= t * t0 < (math.inf if end is None else end)]
    if not cols:
        raise LabError(f"patch: no AST patch column starts in {start}-{end} s (columns every {t0:g} s)")
    return [2 + f * n_time + t for f in range(n_freq) for t in cols]


@dataclass
class PatchHook:
    """One installed patch: B's tensor ``source`` (frame, hidden), replaced into A's tensor at
    ``site`` over the frames of the span (resolved on A's first call)."""

    patch: Patch
    site: Site
    family: str
    source: torch.Tensor
    fps: float | None
    tokens: list[int] | None = None  # AST spans
    calls: int = 0
    frames: list[int] | None = field(default=None)
    n_frames: int | None = None
    n_tokens: int | None = None  # AST: tokens replaced (``frames`` stays None)

    def _span(self, n_a: int) -> tuple[int, int]:
        n_b = int(self.source.shape[0])
        unit = UNITS[self.family] if self.fps is not None else "AST tokens"
        p = self.patch
        if p.start is None and p.end is None:
            if n_a != n_b:
                raise LabError(f"patch {p.target}: clip B gives {n_b} {unit}, clip A {n_a}: patch a span, "
                               "or use clips of the same length")
            return 0, n_a
        f0 = 0 if p.start is None else int(math.floor(p.start * self.fps + 1e-9))
        f1 = n_a if p.end is None else int(math.ceil(p.end * self.fps - 1e-9))
        shown = f"{p.start or 0:g}-{'end' if p.end is None else f'{p.end:g}'}"
        for who, n in (("A", n_a), ("B", n_b)):
            if f1 > n:
                raise LabError(f"patch {p.target}: the span {shown} s "
                               f"is {unit} {f0}..{f1 - 1}, but clip {who} gives only {n} "
                               f"({n / self.fps:.2f} s): both clips must cover the span")
        if f1 <= f0:
            raise LabError(f"patch {p.target}: the span covers no frame at {self.fps:g} frames/s")
        return f0, f1

    def _replace(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (batch, frame, hidden) with B's frames put in."""
        self.calls += 1
        if x.dim() != 3 or x.shape[-1] != self.source.shape[-1]:
            raise LabError(f"patch {self.patch.target}: clip A's tensor has shape {tuple(x.shape)}, "
                           f"clip B's {tuple(self.source.shape)} (frame, hidden): they do not match")
        new = x.clone()
        src = self.source.to(device=x.device, dtype=x.dtype)
        if self.fps is None:  # AST tokens
            if x.shape[1] != src.shape[0]:
                raise LabError(f"patch {self.patch.target}: clip B gives {src.shape[0]} AST tokens, "
                               f"clip A {x.shape[1]}")
            idx = list(range(x.shape[1])) if self.tokens is None else self.tokens
            new[:, idx] = src[idx]
            self.n_tokens, self.n_frames = len(idx), int(x.shape[1])
            return new
        f0, f1 = self._span(int(x.shape[1]))
        new[:, f0:f1] = src[f0:f1]
        self.frames, self.n_frames = [f0, f1], int(x.shape[1])
        return new

    def pre(self, _module, args):
        return (self._replace(args[0]),) + tuple(args[1:])

    def post(self, _module, _args, output):
        if isinstance(output, torch.Tensor):
            return self._replace(output)
        if isinstance(output, tuple):
            return (self._replace(output[0]),) + output[1:]
        if isinstance(output, list):
            return [self._replace(output[0])] + output[1:]
        if hasattr(output, "to_tuple"):  # a ModelOutput: its first field
            key = next(iter(output.keys()))
            output[key] = self._replace(output[key])
            return output
        raise LabError(f"patch {self.patch.target}: cannot replace a {type(output).__name__} output")

    def fresh(self) -> "PatchHook":
        return PatchHook(self.patch, self.site, self.family, self.source, self.fps, self.tokens)

    def record(self) -> dict:
        d = {"target": self.patch.target, "module": self.site.path, "hook": self.site.what,
             "source": _describe_source(self.patch.source), "source_frames": int(self.source.shape[0]),
             "frames": self.frames, "n_frames": self.n_frames, "frames_per_second": self.fps,
             "calls": self.calls}
        if self.frames is not None and self.fps is not None:
            d["seconds"] = [round(self.frames[0] / self.fps, 4), round(self.frames[1] / self.fps, 4)]
        if self.fps is None:
            d["tokens_replaced"] = self.n_tokens
        return d


def build(patch: Patch, model, family: str, loaded) -> PatchHook:
    """Resolve ``patch`` on ``model``: check the target, run clip B, keep its tensor."""
    where = site(model, family, patch.target)
    if loaded is None:
        raise LabError("patch: the plan needs the Loaded model to run clip B "
                       "(plan_for(model, family, interventions, loaded=loaded))")
    src, fps, _ = record_source(patch, family, loaded, where)
    tokens = None
    if fps is None:
        tokens = _ast_tokens(model, patch.start, patch.end)
    elif patch.start is not None or patch.end is not None:  # B must cover the span (A: checked when it runs)
        n_b = int(src.shape[0])
        f0 = 0 if patch.start is None else int(math.floor(patch.start * fps + 1e-9))
        f1 = n_b if patch.end is None else int(math.ceil(patch.end * fps - 1e-9))
        if f1 > n_b or f0 >= n_b:
            raise LabError(f"patch {patch.target}: the span {patch.start or 0:g}-"
                           f"{'end' if patch.end is None else f'{patch.end:g}'} s is {UNITS[family]} "
                           f"{f0}..{f1 - 1}, but clip B gives only {n_b} ({n_b / fps:.2f} s): both clips "
                           "must cover the span")
    return PatchHook(patch=patch, site=where, family=family, source=src, fps=fps, tokens=tokens)
