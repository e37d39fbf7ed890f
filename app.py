"""The lab as a Hugging Face Space (Gradio SDK: the front matter of README.md names this file).

Public mode is on (``AUDIOLAB_PUBLIC=1``, set before ``apps`` is imported: its settings read it
then): listed model ids only, no server paths, upload / queue / time limits, errors without
server paths (``apps/settings.py``). The hub stays off unless the Space sets
``HF_HUB_OFFLINE=0``: the offline models need no download. Gradio takes the host and port from
``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` (a Space sets them; locally
``python app.py`` serves on http://127.0.0.1:7860).

A Space installs ``requirements.txt`` before it copies the repository, so the project itself
(whose metadata registers the model families, ``audiolab.families`` entry points) is installed
here, once, without dependencies, when it is missing.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DIST, GROUP = "audio-transformer-lab", "audiolab.families"

os.environ.setdefault("AUDIOLAB_PUBLIC", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", os.environ["HF_HUB_OFFLINE"])
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def families_registered() -> bool:
    try:
        return any(ep.group == GROUP for ep in importlib.metadata.distribution(DIST).entry_points)
    except importlib.metadata.PackageNotFoundError:
        return False


def ensure_installed() -> None:
    """``pip install --no-deps`` this checkout when its metadata is not installed."""
    if families_registered():
        return
    print(f"app.py: installing {DIST} from {ROOT} (no dependencies)", flush=True)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           str(ROOT)])
    importlib.invalidate_caches()


def main():
    ensure_installed()
    sys.path.insert(0, str(ROOT))
    from apps.main import launch

    return launch()


if __name__ == "__main__":
    main()
