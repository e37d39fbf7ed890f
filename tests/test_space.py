"""The Space entry and the container files agree with the project: README front matter (what a
Hugging Face Space reads), requirements.txt == pyproject's dependencies, app.py in public mode,
the Dockerfile runs the Makefile's own set-up."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _front_matter() -> dict:
    text = (ROOT / "README.md").read_text()
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert m, "README.md starts with a YAML front matter block"
    return yaml.safe_load(m.group(1))


def test_readme_front_matter_is_a_gradio_space():
    import gradio

    fm = _front_matter()
    assert fm["sdk"] == "gradio" and fm["sdk_version"] == gradio.__version__
    assert (ROOT / fm["app_file"]).is_file() and fm["python_version"] == "3.11"
    assert len(fm["short_description"]) <= 60  # the hub's limit
    assert "# Audio transformer lab" in (ROOT / "README.md").read_text()


def _name(req: str) -> str:
    return re.split(r"[<>=!~ ;\[]", req.strip(), maxsplit=1)[0].lower()


def test_requirements_match_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("-")]
    assert "torch==2.13.0" in reqs  # the CPU pin, with the PyTorch CPU index
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert sorted(r for r in reqs if _name(r) != "torch") == \
        sorted(d.split("#")[0].strip() for d in deps if _name(d) != "torch")


def test_app_py_turns_public_mode_on_before_apps_is_imported():
    code = ("import runpy, sys; ns = runpy.run_path('app.py', run_name='space_test'); "
            "assert 'apps' not in sys.modules; assert ns['families_registered'](); "
            "from apps.settings import current; s = current(); "
            "print(s.public, s.allow_paths, s.max_file_size)")
    env = {k: v for k, v in os.environ.items() if k != "AUDIOLAB_PUBLIC"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "False", "20mb"]


def test_dockerfile_runs_the_makefile_setup():
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert lines[0].startswith("FROM python:3.11")
    assert any(ln.startswith("RUN make setup") for ln in lines)
    assert lines[-1] == 'CMD ["make", "app"]'
    text = "\n".join(lines)
    assert "AUDIOLAB_HOST=0.0.0.0" in text and "download.pytorch.org/whl/cpu" in text
    targets = {ln.split(":")[0] for ln in (ROOT / "Makefile").read_text().splitlines()
               if re.match(r"^[a-z-]+:", ln)}
    assert {"setup", "app"} <= targets
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored
