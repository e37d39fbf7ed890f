"""``audiolab``: list models, trace a clip or a text, launch the app.

``audiolab models``; ``audiolab trace FAMILY ... --json``; ``audiolab app``.
Each family's ``trace`` sub-command lives in ``lab/<family>/cli.py`` and exposes
``add_arguments(parser)`` and ``run(args) -> dict`` (the JSON object printed).

Library noise (transformers' "Loading weights" bars and log lines, huggingface_hub bars, Python
warnings raised inside transformers / torch / librosa ...) is silenced for the call by default;
the lab's own messages (``audiolab: ...`` on stderr) stay. ``audiolab --verbose ...`` keeps it all.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import warnings

from .errors import LabError

TRACE_FAMILIES = {
    "whisper": "lab.whisper.cli",
    "ctc": "lab.ctc.cli",
    "tts": "lab.tts.cli",
    "classify": "lab.classify.cli",
}


# Python warnings attributed to these packages are library noise (module regex for filterwarnings)
NOISY_MODULES = ("transformers", "torch", "torchaudio", "librosa", "huggingface_hub", "audioread",
                 "numba", "safetensors", "soundfile", "gradio", "gradio_client", "tqdm")
_NOISY_RE = r"(%s)(\..*)?$" % "|".join(NOISY_MODULES)


@contextlib.contextmanager
def library_noise(verbose: bool = False):
    """Silence library noise for the duration of a ``with`` block (one CLI call), then put the
    libraries' settings back: transformers logging at ERROR with its progress bars off,
    huggingface_hub's progress bars off, warnings from :data:`NOISY_MODULES` ignored, C audio
    decoders' own stderr lines dropped (``lab.audio.QUIET_DECODERS``).
    ``verbose=True`` changes nothing."""
    if verbose:
        yield
        return
    import transformers.utils.logging as tlog
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars

    from . import audio

    level, bars, hub_bars = tlog.get_verbosity(), tlog.is_progress_bar_enabled(), \
        not are_progress_bars_disabled()
    quiet_decoders = audio.QUIET_DECODERS
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()  # also huggingface_hub's
    audio.QUIET_DECODERS = True  # C decoders' own lines on fd 2 (mpg123 "Illegal Audio-MPEG-Header")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=_NOISY_RE)
            yield
    finally:
        audio.QUIET_DECODERS = quiet_decoders
        tlog.set_verbosity(level)
        if bars:
            tlog.enable_progress_bar()
        elif hub_bars:
            enable_progress_bars()


def out_dir(path):
    """``--out DIR`` made ready before any model runs: created if missing; a LabError (exit 2)
    when it is an existing file or cannot be created. Returns the directory as a ``Path``."""
    from pathlib import Path

    d = Path(path).expanduser()
    if d.exists() and not d.is_dir():
        raise LabError(f"--out {d} exists and is not a directory")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"--out {d}: cannot create the directory ({exc.strerror or exc})") from None
    if not os.access(d, os.W_OK):
        raise LabError(f"--out {d} is not writable")
    return d


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
    from apps.settings import Settings

    launch(Settings.from_env(public=True if args.public else None),
           server_name=args.host, server_port=args.port, share=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="audiolab", description=__doc__.splitlines()[0])
    p.add_argument("--verbose", action="store_true",
                   help="keep library output: transformers logging and progress bars, warnings")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="known model ids, family, availability here")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=_cmd_models)
    a = sub.add_parser("app", help="launch the Gradio lab")
    a.add_argument("--host", default=os.environ.get("AUDIOLAB_HOST", "127.0.0.1"))
    a.add_argument("--port", type=int, default=int(os.environ.get("AUDIOLAB_PORT", "7860")))
    a.add_argument("--public", action="store_true",
                   help="serve a class or a Space (also AUDIOLAB_PUBLIC=1): listed model ids only, "
                   "no server paths, upload/queue/time limits, errors without server paths "
                   "(README: Serving a class)")
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
    c = sub.add_parser("corpus", help="trace a whole corpus into a store (Parquet table + traces)")
    from .corpus import cli as corpus_cli

    corpus_cli.add_arguments(c)
    c.set_defaults(func=corpus_cli.run)
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
        with library_noise(args.verbose):
            return args.func(args)
    except LabError as exc:
        print(f"audiolab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
