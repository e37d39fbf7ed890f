"""Build KenLM's ``lmplz`` (the n-gram estimator) from the kenlm source distribution on PyPI.

``python -m lab.ctc.kenlm_build DEST`` -- run once by ``make setup`` (DEST = ``.venv/bin/lmplz``).

Why: the lab builds an n-gram language model from text the user gives, and the honest tool for
that is KenLM's ``lmplz`` (modified Kneser-Ney, writes ARPA). The ``kenlm`` wheels on PyPI only
*query* models; the sdist carries the estimator's C++ source, which needs CMake, a C++ compiler,
Boost (program_options, system, thread, test) and zlib headers -- Debian packages listed in the
Makefile's ``SYSTEM_PACKAGES``. The build takes about half a minute on two cores.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

KENLM_VERSION = "0.3.0"


def build(dest: str | Path, version: str = KENLM_VERSION, jobs: int = 2) -> Path:
    dest = Path(dest)
    for tool in ("cmake", "make", "c++"):
        if shutil.which(tool) is None:
            raise SystemExit(f"building lmplz needs {tool!r} (Debian: cmake g++ make)")
    with tempfile.TemporaryDirectory(prefix="kenlm-build-") as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--no-binary", "kenlm", f"kenlm=={version}", "-d", str(tmp)], check=True)
        archive = next(tmp.glob("kenlm-*.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        src = next(p for p in tmp.iterdir() if p.is_dir() and p.name.startswith("kenlm-"))
        build_dir = src / "build"
        subprocess.run(["cmake", "-S", str(src), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                        "-DCOMPILE_TESTS=OFF", "-DENABLE_PYTHON=OFF"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "lmplz", "-j", str(jobs)],
                       check=True, stdout=subprocess.DEVNULL)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp_dest = dest.with_name(dest.name + ".tmp")
        shutil.copy2(build_dir / "bin" / "lmplz", tmp_dest)
        tmp_dest.replace(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m lab.ctc.kenlm_build DEST", file=sys.stderr)
        return 2
    print(f"built {build(argv[0])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
