"""Training entry point: ``audiolab train NAME`` or ``python -m training.zoo.train NAME``.

Every recipe is CPU-only and seeded; it writes the shipped files under ``lab/zoo/<id>/`` (or
``--out``) plus a model card, and prints a JSON summary (metrics, steps, seconds, size).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys

RECIPES = {
    "whisper-tiny.en-ctc": "training.zoo.train_whisper_ctc",
    "tiny-speecht5-tts-en": "training.zoo.train_speecht5_tts",
    "tiny-wav2vec2-ctc-en": "training.zoo.train_wav2vec2_ctc",
    "tiny-wav2vec2-keywords": "training.zoo.train_wav2vec2_keywords",
    "tiny-wav2vec2-frames": "training.zoo.train_wav2vec2_frames",
    "tiny-ast-sounds": "training.zoo.train_ast_sounds",
}


def available() -> dict[str, str]:
    out = {}
    for name, mod in RECIPES.items():
        if importlib.util.find_spec(mod) is not None:
            out[name] = mod
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=sorted(available()), help="model id to train")
    p.add_argument("--out", default=None, help="output directory (default lab/zoo/<id>/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=int(os.environ.get("AUDIOLAB_THREADS", "1")),
                   help="torch CPU threads (default 1; the recipes are timed on 1)")
    p.add_argument("--quick", action="store_true", help="a few steps on a little data (smoke test)")


def run(args) -> dict:
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    mod = importlib.import_module(available()[args.name])
    from lab.models import ZOO_DIR

    out = args.out or str(ZOO_DIR / args.name)
    return mod.train(out, seed=args.seed, quick=args.quick)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.zoo.train", description=__doc__.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    print(json.dumps(run(args), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
