"""Zoo tests: the shipped models load offline through the resolver and meet their metric on the
committed held-out sets (``assets/heldout/``)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def heldout_speech():
    from training.zoo.heldout import load_speech

    return load_speech(ROOT / "assets" / "heldout" / "speech-en")
