"""``audiolab``: list models, trace a clip or a text, launch the app.

``audiolab models``; ``audiolab trace FAMILY ... --json``; ``audiolab app``.
Each family's ``trace`` sub-command lives in ``lab/<family>/cli.py`` and exposes
``add_arguments(parser)`` and ``run(args) -> dict`` (the JSON object printed).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from .errors import LabError

TRACE_FAMILIES = {
    "whisper": "lab.whisper.cli",
    "ctc": "lab.ctc.cli",
    "tts": "lab.tts.cli",
    "classify": "lab.classify.cli",
}


def _available_families() -> dict[str, object]:
    out = {}
    for fam, mod in TRACE_FAMILIES.items():
        try:
            out[fam] = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("lab."):
                continue  # family not built yet
            raise
    return out


def _cmd_models(args) -> int:
    from .models import list_models

    rows = list_models()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    w = max(len(r["id"]) for r in rows)
    print(f"{'id':<{w}}  {'family':<8}  {'here':<4}  where")
    for r in rows:
        print(f"{r['id']:<{w}}  {r['family']:<8}  {'yes' if r['available'] else 'no':<4}  {r['where']}")
    return 0


def _cmd_app(args) -> int:
    from apps.main import launch

    launch(server_name=args.host, server_port=args.port, share=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="audiolab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="known model ids, family, availability here")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=_cmd_models)
    a = sub.add_parser("app", help="launch the Gradio lab")
    a.add_argument("--host", default=os.environ.get("AUDIOLAB_HOST", "127.0.0.1"))
    a.add_argument("--port", type=int, default=int(os.environ.get("AUDIOLAB_PORT", "7860")))
    a.set_defaults(func=_cmd_app)
    tr = sub.add_parser("train", help="train a zoo model (training/zoo, from a checkout with the "
                        "[train] extra): CPU, seeded, writes lab/zoo/<id>/")
    zoo_train = _training()
    if isinstance(zoo_train, str):
        tr.add_argument("args", nargs=argparse.REMAINDER)
        tr.set_defaults(func=lambda args, why=zoo_train: _no_training(why))
    else:
        zoo_train.add_arguments(tr)
        tr.set_defaults(func=lambda args: _run_train(zoo_train, args))
    t = sub.add_parser("trace", help="trace one input through a model")
    tsub = t.add_subparsers(dest="family", required=True)
    for fam, mod in _available_families().items():
        fp = tsub.add_parser(fam, help=(mod.__doc__ or fam).strip().splitlines()[0])
        mod.add_arguments(fp)
        fp.add_argument("--json", action="store_true", help="print one JSON object")
        fp.set_defaults(func=lambda args, mod=mod: _run_trace(mod, args))
    return p


def _training():
    """``training.zoo.train`` (the recipes live beside ``lab/`` in a checkout, not in the wheel), or
    why it does not import."""
    try:
        return importlib.import_module("training.zoo.train")
    except ModuleNotFoundError as exc:
        if exc.name not in ("training", "training.zoo", "training.zoo.train"):
            return f"a training dependency is missing ({exc})"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # an editable install
    if os.path.isfile(os.path.join(root, "training", "zoo", "train.py")):
        sys.path.insert(0, root)
        try:
            return importlib.import_module("training.zoo.train")
        except ModuleNotFoundError as exc:
            return f"a training dependency is missing ({exc})"
    return "the training recipes are not installed"


def _run_train(zoo_train, args) -> int:
    try:
        result = zoo_train.run(args)
    except ModuleNotFoundError as exc:  # wordfreq, scikit-learn: the [train] extra
        return _no_training(f"a training dependency is missing ({exc})")
    print(json.dumps(result, indent=1, default=str))
    return 0


def _no_training(why: str) -> int:
    print(f"audiolab: error: {why}. `audiolab train` runs from a checkout of the lab: "
          'install from a checkout with the [train] extra (pip install -e ".[train]")', file=sys.stderr)
    return 2


def _run_trace(mod, args) -> int:
    result = mod.run(args)
    if args.json:
        print(json.dumps(result, default=str))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LabError as exc:
        print(f"audiolab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
