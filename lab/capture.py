"""The capture core every family uses: coerce the model and the audio, one lock per model,
install hooks under that lock, record attention with one hook factory and one error message.

A family brings only tables (``lab/<family>/names.py``: HF module paths + ``AXES``); this module
does the rest:

- :func:`as_loaded` ``(loaded_or_id, family) -> Loaded``: one check, one message;
- :func:`as_audio` ``(audio, sample_rate) -> Audio``: mono float32 at the model's rate;
- :func:`model_lock` ``(model) -> RLock``: one re-entrant lock per model object;
- :func:`hooks` ``(model, installs)``: a ``with`` block holding the model's lock while forward
  hooks are installed; every handle is removed in ``finally`` (also when the block raises);
- :class:`AttentionRecorder`: hooks that pull ``(batch, head, query, key)`` weights out of an
  attention module's output, record them (or hand them to a callback) and collect the layers
  whose weights came back empty; :meth:`AttentionRecorder.check` raises the one LabError.

Why the lock: apps share one cached model between requests running at once. Hooks are installed
on the shared modules, so without it a forward pass of request A fires the hooks of request B
and B records A's tensors. With it two traces on one model run one forward pass after the other
(two different models still run in parallel). The lock is re-entrant so a family may nest hook
contexts (Whisper's encoder: a pre-hook context around a forward-hook context).
"""
from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator

import torch

from .audio import Audio, load_audio
from .errors import LabError

HookFn = Callable[[torch.nn.Module, tuple, Any], Any]

# -- models --------------------------------------------------------------------------------


def as_loaded(loaded, family: str, *, load: Callable[[str | None], Any] | None = None):
    """A ``lab.models.Loaded`` of ``family`` from a Loaded, a model id or ``None`` (the family's
    default). Ids go through ``load`` (default ``lab.models.load_cached(id, family=family)``).
    LabError when ``loaded`` is neither, or a Loaded of another family."""
    if loaded is None or isinstance(loaded, str):
        if load is not None:
            return load(loaded)
        from .models import load_cached

        return load_cached(loaded, family=family)
    if not hasattr(loaded, "model") or not hasattr(loaded, "processor"):
        raise LabError(f"expected a model id or lab.models.Loaded, got {type(loaded).__name__}")
    other = getattr(loaded, "family", "")
    if other and other != family:
        raise LabError(f"{getattr(loaded, 'model_id', '?')!r} is a {other} model, not a {family} "
                       "model")
    return loaded


def as_audio(audio, sample_rate: int) -> Audio:
    """Validated mono float32 :class:`lab.audio.Audio` at ``sample_rate`` Hz from anything
    ``lab.audio.load_audio`` takes or an ``Audio`` at another rate (resampled)."""
    if isinstance(audio, Audio):
        if audio.sample_rate == sample_rate:
            return audio
        return load_audio((audio.sample_rate, audio.samples), sample_rate)
    return load_audio(audio, sample_rate)


# -- the per-model lock ----------------------------------------------------------------------
_LOCKS: "weakref.WeakKeyDictionary[torch.nn.Module, threading.RLock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: torch.nn.Module) -> threading.RLock:
    """The re-entrant lock of ``model`` (one per model object, created on first use). Hold it
    while hooks are installed on the model: :func:`hooks` does."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


# -- hooks ---------------------------------------------------------------------------------
@contextlib.contextmanager
def hooks(model: torch.nn.Module, installs: Iterable[tuple[torch.nn.Module, HookFn]],
          *, pre: bool = False, with_kwargs: bool = False) -> Iterator[None]:
    """Install forward (``pre=True``: forward-pre) hooks for the duration of a ``with`` block,
    holding :func:`model_lock` of ``model`` from before the first install until after the last
    removal. ``installs``: (module, fn) pairs. Run the forward pass inside the block."""
    with model_lock(model):
        handles = []
        try:
            for module, fn in installs:
                if pre:
                    handles.append(module.register_forward_pre_hook(fn, with_kwargs=with_kwargs))
                else:
                    handles.append(module.register_forward_hook(fn, with_kwargs=with_kwargs))
            yield
        finally:
            for h in handles:
                h.remove()


def module_at(model: torch.nn.Module, path: str) -> torch.nn.Module:
    """The submodule at dotted HF ``path``; a LabError names the path when it is missing
    (transformers renamed it: update the family's mapping table)."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        raise LabError(f"{type(model).__name__} has no module {path!r}: the family's "
                       "module table needs updating for this transformers version") from None


