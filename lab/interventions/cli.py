"""The CLI's what-if flags, shared by every family's ``audiolab trace`` command.

``--ablate TARGET[.heads=0,3][:mean]`` (repeatable), ``--what-if SPEC.json`` and, for Whisper,
``--force-token STEP=ID``. With any of them the family runs twice (unchanged, then changed); the
JSON describes the changed run and adds ``intervention`` (what was changed) and ``diff``
(:func:`lab.interventions.diff.diff` against the unchanged run)."""
from __future__ import annotations

from .spec import load, parse_ablate, parse_force


def add_arguments(p, *, force_token: bool = False) -> None:
    p.add_argument("--ablate", action="append", default=[], metavar="TARGET[.heads=0,3][:mean]",
                   help="what-if: knock out attention heads or a whole part, e.g. "
                        "encoder.layers.2.attn.heads=0,3 (repeatable; ':mean' for mean-ablation)")
    if force_token:
        p.add_argument("--force-token", action="append", default=[], metavar="STEP=ID",
                       help="what-if: take token ID at decoder step STEP, then continue greedily "
                            "(ID as the JSON's top_k lists it; repeatable)")
    p.add_argument("--what-if", default=None, metavar="SPEC.json",
                   help="what-if: interventions from a JSON file ([{kind, target, heads, mode} ...])")


def interventions(args) -> list:
    """The interventions the flags ask for (empty: a normal run)."""
    out = [parse_ablate(a) for a in getattr(args, "ablate", None) or []]
    out += [parse_force(f) for f in getattr(args, "force_token", None) or []]
    if getattr(args, "what_if", None):
        out += load(args.what_if)
    return out


def attach(result: dict, original, changed) -> dict:
    """``result`` (the changed run's JSON) + ``intervention`` and ``diff``."""
    from .diff import diff

    result["intervention"] = changed.meta.get("intervention")
    result["diff"] = diff(original, changed)
    return result
