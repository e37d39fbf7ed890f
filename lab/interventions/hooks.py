"""Interventions installed as hooks, with the capture core's discipline.

:class:`Plan` resolves a list of interventions against one model (every target checked before
anything runs) and builds one hook per ablation:

- heads: a forward-pre hook on the attention's output projection: its input
  ``(batch, position, heads * head_dim)`` is viewed as ``(batch, position, head, head_dim)`` and
  the chosen heads' slices are zeroed (or set to their mean), so only those heads' contribution
  to the residual stream is removed;
- a whole part (``heads=None``): a forward hook replacing the part's output (the attention
  module's ``output[0]``, the FFN's output) with zeros (or its mean);
- a patch (:mod:`.patch`): clip B is run when the plan is made (its tensor recorded by a hook on
  the target's module), then a forward (pre-)hook on the same module of this run puts B's frames
  in (``loaded=`` gives the plan the model to run B with).

Edits of the audio (kind ``edit``) are not hooks: the tracer applies ``plan.of_kind("edit")``
to its prepared clip (:func:`lab.interventions.edit.apply_edits`).

``with plan.installed():`` holds the model's lock (:func:`lab.capture.model_lock`) while the hooks
are on and removes every handle in ``finally`` (also when the block raises). A family wraps each
forward call in it; a streaming loop that takes the lock per step wraps each step with
:meth:`Plan.stepwise`, so the lock is never held across a ``yield``. After the run
:meth:`Plan.check` raises when an intervention never ran (its module was not called), and
:meth:`Plan.record` is what goes to ``trace.meta["intervention"]``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import torch

from .. import capture
from ..errors import LabError
from .spec import FAMILIES, Ablate, ForceToken, Intervention, parse, to_json
from .targets import Target, resolve


@dataclass
class _Hook:
    """One installed ablation: where, what, and the state of its running mean."""

    ablate: Ablate
    target: Target
    calls: int = 0
    _sum: torch.Tensor | None = field(default=None, repr=False)
    _count: int = 0

    def _mean_fill(self, x: torch.Tensor) -> torch.Tensor:
        """Running mean over every position seen so far in this run (``x``: (batch, position,
        ...)), including this pass's."""
        flat = x.detach().reshape(-1, *x.shape[2:]).to(torch.float64)
        s = flat.sum(0)
        self._sum = s if self._sum is None else self._sum + s
        self._count += flat.shape[0]
        return (self._sum / self._count).to(x.dtype)

    def pre(self, _module, args):
        """Forward-pre hook on the output projection: cut the chosen heads."""
        self.calls += 1
        heads = list(self.ablate.heads)
        if not heads:
            return None
        x = args[0]
        H = self.target.n_heads
        view = x.reshape(*x.shape[:-1], H, x.shape[-1] // H).clone()  # (batch, position, head, head_dim)
        if self.ablate.mode == "zero":
            view[..., heads, :] = 0
        else:
            view[..., heads, :] = self._mean_fill(view[..., heads, :])
        return (view.reshape(x.shape),) + tuple(args[1:])

    def post(self, _module, _args, output):
        """Forward hook on the part: replace its whole output."""
        self.calls += 1
        first = output[0] if isinstance(output, (tuple, list)) else output
        new = torch.zeros_like(first) if self.ablate.mode == "zero" else \
            self._mean_fill(first).expand_as(first).clone()
        if isinstance(output, tuple):
            return (new,) + output[1:]
        if isinstance(output, list):
            return [new] + output[1:]
        return new


class Plan:
    """The interventions of one run on one model (``family``: whisper | ctc | classify | tts).

    ``plan._hooks``: the resolved ablation hooks; ``plan.force``: ``{step: token_id}`` (Whisper);
    ``plan.others``: every other kind, in order, for the family's tracer to apply
    (:meth:`of_kind`). Empty interventions give a plan whose contexts do nothing.
    """

    def __init__(self, model, family: str, interventions=None, *, loaded=None):
        from .patch import Patch, build

        self.model, self.family, self.loaded = model, family, loaded
        self.interventions: list[Intervention] = parse(interventions)
        self.force: dict[int, int] = {}
        self._hooks: list[_Hook] = []
        self._patches: list = []  # lab.interventions.patch.PatchHook: clip B already run
        self.others: list = []
        for iv in self.interventions:
            fams = FAMILIES.get(iv.kind)
            if fams is not None and family not in fams:
                raise LabError(f"{iv.kind} applies to {' / '.join(fams)} models; this is a {family} model")
            if isinstance(iv, ForceToken):
                if iv.step in self.force:
                    raise LabError(f"force_token: step {iv.step} is forced twice")
                self.force[iv.step] = iv.token_id
            elif isinstance(iv, Ablate):
                self._hooks.append(_Hook(iv, resolve(model, family, iv.target, heads=iv.heads)))
            elif isinstance(iv, Patch):
                self._patches.append(build(iv, model, family, loaded))
            else:
                self.others.append(iv)
        vocab = getattr(getattr(model, "config", None), "vocab_size", None)
        for s, t in self.force.items():
            if vocab is not None and not 0 <= t < int(vocab):
                raise LabError(f"force_token: token id {t} at step {s} is outside the vocabulary "
                               f"(0..{int(vocab) - 1})")

    def of_kind(self, kind: str) -> list:
        """The interventions of ``kind`` that are not hooks (``edit``, ``patch``, TTS knobs, ...)."""
        return [iv for iv in self.others if iv.kind == kind]

    def __bool__(self) -> bool:
        return bool(self.interventions)

    @property
    def has_hooks(self) -> bool:
        return bool(self._hooks or self._patches)

    def fresh(self) -> "Plan":
        """The same interventions with new state (running means restart): for a second pass
        over the same input, such as a beam search after the greedy decode. Patches keep clip B's
        tensors (B is not run again)."""
        from .patch import Patch

        new = Plan(self.model, self.family, [iv for iv in self.interventions if not isinstance(iv, Patch)])
        new.interventions, new.loaded = list(self.interventions), self.loaded
        new._patches = [p.fresh() for p in self._patches]
        return new

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Hooks on for the ``with`` block, under the model's lock; removed in ``finally``."""
        if not self.has_hooks:
            yield
            return
        pre = [(h.target.out_proj, h.pre) for h in self._hooks if h.ablate.heads is not None]
        post = [(h.target.module, h.post) for h in self._hooks if h.ablate.heads is None]
        pre += [(p.site.module, p.pre) for p in self._patches if p.site.pre]
        post += [(p.site.module, p.post) for p in self._patches if not p.site.pre]
        with capture.hooks(self.model, pre, pre=True), capture.hooks(self.model, post):
            yield

    def stepwise(self, steps: Iterable) -> Iterator:
        """Drive a streaming loop (a generator taking the model's lock per step) with the hooks on
        around each step only: each ``next()`` runs inside :meth:`installed`, each ``yield`` of
        this generator outside it (never holding the lock while the caller has control)."""
        it = iter(steps)
        if not self.has_hooks:
            yield from it
            return
        while True:
            with self.installed():
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    def check(self) -> None:
        """LabError naming every ablation whose module never ran."""
        idle = [h.ablate.target for h in self._hooks if h.calls == 0]
        idle += [p.patch.target for p in self._patches if p.calls == 0]
        if idle:
            raise LabError(f"intervention(s) on {idle} never ran: the module was not called in "
                           "this run (a decoder part with no decoder pass?)")

    def check_force(self, n_steps: int) -> None:
        """LabError when a forced step lies beyond the ``n_steps`` the run decoded (it stopped
        before reaching it: force an earlier step)."""
        late = sorted(s for s in self.force if s >= n_steps)
        if late:
            raise LabError(f"force_token at step {late[0]}: the run stopped after {n_steps} steps "
                           f"(steps 0..{n_steps - 1} can be forced)")

    def record(self) -> dict:
        """JSON-able record of what was changed (``trace.meta["intervention"]``)."""
        out = {"interventions": to_json(self.interventions), "ablations": []}
        for h in self._hooks:
            t = h.target
            out["ablations"].append({
                "target": h.ablate.target, "mode": h.ablate.mode,
                "heads": None if h.ablate.heads is None else list(h.ablate.heads),
                "n_heads": t.n_heads, "module": t.module_path,
                "hooked": t.out_proj_path if h.ablate.heads is not None else t.module_path,
                "hook": "forward_pre (output projection input)" if h.ablate.heads is not None
                        else "forward (part output)",
                "calls": h.calls})
        if self.force:
            out["force"] = {str(s): t for s, t in sorted(self.force.items())}
        if self._patches:
            out["patches"] = [p.record() for p in self._patches]
        edits = self.of_kind("edit")
        if edits:
            out["edited_seconds"] = [[e.start, e.end] for e in edits]
        return out


def plan_for(model, family: str, interventions, *, loaded=None) -> Plan:
    """A :class:`Plan` (an empty one for ``None`` / ``[]``). ``loaded``: the ``Loaded`` the
    family runs (needed by ``patch``, which runs clip B through the family's tracer first)."""
    if isinstance(interventions, Plan):
        return interventions
    return Plan(model, family, interventions, loaded=loaded)
