"""``make bench``: run every ``benchmarks/bench_*.py`` (each prints ratios against the
uninstrumented model on the same input in the same run). ``run.py whisper --quick``: only
the files whose name holds "whisper"; flags such as ``--quick`` (skip the slowest rows) are left
in ``sys.argv`` for the benchmarks."""
import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    files = sorted(here.glob("bench_*.py"))
    names = [a for a in argv if not a.startswith("-")]  # flags (--quick) are read by the benchmarks
    if names:
        files = [f for f in files if any(a in f.stem for a in names)]
    for f in files:
        print(f"\n=== {f.stem} ===", flush=True)
        spec = importlib.util.spec_from_file_location(f.stem, f)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mod.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
