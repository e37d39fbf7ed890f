"""``audiolab corpus run CORPUS --model ID [--model ID2 ...] --out STORE [--workers N]
[--ray-address ADDR]``: trace every clip with every model into STORE (summary Parquet + traces).
Exit code 0 when every clip succeeded, 1 when some failed (recorded with their error)."""
from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="corpus_command", required=True)
    r = sub.add_parser("run", help="trace a corpus (an audiofolder directory) into a store")
    r.add_argument("corpus", help="directory of audio files (+ metadata.csv: file_name,transcription)")
    r.add_argument("--model", action="append", required=True, help="model id (repeat for more)")
    r.add_argument("--out", required=True, metavar="STORE", help="store directory (created; resumed)")
    r.add_argument("--workers", type=int, default=1, help="worker processes / Ray actors (default 1)")
    r.add_argument("--ray-address", default=None,
                   help="run on Ray Data: 'local' (start one here), 'auto', or ray://HOST:PORT")
    r.add_argument("--num-gpus", type=float, default=0, help="GPUs per Ray actor (GPU nodes)")
    r.add_argument("--limit", type=int, default=None, help="only the first N clips")
    r.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from ..cli import out_dir
    from ..models import locate
    from .engine import run_corpus

    for m in args.model:
        locate(m)  # an unknown id fails before any work
    out_dir(args.out)
    res = run_corpus(args.corpus, args.model, args.out, workers=args.workers,
                     ray_address=args.ray_address, num_gpus=args.num_gpus, limit=args.limit,
                     progress=not args.no_progress)
    print(json.dumps({"store": str(res.store.path), "done": res.done, "failed": res.failed,
                      "skipped": res.skipped, "errors": res.errors[:20]}, indent=1))
    if res.failed:
        print(f"audiolab: {res.failed} clip(s) failed; recorded in the table's error column",
              file=sys.stderr)
    return res.exit_code
