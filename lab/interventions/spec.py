"""The intervention spec as data: a list of small dataclasses, to and from JSON.

One spec is shared by the API (``trace_whisper(..., interventions=[...])``), the CLI
(``--ablate``, ``--force-token``, ``--what-if SPEC.json``) and, later, the app. JSON form::

    [{"kind": "ablate", "target": "encoder.layers.2.attn", "heads": [0, 3], "mode": "zero"},
     {"kind": "ablate", "target": "decoder.layers.1.ffn", "mode": "mean"},
     {"kind": "force_token", "step": 4, "token_id": 7586},
     {"kind": "edit", "op": "noise", "start": 1.2, "end": 1.6, "snr_db": 5},
     {"kind": "patch", "target": "encoder.output", "source": "other.wav", "start": 1.2, "end": 1.6}]

(a bare list, or an object ``{"interventions": [...]}``). Targets are the dotted names the
captures use (``encoder.layers.2.attn`` is the module behind ``encoder.layers.2.attn.pattern``);
each family's ``names.INTERVENTION_TARGETS`` lists the targets it knows and where they live.
Kinds defined in their own modules register here with :func:`register`: ``edit``
(:mod:`.edit`, the audio) and ``patch`` (:mod:`.patch`, activations from another clip).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Union

from ..errors import LabError

MODES = ("zero", "mean")
MAX_SPEC_BYTES = 100_000


@dataclass(frozen=True)
class Ablate:
    """Knock out a part's contribution to the residual stream.

    ``target``: ``encoder.layers.{i}.attn`` | ``encoder.layers.{i}.ffn`` |
    ``decoder.layers.{i}.self_attn`` | ``decoder.layers.{i}.cross_attn`` | ``decoder.layers.{i}.ffn``
    (which exist depends on the family). ``heads``: attention heads to knock out, by index, before
    the output projection (``None``: the part's whole output; ``()``: nothing -- a no-op that still
    installs its hook). ``mode``: ``"zero"`` or ``"mean"`` (the mean over the positions of the
    run seen so far: every frame / token of an encoder pass; in a decoder, a running mean over the
    prompt and the steps decoded so far, so a step never sees the future).
    """

    target: str
    heads: tuple[int, ...] | None = None
    mode: str = "zero"
    kind: str = "ablate"

    def __post_init__(self):
        if not isinstance(self.target, str) or not re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)+", self.target):
            raise LabError(f"ablate: target must be a dotted name such as 'encoder.layers.2.attn', "
                           f"got {self.target!r}")
        if self.mode not in MODES:
            raise LabError(f"ablate {self.target}: mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.heads is not None:
            try:
                heads = tuple(int(h) for h in self.heads)
            except (TypeError, ValueError):
                raise LabError(f"ablate {self.target}: heads must be a list of integers, "
                               f"got {self.heads!r}") from None
            if any(h < 0 for h in heads) or len(set(heads)) != len(heads):
                raise LabError(f"ablate {self.target}: heads must be distinct indices >= 0, got {list(heads)}")
            object.__setattr__(self, "heads", heads)

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "target": self.target, "mode": self.mode}
        if self.heads is not None:
            d["heads"] = list(self.heads)
        return d


@dataclass(frozen=True)
class ForceToken:
    """Whisper: at decoder step ``step`` (0 = the first token after the prompt) take ``token_id``
    instead of the model's choice, then continue greedily -- exactly what ``generate()`` does given
    the prompt + the tokens before ``step`` + ``token_id`` as ``decoder_input_ids``."""

    step: int
    token_id: int
    kind: str = "force_token"

    def __post_init__(self):
        for name in ("step", "token_id"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise LabError(f"force_token: {name} must be an integer >= 0, got {v!r}")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "step": self.step, "token_id": self.token_id}


Intervention = Union[Ablate, ForceToken]  # and every kind registered below
KINDS: dict[str, type] = {"ablate": Ablate, "force_token": ForceToken}
# which families each kind applies to (None: any family that has the target)
FAMILIES: dict[str, tuple[str, ...] | None] = {"ablate": None, "force_token": ("whisper",)}


def register(kind: str, families: tuple[str, ...] | None = None):
    """Class decorator adding an intervention kind (a frozen dataclass with a ``kind`` field
    defaulting to ``kind`` and an ``as_dict()``), so JSON specs, the CLI and :class:`Plan` know it.
    ``families``: the families it applies to (None: any)."""
    def deco(cls):
        KINDS[kind] = cls
        FAMILIES[kind] = families
        return cls
    return deco


def is_intervention(x) -> bool:
    return isinstance(x, tuple(KINDS.values()))


def from_dict(d: dict) -> Intervention:
    """One intervention from its JSON object (LabError naming what is wrong)."""
    if not isinstance(d, dict):
        raise LabError(f"an intervention must be a JSON object, got {type(d).__name__}")
    kind = d.get("kind")
    if kind not in KINDS:
        raise LabError(f"unknown intervention kind {kind!r}; known: {', '.join(KINDS)}")
    cls = KINDS[kind]
    fields = {k: v for k, v in d.items() if k != "kind"}
    allowed = set(cls.__dataclass_fields__) - {"kind"}
    extra = sorted(set(fields) - allowed)
    if extra:
        raise LabError(f"{kind}: unknown field(s) {extra}; allowed: {sorted(allowed)}")
    try:
        return cls(**fields)
    except TypeError as exc:
        raise LabError(f"{kind}: {exc}") from None


def parse(obj: Any) -> list[Intervention]:
    """A list of interventions from: None, one intervention, a list of interventions or of their
    dicts, a JSON string, or ``{"interventions": [...]}``."""
    if obj is None:
        return []
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as exc:
            raise LabError(f"intervention spec is not valid JSON: {exc}") from None
    if isinstance(obj, dict) and "interventions" in obj:
        obj = obj["interventions"]
    if isinstance(obj, dict) or is_intervention(obj):
        obj = [obj]
    if not isinstance(obj, (list, tuple)):
        raise LabError(f"intervention spec must be a list, got {type(obj).__name__}")
    return [x if is_intervention(x) else from_dict(x) for x in obj]


def to_json(interventions: Iterable[Intervention]) -> list[dict]:
    """The JSON form (list of dicts) of ``interventions``."""
    return [i.as_dict() for i in interventions]


def load(path: str | Path) -> list[Intervention]:
    """Interventions from a JSON file (``--what-if SPEC.json``)."""
    p = Path(path)
    if not p.is_file():
        raise LabError(f"--what-if: no such file {p}")
    if p.stat().st_size > MAX_SPEC_BYTES:
        raise LabError(f"--what-if: {p.name} is over {MAX_SPEC_BYTES // 1000} kB")
    try:
        return parse(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise LabError(f"--what-if: {p.name} is not UTF-8 text") from None


def parse_ablate(text: str, mode: str = "zero") -> Ablate:
    """``--ablate`` value: ``TARGET`` (whole output), ``TARGET.heads=0,3`` or ``TARGET.heads=``
    (no heads: a no-op); ``:mean`` at the end selects mean mode (``encoder.layers.1.attn:mean``)."""
    text = text.strip()
    if text.endswith((":mean", ":zero")):
        text, mode = text.rsplit(":", 1)
    m = re.fullmatch(r"(.+?)\.heads=([0-9,\s]*)", text)
    if m:
        raw = [h for h in m.group(2).replace(" ", "").split(",") if h]
        return Ablate(target=m.group(1), heads=tuple(int(h) for h in raw), mode=mode)
    if "=" in text:
        raise LabError(f"--ablate {text!r}: expected TARGET or TARGET.heads=0,3 "
                       "(e.g. encoder.layers.2.attn.heads=0,3)")
    return Ablate(target=text, mode=mode)


def parse_force(text: str) -> ForceToken:
    """``--force-token`` value ``STEP=ID`` (``3=7586``)."""
    m = re.fullmatch(r"\s*(\d+)\s*=\s*(\d+)\s*", text)
    if not m:
        raise LabError(f"--force-token {text!r}: expected STEP=ID with integers, e.g. 3=7586")
    return ForceToken(step=int(m.group(1)), token_id=int(m.group(2)))


# the kinds defined in their own modules register themselves (they import ``register`` from here)
from .edit import EditAudio, parse_edit  # noqa: E402,F401
from .patch import Patch  # noqa: E402,F401
