"""Device choice: CUDA when present, else CPU."""
from __future__ import annotations

import torch


def pick_device(device: str | None = None) -> torch.device:
    """Return ``device`` if given, else ``cuda`` when available, else ``cpu``."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