def count_hooks(model: torch.nn.Module) -> int:
    """Number of forward / pre-forward hooks installed anywhere in ``model``, not counting
    transformers 5's own output-capturing hooks (it installs those permanently the first time
    hidden states or attentions are requested)."""
    n = 0
    for m in model.modules():
        for h in list(m._forward_hooks.values()) + list(m._forward_pre_hooks.values()):
            n += "output_capturing_hook" not in getattr(h, "__qualname__", "")
    return n


# -- tables ------------------------------------------------------------------------------
def describe(family: str) -> list[dict]:
    """What ``family`` (whisper | ctc | tts | classify) can capture, from its tables
    (``lab/<family>/names.py``: ``AXES`` + ``META``): rows ``{name, kind, axes, doc}``."""
    import importlib

    return importlib.import_module(f"lab.{family}.names").describe()


# -- attention -----------------------------------------------------------------------------
def attention_weights(output, index: int = 1) -> torch.Tensor | None:
    """The ``(batch, head, query, key)`` weights at ``output[index]`` of an attention module's
    forward output, or ``None`` when the module returned none (non-eager attention)."""
    if isinstance(output, (tuple, list)) and len(output) > index:
        return output[index]
    return None


def empty_attention_message(model, part: str, layers) -> str:
    """The one message for attention that came back empty."""
    impl = getattr(getattr(model, "config", None), "_attn_implementation", None)
    return (f"{part} attention capture came back empty for layers {sorted(set(layers))}: the model "
            f"uses attn_implementation={impl!r}; load it with eager attention "
            "(lab.models.resolve(..., attention=True) or attn_implementation='eager')")


class AttentionRecorder:
    """Hook factory for attention modules of one model run.

    ``hook(i)`` returns a forward hook for layer ``i``: it takes the weights at output
    ``[index]``, drops the batch axis (-> ``(head, query, key)``, detached) and either records
    them into ``trace`` under ``name.format(i=i)`` with ``axes`` (heads selected by the trace's
    policy, stored at its ``attn_dtype``), or calls ``on_weights(i, w)`` when given. A layer whose
    module returned no weights is added to ``missing``; :meth:`check` raises the LabError.
    """

    def __init__(self, model, *, trace=None, name: str = "encoder.layers.{i}.attn.pattern",
                 axes: tuple[str, ...] = ("head", "query_frame", "key_frame"), index: int = 1,
                 part: str = "encoder",
                 on_weights: Callable[[int, torch.Tensor], None] | None = None):
        self.model, self.trace, self.name, self.axes = model, trace, name, tuple(axes)
        self.index, self.part, self.on_weights = index, part, on_weights
        self.missing: list[int] = []
        self.seen: list[int] = []

    def wanted(self, n_layers: int) -> list[int]:
        """Layers the trace's policy keeps (by layer index and by name)."""
        pol = self.trace.policy
        return [i for i in range(n_layers)
                if pol.keeps_layer(i) and pol.keeps(self.name.format(i=i))]

    def hook(self, i: int) -> HookFn:
        def fn(_m, _inp, out):
            w = attention_weights(out, self.index)
            if w is None:
                self.missing.append(i)
                return
            self.seen.append(i)
            w = w.detach()[0]
            if self.on_weights is not None:
                self.on_weights(i, w)
            else:
                pol = self.trace.policy
                self.trace.add(self.name.format(i=i), pol.select_heads(w, 0), self.axes,
                               attention=True)
        return fn

    def check(self) -> None:
        """LabError (:func:`empty_attention_message`) when any hooked layer came back empty."""
        if self.missing:
            raise LabError(empty_attention_message(self.model, self.part, self.missing))
