"""The Trace: every captured tensor of one run, by a stable dotted name, with its axes.

Capture code (``lab/<family>/capture.py``) fills a Trace; drawing code (``lab/viz``) reads it.

Naming grammar (TransformerLens-like): ``<part>.<sub>.<index>.<what>``, e.g. ``input.waveform``,
``encoder.layers.2.attn.pattern``, ``decoder.step.7.cross_attn.pattern``, ``ctc.logits``.

Axes are names from a small vocabulary; frame-like axes have a rate in ``Trace.time_bases``
(frames per second), so every view can map an index on any axis to seconds:

=================  =====================================================
axis               meaning
=================  =====================================================
``sample``         audio sample (rate = sample rate)
``mel_frame``      spectrogram frame (Whisper 100/s)
``mel_bin``        mel filter index
``stem_frame``     output frame of a conv layer (rate per layer in meta)
``encoder_frame``  transformer encoder position over audio
``query_frame``    / ``key_frame``: attention over encoder frames
``layer`` ``head`` ``channel`` ``hidden`` ``vocab`` ``step`` ``top_k``
=================  =====================================================
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from .capture import HookFn, count_hooks, hooks, model_lock, module_at  # noqa: F401 (re-exported)
from .errors import LabError


@dataclass
class CapturePolicy:
    """What to keep and at which precision.

    ``names``: glob patterns of capture names to keep (``None`` = all), e.g.
    ``["encoder.layers.*.attn.pattern"]``.
    ``layers`` / ``heads``: indices kept for per-layer / per-head tensors (``None`` = all).
    ``attn_dtype``: dtype attention patterns are stored at (fp16 by default: a 30 s clip on
    whisper-base keeps 6 layers x 8 heads x 1500 x 1500 encoder attention in 216 MB).
    ``dtype``: dtype of every other floating tensor.
    """

    names: Sequence[str] | None = None
    layers: Sequence[int] | None = None
    heads: Sequence[int] | None = None
    attn_dtype: torch.dtype = torch.float16
    dtype: torch.dtype = torch.float32

    def keeps(self, name: str) -> bool:
        if self.names is None:
            return True
        return any(fnmatch.fnmatchcase(name, p) for p in self.names)

    def keeps_layer(self, layer: int) -> bool:
        return self.layers is None or layer in self.layers

    def select_heads(self, pattern: torch.Tensor, head_axis: int = 0) -> torch.Tensor:
        if self.heads is None:
            return pattern
        idx = torch.tensor(list(self.heads), device=pattern.device)
        return pattern.index_select(head_axis, idx)

    @classmethod
    def full(cls) -> "CapturePolicy":
        """Everything at float32 (tests, small inputs)."""
        return cls(attn_dtype=torch.float32)


@dataclass
class Trace:
    """Named tensors of one model run plus what is needed to read them.

    ``tensors[name]``: CPU tensor; ``axes[name]``: one axis name per dimension.
    ``time_bases[axis]``: frames per second of a frame-like axis (``sample`` included).
    ``tokens``: output tokens as strings; ``steps``: JSON-able dicts, one per decoding step.
    ``meta``: anything else JSON-able (config numbers, stop reason, text, timings ...).
    """

    family: str
    model_id: str = ""
    weights_source: str = ""
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    axes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    time_bases: dict[str, float] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    policy: CapturePolicy = field(default_factory=CapturePolicy, repr=False)

    # -- recording -------------------------------------------------------------------------
    def add(self, name: str, tensor: torch.Tensor, axes: Sequence[str], *, attention: bool = False,
            force: bool = False) -> None:
        """Record ``tensor`` under ``name`` (detached, on CPU, at the policy's dtype).

        ``axes`` must name every dimension. ``force`` records even when the policy filters the
        name out (used for small tensors other captures depend on, such as logits).
        """
        if not force and not self.policy.keeps(name):
            return
        if not isinstance(tensor, torch.Tensor):
            tensor = torch.as_tensor(tensor)
        axes = tuple(axes)
        if len(axes) != tensor.dim():
            raise ValueError(f"{name}: {len(axes)} axes {axes} for a {tensor.dim()}-D tensor")
        t = tensor.detach()
        if t.is_floating_point():
            t = t.to(self.policy.attn_dtype if attention else self.policy.dtype)
        self.tensors[name] = t.to("cpu")
        self.axes[name] = axes

    def __getitem__(self, name: str) -> torch.Tensor:
        try:
            return self.tensors[name]
        except KeyError:
            close = fnmatch.filter(self.tensors, f"*{name.split('.')[-1]}*")[:5]
            raise KeyError(f"no tensor {name!r} in this trace; similar: {close}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.tensors

    def names(self, pattern: str = "*") -> list[str]:
        return [n for n in self.tensors if fnmatch.fnmatchcase(n, pattern)]

    def require(self, pattern: str) -> list[str]:
        """Names matching ``pattern``; raises LabError if a requested capture came back empty."""
        found = self.names(pattern)
        if not found:
            raise LabError(
                f"capture {pattern!r} came back empty (attention needs attn_implementation="
                "'eager'; check the model was loaded for attention capture)"
            )
        return found

    def seconds(self, axis: str, index: float) -> float:
        """Time in seconds of position ``index`` on a frame-like ``axis``."""
        if axis not in self.time_bases:
            raise KeyError(f"axis {axis!r} has no time base; known: {sorted(self.time_bases)}")
        return float(index) / self.time_bases[axis]

    def index_at(self, axis: str, seconds: float) -> int:
        """Index on ``axis`` of the frame containing time ``seconds``."""
        return int(seconds * self.time_bases[axis])

    # -- reading ---------------------------------------------------------------------------
    def describe_rows(self) -> list[tuple[str, tuple[str, ...], tuple[int, ...], str]]:
        return [(n, self.axes[n], tuple(t.shape), str(t.dtype).replace("torch.", ""))
                for n, t in self.tensors.items()]

    def describe(self) -> str:
        """One line per tensor: name, axes, shape, dtype."""
        rows = self.describe_rows()
        w = max((len(r[0]) for r in rows), default=4)
        lines = [f"Trace[{self.family}] {self.model_id} ({self.weights_source})"]
        for name, axes, shape, dtype in rows:
            dims = ", ".join(f"{a}={s}" for a, s in zip(axes, shape))
            lines.append(f"  {name:<{w}}  ({dims})  {dtype}")
        if self.time_bases:
            tb = ", ".join(f"{k}={v:g}/s" for k, v in self.time_bases.items())
            lines.append(f"  time bases: {tb}")
        return "\n".join(lines)

    def hooks(self, model: torch.nn.Module, installs: Iterable, **kw):
        """``lab.capture.hooks(model, installs, **kw)``: hooks installed under the model's lock
        for a ``with`` block, removed in ``finally``."""
        from .capture import hooks as _hooks

        return _hooks(model, installs, **kw)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())

    # -- save / load -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``tensors.safetensors`` + ``trace.json`` into ``directory``."""
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.tensors.items()}, str(d / "tensors.safetensors"))
        (d / "trace.json").write_text(self.json_document())
        return d

    def json_document(self) -> str:
        """``trace.json``: everything but the tensors (family, model, axes, time bases, tokens,
        steps, meta), as :meth:`save` writes it and :meth:`load` reads it."""
        doc = {"family": self.family, "model_id": self.model_id,
               "weights_source": self.weights_source, "axes": self.axes,
               "time_bases": self.time_bases, "tokens": self.tokens, "steps": self.steps,
               "meta": self.meta}
        return json.dumps(doc, indent=1, default=_jsonable)

    @classmethod
    def load(cls, directory: str | Path) -> "Trace":
        from safetensors.torch import load_file

        d = Path(directory)
        doc = json.loads((d / "trace.json").read_text())
        tensors = load_file(str(d / "tensors.safetensors"))
        axes = {k: tuple(v) for k, v in doc["axes"].items()}
        return cls(family=doc["family"], model_id=doc["model_id"],
                   weights_source=doc["weights_source"],
                   tensors={k: tensors[k] for k in axes}, axes=axes,
                   time_bases=doc["time_bases"], tokens=doc["tokens"], steps=doc["steps"],
                   meta=doc["meta"])

    def save_zip(self, path: str | Path) -> Path:
        """The two files of :meth:`save` as one ``.zip`` (``lab.trace_io.save_zip``)."""
        from .trace_io import save_zip

        return save_zip(self, path)

    @classmethod
    def load_zip(cls, path: str | Path, family: str | None = None) -> "Trace":
        """The (first) trace of a ``.zip`` made by :meth:`save_zip`, the app, or a zipped
        ``Trace.save`` directory; read safely (``lab.trace_io.load_zip``)."""
        from .trace_io import load_one

        return load_one(path, family=family)


def _jsonable(x):
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, (set, tuple)):
        return list(x)
    return str(x)

