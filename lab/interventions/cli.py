"""The CLI's what-if flags, shared by every family's ``audiolab trace`` command.

``--ablate TARGET[.heads=0,3][:mean]`` (repeatable), ``--edit OP:START-END[...]`` (repeatable:
``silence:1.2-1.6``, ``noise:1.2-1.6@5``, ``swap:1.2-1.6=OTHER.wav[@0.3]``), ``--patch
TARGET=B.wav[@START-END]`` (repeatable), ``--what-if SPEC.json`` and, for Whisper,
``--force-token STEP=ID``. With any of them the family runs twice (unchanged, then changed); the
JSON describes the changed run and adds ``intervention`` (what was changed) and ``diff``
(:func:`lab.interventions.diff.diff` against the unchanged run)."""
from __future__ import annotations

import re

from ..errors import LabError
from .spec import load, parse_ablate, parse_edit, parse_force


def add_arguments(p, *, force_token: bool = False) -> None:
    p.add_argument("--ablate", action="append", default=[], metavar="TARGET[.heads=0,3][:mean]",
                   help="what-if: knock out attention heads or a whole part, e.g. "
                        "encoder.layers.2.attn.heads=0,3 (repeatable; ':mean' for mean-ablation)")
    if force_token:
        p.add_argument("--force-token", action="append", default=[], metavar="STEP=ID",
                       help="what-if: take token ID at decoder step STEP, then continue greedily "
                            "(ID as the JSON's top_k lists it; repeatable)")
    p.add_argument("--edit", action="append", default=[], metavar="OP:START-END",
                   help="what-if: edit the audio before the run: silence:1.2-1.6, noise:1.2-1.6@5 "
                        "(white noise at 5 dB SNR), swap:1.2-1.6=OTHER.wav[@0.3] (OTHER's span from "
                        "0.3 s); seconds (repeatable)")
    p.add_argument("--patch", action="append", default=[], metavar="TARGET=B.wav[@START-END]",
                   help="what-if: replace TARGET (encoder.output or encoder.layers.N) by clip B's, "
                        "over START-END seconds (default: all frames) (repeatable)")
    p.add_argument("--what-if", default=None, metavar="SPEC.json",
                   help="what-if: interventions from a JSON file ([{kind, target, heads, mode} ...])")


def interventions(args) -> list:
    """The interventions the flags ask for (empty: a normal run)."""
    out = [parse_ablate(a) for a in getattr(args, "ablate", None) or []]
    out += [parse_force(f) for f in getattr(args, "force_token", None) or []]
    out += [parse_edit(e) for e in getattr(args, "edit", None) or []]
    out += [parse_patch(p) for p in getattr(args, "patch", None) or []]
    if getattr(args, "what_if", None):
        out += load(args.what_if)
    return out


_NUM = r"[0-9]*\.?[0-9]+"


def parse_patch(text: str):
    """``--patch`` value ``TARGET=B.wav`` or ``TARGET=B.wav@1.2-1.6``."""
    from .patch import Patch

    m = re.fullmatch(r"\s*(encoder\.[a-z0-9_.]+)=(.+)", text)
    if not m:
        raise LabError(f"--patch {text!r}: expected TARGET=B.wav[@START-END], "
                       "e.g. encoder.output=other.wav@1.2-1.6")
    target, path = m.group(1), m.group(2)
    span = re.fullmatch(rf"(.+)@({_NUM})-({_NUM})", path)
    if span:
        return Patch(target, span.group(1), float(span.group(2)), float(span.group(3)))
    return Patch(target, path)


def attach(result: dict, original, changed) -> dict:
    """``result`` (the changed run's JSON) + ``intervention`` and ``diff``."""
    from .diff import diff

    result["intervention"] = changed.meta.get("intervention")
    result["diff"] = diff(original, changed)
    return result
